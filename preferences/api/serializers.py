from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from config.api import StrictFieldsMixin
from devices.api.serializers import TimeZoneField
from preferences.selectors import EffectivePreference

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": CLOCK_TIME_PATTERN,
        "example": "22:00",
        "description": "A wall-clock time in the shopper's time zone: HH:MM (answers), HH:MM or HH:MM:SS (requests).",
    }
)
class ClockTimeField(serializers.TimeField):
    """A time of day as HH:MM, as the API has always answered it.

    A TimeField is declared `format: time`, which JSON Schema takes from RFC 3339 (`21:00:00Z`, seconds and an
    offset): the answers' "21:00" broke that (issue 17). Quiet hours have no offset (they follow the shopper's
    time zone), so the schema says what the API answers: a pattern, not `format: time`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=TIME_FORMATS, **kwargs)


@extend_schema_serializer(
    description="Quiet hours: from `start` to `end` (which may be past midnight), in the shopper's time zone. "
    "Marketing pushes wait for their end; order updates don't."
)
class QuietHoursSerializer(StrictFieldsMixin, serializers.Serializer):
    """Both directions: PreferencesSerializer.of() answers strings, requests parse into times."""

    enabled = serializers.BooleanField(required=False)
    start = ClockTimeField(required=False)
    end = ClockTimeField(required=False)


class CategoryStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    mandatory = serializers.BooleanField(help_text="Order updates and the like can't be switched off.")
    kind = serializers.ChoiceField(choices=["transactional", "marketing"])


@extend_schema_serializer(
    description="The shopper's notification preferences: each category on or off, quiet hours and their time zone."
)
class PreferencesSerializer(serializers.Serializer):
    """The answer of GET and PUT, built by of() from a selectors.EffectivePreference (defaults filled in)."""

    user_id = serializers.CharField()
    categories = serializers.DictField(child=CategoryStateSerializer())
    quiet_hours = QuietHoursSerializer()
    timezone = serializers.CharField(help_text="Empty: quiet hours follow the time zone of the shopper's devices.")

    @staticmethod
    def of(preference: EffectivePreference) -> dict[str, Any]:
        return {
            "user_id": preference.user_id,
            "categories": {
                category: {
                    "enabled": preference.wants(category),
                    "mandatory": category in settings.MANDATORY_CATEGORIES,
                    "kind": kind,
                }
                for category, kind in settings.NOTIFICATION_CATEGORIES.items()
            },
            "quiet_hours": {
                "enabled": preference.quiet_hours_enabled,
                "start": preference.quiet_hours_start.strftime("%H:%M"),
                "end": preference.quiet_hours_end.strftime("%H:%M"),
            },
            "timezone": preference.timezone,
        }


@extend_schema_serializer(description="What to change; anything left out keeps its current value.")
class PreferencesUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """PUT's body, partial by design: the view passes None for what is absent (services.update_preferences)."""

    categories = serializers.DictField(
        child=serializers.BooleanField(), required=False, help_text='Category → on/off, e.g. {"promotions": false}.'
    )
    quiet_hours = QuietHoursSerializer(required=False)
    timezone = TimeZoneField(required=False, help_text="An IANA time zone; empty: the devices' time zone.")

    def validate_categories(self, value: dict[str, bool]) -> dict[str, bool]:
        errors = {}
        for category, enabled in value.items():
            if category not in settings.NOTIFICATION_CATEGORIES:
                errors[category] = [f"Unknown category; one of {', '.join(settings.NOTIFICATION_CATEGORIES)}."]
            elif not enabled and category in settings.MANDATORY_CATEGORIES:
                errors[category] = ["This category is mandatory: order updates can't be switched off."]
        if errors:
            raise serializers.ValidationError(errors)
        return value
