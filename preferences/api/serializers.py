from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from config.api import StrictFieldsMixin
from devices.api.serializers import TimeZoneField
from preferences.selectors import EffectivePreference

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


class QuietHoursSerializer(StrictFieldsMixin, serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    start = serializers.TimeField(format="%H:%M", input_formats=TIME_FORMATS, required=False, help_text="HH:MM")
    end = serializers.TimeField(format="%H:%M", input_formats=TIME_FORMATS, required=False, help_text="HH:MM")


class CategoryStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    mandatory = serializers.BooleanField(help_text="Order updates and the like can't be switched off.")
    kind = serializers.ChoiceField(choices=["transactional", "marketing"])


class PreferencesSerializer(serializers.Serializer):
    """What GET answers."""

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


class PreferencesUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """What PUT takes: anything left out keeps its current value."""

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
