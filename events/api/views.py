"""Business services send events here (API key with `events:write`); the trigger rules act on them later.

What API clients read is in the extend_schema; config.api_docs adds the shipped event types, auth and curl.
"""

from __future__ import annotations

from django.utils.functional import lazy
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ServiceApiKeyAuthentication
from accounts.permissions import require_scope
from config.api import PushcartAPIView, error_responses
from events.api.catalogue import event_examples, event_types_markdown
from events.api.serializers import EventBatchSerializer, EventsAcceptedSerializer, EventSerializer
from events.ingest import ingest_events

ORDER_CANCELLED = {
    "type": "order_status_changed",
    "user_id": "shopper-1",
    "idempotency_key": "order-1042-status-7",
    "occurred_at": "2026-11-26T10:15:00Z",
    "data": {"order_id": "1042", "status": "cancelled", "reason": "payment declined"},
}
CART_UPDATED = {
    "type": "cart_updated",
    "user_id": "shopper-2",
    "idempotency_key": "cart-77-rev-3",
    "data": {"cart_id": "77", "item_count": 3, "first_item": "Oat milk"},
}


DESCRIPTION = (
    'Stores one event, or a batch of up to 500 as `{"events": [...]}`, and answers 202 once they are '
    "stored; workers apply the trigger rules. A repeated `idempotency_key` from the same API key is a "
    "duplicate: answered with the first event's id and not processed again. Events of a type no rule "
    "knows are stored and marked as matching no rule.\n\n"
    "**A batch is all or nothing**: if any event is invalid the answer is 400, `errors` names each bad "
    "field as `events.<index>.<field>`, and nothing is stored; fix or drop the bad events and resend "
    "the batch (the idempotency keys make resending safe).\n\n"
    "### Event types the shipped rules understand\n\n"
    "Each rule acts on events of one type whose `data` has the fields it needs (the push's texts are "
    "made from them, in the shopper's language); an event lacking one sends nothing, or its "
    "notification fails naming the field. Marketers and Administrators edit and add rules in the admin "
    "(Events → Trigger rules), so a deployment may know more types.\n\n"
)


def _description() -> str:
    return DESCRIPTION + event_types_markdown()


class EventIngestView(PushcartAPIView):
    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("events:write")]

    @staticmethod
    def schema_examples() -> list[OpenApiExample]:
        # Built when the schema is, not at import (config.api_docs renders the shipped templates to tell what
        # data each event type needs): an event of each type the shipped rules act on.
        return [OpenApiExample(name, value=event, request_only=True) for name, event in event_examples()]

    @extend_schema(
        operation_id="events_ingest",
        summary="Send business events (service)",
        # Lazy, for the same reason as schema_examples.
        description=lazy(_description, str)(),
        request=PolymorphicProxySerializer(
            component_name="EventOrBatch",
            serializers=[EventSerializer, EventBatchSerializer],
            resource_type_field_name=None,
        ),
        examples=[
            OpenApiExample("A batch", value={"events": [ORDER_CANCELLED, CART_UPDATED]}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={
                    "accepted": 1,
                    "duplicates": 1,
                    "events": [
                        {"id": 501, "idempotency_key": "order-1042-status-7", "duplicate": False},
                        {"id": 377, "idempotency_key": "cart-77-rev-3", "duplicate": True},
                    ],
                },
                response_only=True,
                status_codes=[202],
            ),
        ],
        responses={
            202: EventsAcceptedSerializer,
            **error_responses(
                400, 401, 403, 413, 429, invalid={"events.1.idempotency_key": ["This field is required."]}
            ),
        },
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        is_batch = isinstance(request.data, dict) and "events" in request.data
        serializer = (EventBatchSerializer if is_batch else EventSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        validated = serializer.validated_data["events"] if is_batch else [serializer.validated_data]
        to_event = EventSerializer().to_event
        accepted = ingest_events([to_event(attrs) for attrs in validated], producer=request.user.pk)
        duplicates = sum(a.duplicate for a in accepted)
        return Response(
            {
                "accepted": len(accepted) - duplicates,
                "duplicates": duplicates,
                "events": [a.__dict__ for a in accepted],
            },
            status=status.HTTP_202_ACCEPTED,
        )
