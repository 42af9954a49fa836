from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from audience.api.serializers import validate_attributes
from config.api import JSONObjectField, StrictCharField, StrictFieldsMixin, validate_storable_json
from events.ingest import IncomingEvent

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]*$")


@extend_schema_serializer(
    description="One business event about one shopper. `type` and `data` decide what the trigger rules do "
    "(see the event types on `POST /api/v1/events/`); unknown fields are refused."
)
class EventSerializer(StrictFieldsMixin, serializers.Serializer):
    """Validates one event of the REST body or of a Kafka message (events.kafka) alike; to_event() makes it
    an IncomingEvent for events.ingest."""

    # A RegexField, so that the schema declares the pattern too.
    type = serializers.RegexField(
        EVENT_TYPE,
        max_length=64,
        error_messages={"invalid": "Lower-case letters, digits and _ . - only, starting with a letter."},
        help_text="What happened, e.g. `order_status_changed`, `cart_updated`: lower-case letters, digits and "
        "`_ . -`, starting with a letter.",
    )
    user_id = serializers.CharField(max_length=255, help_text="The shopper the event is about.")
    idempotency_key = StrictCharField(
        max_length=255, help_text="Unique per event at the producer: a repeat is answered as a duplicate."
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (ISO 8601 with a time zone); default: when received."
    )
    data = JSONObjectField(required=False, help_text="The event's fields: a JSON object.")
    attributes = JSONObjectField(
        required=False,
        validators=[validate_attributes],
        help_text="Shopper attributes this event tells (e.g. last_order_date): merged into the shopper's profile.",
    )

    def validate_data(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        validate_storable_json(value)  # before json.dumps, which recurses
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > settings.EVENT_DATA_MAX_BYTES:
            raise serializers.ValidationError(f"Is {size} bytes encoded; at most {settings.EVENT_DATA_MAX_BYTES}.")
        return value

    def to_event(self, attrs: dict[str, Any]) -> IncomingEvent:
        return IncomingEvent(
            type=attrs["type"],
            user_id=attrs["user_id"],
            idempotency_key=attrs["idempotency_key"],
            data=attrs.get("data") or {},
            occurred_at=attrs.get("occurred_at"),
            attributes=attrs.get("attributes") or {},
        )


@extend_schema_serializer(
    description="Several events at once; one bad event refuses the whole batch (its errors are named "
    "`events.<index>.<field>`)."
)
class EventBatchSerializer(StrictFieldsMixin, serializers.Serializer):
    """The batch form of the body; the view tells the two forms apart by an `events` key."""

    events = EventSerializer(
        many=True,
        allow_empty=False,
        max_length=settings.EVENT_BATCH_MAX,
        help_text=f"Up to {settings.EVENT_BATCH_MAX} events; one bad event refuses the whole batch.",
    )


class AcceptedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    idempotency_key = serializers.CharField()
    duplicate = serializers.BooleanField(help_text="Seen before from this API key: accepted, not processed again.")


class EventsAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events new to Pushcart, queued for processing.")
    duplicates = serializers.IntegerField()
    events = AcceptedEventSerializer(many=True, help_text="One per event sent, in the same order.")
