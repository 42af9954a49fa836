from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


def validate_scopes(value: list[str]) -> None:
    unknown = sorted(set(value) - set(settings.API_KEY_SCOPES))
    if unknown:
        raise ValidationError(
            "Unknown scope(s): %(unknown)s. Known scopes: %(known)s.",
            params={"unknown": ", ".join(unknown), "known": ", ".join(sorted(settings.API_KEY_SCOPES))},
        )


class ServiceApiKey(AbstractAPIKey):
    """An API key of a business service (orders, carts, catalogue, marketing tools).

    The key itself is shown once when created; only its SHA-512 hash is stored
    (by djangorestframework-api-key). What the key may do is its `scopes`.
    """

    scopes = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        validators=[validate_scopes],
        help_text="What the key may do, e.g. events:write, notifications:write, devices:read.",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "service API key"
        verbose_name_plural = "service API keys"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
