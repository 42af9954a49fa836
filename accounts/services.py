"""Writes of the accounts app."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from accounts.models import ServiceApiKey, validate_scopes


def create_api_key(*, name: str, scopes: list[str], expiry_date: datetime | None = None) -> tuple[ServiceApiKey, str]:
    """Create a key for a business service; returns it and the plain key, which is never stored."""
    if not scopes:
        raise ValidationError("A key needs at least one scope.")
    validate_scopes(scopes)
    return ServiceApiKey.objects.create_key(name=name, scopes=sorted(set(scopes)), expiry_date=expiry_date)
