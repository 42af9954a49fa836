from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import AppUserJWTAuthentication, ServiceApiKeyAuthentication
from accounts.permissions import IsAppUser, require_scope
from config.api import PushcartAPIView, error_responses
from notifications import services
from notifications.api.serializers import (
    NotificationCreatedSerializer,
    NotificationCreateSerializer,
    OpenedSerializer,
)
from notifications.engine import submit
from notifications.models import Source
from providers.payloads import NOTIFICATION_ID_KEY


class NotificationCreateView(PushcartAPIView):
    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("notifications:write")]

    @extend_schema(
        operation_id="notifications_send",
        summary="Send a notification (service)",
        description=(
            "Queues one notification per user and answers 202 at once; workers send it to each of the "
            "user's active devices. A user without an active device gets a notification marked `no_device`. "
            "With `idempotency_key`, a repeat answers as the first call did and sends nothing."
        ),
        request=NotificationCreateSerializer,
        examples=[
            OpenApiExample(
                "Order delayed",
                value={
                    "user_id": "shopper-1",
                    "title": "Your order is running late",
                    "body": "Order 1042 will arrive between 15:00 and 16:00.",
                    "category": "order_updates",
                    "deep_link": "shop://orders/1042",
                    "data": {"order_id": "1042"},
                    "idempotency_key": "order-1042-delayed-1",
                },
                request_only=True,
            ),
            OpenApiExample("Accepted", value={"notification_ids": [101], "status": "pending"}, response_only=True),
        ],
        responses={202: NotificationCreatedSerializer, **error_responses(400, 401, 403, 413, 429)},
        tags=["notifications"],
    )
    def post(self, request: Request) -> Response:
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = data.get("idempotency_key")
        created = submit(
            user_ids=data["recipients"],
            content=data["content"],
            source=Source.API,
            source_ref=f"api-key:{request.user.key_id}",
            send_at=data.get("send_at"),
            idempotency=(request.user.pk, key) if key else None,
        )
        return Response(created.as_answer(), status=status.HTTP_202_ACCEPTED)


class NotificationOpenedView(PushcartAPIView):
    authentication_classes = [AppUserJWTAuthentication]
    permission_classes = [IsAppUser]

    @extend_schema(
        operation_id="notifications_opened",
        summary="Report a push opened (app)",
        description=(
            "Call it when the shopper opens (taps) a push. Every push carries its notification's id as the string "
            f"`{NOTIFICATION_ID_KEY}`:\n\n"
            f'- **Android (FCM)**: in the message\'s `data` (`remoteMessage.data["{NOTIFICATION_ID_KEY}"]`, or the '
            "extras of the intent that opens the app from the notification).\n"
            f'- **iOS (APNs)**: a custom key of the payload beside `aps` (`userInfo["{NOTIFICATION_ID_KEY}"]`).\n'
            f"- **Web Push**: in the `data` object of the JSON the service worker receives "
            f"(`event.data.json().data.{NOTIFICATION_ID_KEY}`); pass it on to the notification to read it in "
            "`notificationclick`.\n\n"
            "The app calls, with the shopper's JWT:\n\n"
            "```sh\n"
            "curl -X POST http://127.0.0.1:8000/api/v1/notifications/$NOTIFICATION_ID/opened/ \\\n"
            '  -H "Authorization: Bearer $JWT"\n'
            "```\n\n"
            "Only the recipient can mark it (anyone else: 404); repeating the call changes nothing (the first "
            "time is kept). Opens feed a campaign's open rate and A/B results."
        ),
        request=None,
        examples=[
            OpenApiExample("Opened", value={"id": 101, "opened_at": "2026-11-30T09:15:02.123456Z"}, response_only=True),
        ],
        responses={200: OpenedSerializer, **error_responses(401, 404, 429)},
        tags=["notifications"],
    )
    def post(self, request: Request, notification_id: int) -> Response:
        opened_at = services.mark_opened(notification_id, user_id=request.user.id)
        if opened_at is None:
            raise Http404
        return Response({"id": notification_id, "opened_at": opened_at})
