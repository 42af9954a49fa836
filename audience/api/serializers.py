from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from audience.conditions import ATTRIBUTE_NAME
from config.api import JSONObjectField, StrictFieldsMixin, validate_storable_json


def validate_attributes(value: Any) -> dict[str, Any]:
    """A JSON object of named values, within the size limit; shared by the attributes API and events."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    bad = [name for name in value if not ATTRIBUTE_NAME.match(name)]
    if bad:
        raise serializers.ValidationError(f"{bad[0]!r} is not an attribute name (letters, digits, _).")
    validate_storable_json(value)  # before json.dumps, which recurses
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > settings.ATTRIBUTES_MAX_BYTES:
        raise serializers.ValidationError(f"Is {size} bytes encoded; at most {settings.ATTRIBUTES_MAX_BYTES}.")
    return value


@extend_schema_serializer(description="The shopper's attributes, replacing those stored; unknown fields are refused.")
class AttributesSerializer(StrictFieldsMixin, serializers.Serializer):
    """The PUT body; validate_attributes is shared with events' `attributes`, which are merged instead."""

    attributes = JSONObjectField(
        validators=[validate_attributes],
        help_text="Everything known of the shopper, replacing what was there: city, favourite categories…",
    )


class ProfileSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    attributes = JSONObjectField()
    updated_at = serializers.DateTimeField()
