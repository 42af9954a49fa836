from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from config.api import StrictCharField, StrictFieldsMixin, validate_storable_json
from notifications.records import Content
from providers.base import MAX_TTL_SECONDS, Priority
from providers.payloads import PayloadTooLargeError, check_size

MAX_AUDIENCE = 1000


class StringValueField(serializers.CharField):
    # A string, and only a string: FCM refuses other data values, so saying so here beats failing later.

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return super().to_internal_value(data)


@extend_schema_serializer(
    description=(
        "A notification to send. Rules across fields (each refused with 400 naming the field):\n\n"
        "- Exactly one of `user_id` and `user_ids` (a non-empty list).\n"
        "- `send_at` may not lie in the past (beyond a small tolerance for clock skew).\n"
        "- The push built from `title`, `body`, `image`, `deep_link` and `data` must fit the providers' payload "
        "limit (about 4 KB); if not, `body` is named.\n"
        "- Unknown fields are refused."
    )
)
class NotificationCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """`validate` leaves `recipients` (a list) and `content` (notifications.records.Content), which is
    size-checked as every provider will encode it, for create_notifications."""

    user_id = serializers.CharField(max_length=255, required=False, help_text="One recipient…")
    user_ids = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=MAX_AUDIENCE,
        help_text=f"…or up to {MAX_AUDIENCE} recipients.",
    )
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=1000)
    image = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    deep_link = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    data = serializers.DictField(
        child=StringValueField(allow_blank=True), required=False, help_text="String values only (as FCM requires)."
    )
    category = serializers.ChoiceField(choices=sorted(settings.NOTIFICATION_CATEGORIES))
    priority = serializers.ChoiceField(choices=[p.value for p in Priority], default="high")
    ttl_seconds = serializers.IntegerField(min_value=0, max_value=MAX_TTL_SECONDS, default=24 * 3600)
    collapse_key = serializers.CharField(max_length=64, required=False, allow_blank=True)
    send_at = serializers.DateTimeField(required=False, help_text="Send later (ISO 8601 with a time zone).")
    idempotency_key = StrictCharField(
        max_length=255, required=False, help_text="A repeated key returns the first answer and sends nothing twice."
    )

    def validate_data(self, value: dict[str, str]) -> dict[str, str]:
        # The values are CharFields (which refuse NUL and lone surrogates), the keys are not.
        return validate_storable_json(value)

    def validate_send_at(self, value: Any) -> Any:
        tolerance = timedelta(seconds=settings.SEND_AT_PAST_TOLERANCE_SECONDS)
        if value < timezone.now() - tolerance:
            raise serializers.ValidationError(f"send_at is more than {tolerance} in the past.")
        if value > timezone.now() + timedelta(days=settings.SCHEDULE_AHEAD_MAX_DAYS):
            raise serializers.ValidationError(f"send_at is more than {settings.SCHEDULE_AHEAD_MAX_DAYS} days ahead.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_one, has_many = "user_id" in attrs, "user_ids" in attrs
        if has_one == has_many:
            raise serializers.ValidationError({"user_ids": ["Give either user_id or user_ids."]})
        if has_many and not attrs["user_ids"]:
            raise serializers.ValidationError({"user_ids": ["The audience is empty."]})
        attrs["recipients"] = [attrs.pop("user_id")] if has_one else attrs.pop("user_ids")
        attrs["content"] = Content(
            title=attrs["title"],
            body=attrs["body"],
            category=attrs["category"],
            image=attrs.get("image", ""),
            deep_link=attrs.get("deep_link", ""),
            data=attrs.get("data", {}),
            priority=attrs["priority"],
            ttl_seconds=attrs["ttl_seconds"],
            collapse_key=attrs.get("collapse_key", ""),
        )
        try:
            check_size(attrs["content"].push_message())
        except PayloadTooLargeError as exc:
            raise serializers.ValidationError({"body": [str(exc)]}) from None
        return attrs


class NotificationCreatedSerializer(serializers.Serializer):
    notification_ids = serializers.ListField(child=serializers.IntegerField())
    status = serializers.ChoiceField(choices=["pending", "scheduled"])


class OpenedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    opened_at = serializers.DateTimeField(help_text="When it was first reported opened.")
