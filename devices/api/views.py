"""The device endpoints: the app registers, lists, updates and unregisters its shopper's own devices; services
read a shopper's devices. What API clients read is in each extend_schema (config.api_docs adds auth and curl).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import AppUserJWTAuthentication, ServiceApiKeyAuthentication
from accounts.permissions import IsAppUser, require_scope
from config.api import PushcartAPIView, error_responses
from config.api_docs import EXAMPLE_TOKEN
from devices import selectors, services
from devices.api.serializers import (
    DeviceRegistrationSerializer,
    DeviceSerializer,
    DeviceUpdateSerializer,
    RegistrationAnswerSerializer,
)
from devices.models import Device


class AppUserAPIView(PushcartAPIView):
    # The app's endpoints: the caller is the shopper a JWT names (request.user.id).
    authentication_classes = [AppUserJWTAuthentication]
    permission_classes = [IsAppUser]


REGISTER_EXAMPLES = [
    OpenApiExample(
        "Android (FCM)",
        value={
            "platform": "android",
            "token": EXAMPLE_TOKEN,
            "app_id": "shop.grocery.app",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "app_version": "4.12.0",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Web Push subscription",
        value={
            "platform": "web",
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "web_push": {
                "endpoint": "https://fcm.googleapis.com/fcm/send/abc123",
                "keys": {
                    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                    "auth": "tBHItJI5svbpez7KI4CCXg",
                },
            },
        },
        request_only=True,
    ),
]
DEVICE = {
    "token": EXAMPLE_TOKEN,
    "platform": "android",
    "provider": "fcm",
    "app_id": "shop.grocery.app",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "app_version": "4.12.0",
    "created_at": "2026-11-30T09:00:00.000000Z",
    "last_seen_at": "2026-11-30T09:00:00.000000Z",
}
REGISTERED_EXAMPLES = [
    OpenApiExample(
        "Registered (a new token)",
        value={"device": DEVICE, "registration": "created", "replaced": False},
        response_only=True,
        status_codes=[201],
    ),
    OpenApiExample(
        "Refreshed (a known token)",
        value={
            "device": {**DEVICE, "last_seen_at": "2026-12-01T18:30:00.000000Z"},
            "registration": "refreshed",
            "replaced": False,
        },
        response_only=True,
        status_codes=[200],
    ),
]


class DeviceListCreateView(AppUserAPIView):
    @extend_schema(
        operation_id="devices_list",
        summary="List my devices",
        description="The shopper's active devices, most recently seen first.",
        examples=[OpenApiExample("One Android phone", value=DEVICE, response_only=True)],
        responses={200: DeviceSerializer(many=True), **error_responses(401, 403, 429)},
        tags=["devices"],
    )
    def get(self, request: Request) -> Response:
        devices = selectors.active_devices_of(request.user.id)
        return Response(DeviceSerializer(devices, many=True).data)

    @extend_schema(
        operation_id="devices_register",
        summary="Register or refresh a push token",
        description=(
            "Call it whenever the app starts or its push token changes; it is idempotent on the token. A new "
            "token answers 201; a known one 200, refreshed (and reactivated if it had been turned off). A token "
            "registered before by another shopper moves to the caller: the phone changed hands. On a token "
            "change, pass the old token as `replaces`. A web device sends its PushSubscription as `web_push`; "
            "its endpoint must be an https URL of a known push service (the deployment's "
            "`WEB_PUSH_ALLOWED_ORIGINS`). A shopper has at most 20 active devices by default "
            "(`DEVICE_MAX_ACTIVE_PER_USER`): one more is refused with 400 `too_many_devices`."
        ),
        request=DeviceRegistrationSerializer,
        examples=[*REGISTER_EXAMPLES, *REGISTERED_EXAMPLES],
        responses={
            201: RegistrationAnswerSerializer,
            200: RegistrationAnswerSerializer,
            **error_responses(400, 401, 403, 413, 429, invalid={"token": ["This field is required."]}),
        },
        tags=["devices"],
    )
    def post(self, request: Request) -> Response:
        serializer = DeviceRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = services.register_device(user_id=request.user.id, **serializer.validated_data)
        except services.TooManyDevicesError as exc:
            return Response(
                {"detail": str(exc), "code": "too_many_devices", "errors": {"token": [str(exc)]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        answer = RegistrationAnswerSerializer(
            {"device": result.device, "registration": result.registration.value, "replaced": result.replaced}
        )
        created = result.registration is services.Registration.CREATED
        return Response(answer.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


TOKEN_PARAMETER = OpenApiParameter(
    "token", str, OpenApiParameter.PATH, description="The device's token (URL-encoded for web endpoints)."
)


class DeviceDetailView(AppUserAPIView):
    @extend_schema(
        operation_id="devices_update",
        summary="Update my device",
        description=(
            "Change the locale, time zone or app version of one of the shopper's devices (send at least one). "
            "Another shopper's token, or an unknown one, answers 404."
        ),
        parameters=[TOKEN_PARAMETER],
        request=DeviceUpdateSerializer,
        examples=[
            OpenApiExample("New time zone", value={"timezone": "America/New_York"}, request_only=True),
            OpenApiExample("Updated", value={**DEVICE, "timezone": "America/New_York"}, response_only=True),
        ],
        responses={
            200: DeviceSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                413,
                429,
                invalid={"timezone": ["'Europe/Atlantis' is not an IANA time zone such as 'Europe/London'."]},
            ),
        },
        tags=["devices"],
    )
    def patch(self, request: Request, token: str) -> Response:
        serializer = DeviceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            device = services.update_device(user_id=request.user.id, token=token, **serializer.validated_data)
        except Device.DoesNotExist:
            return _not_found()
        return Response(DeviceSerializer(device).data)

    @extend_schema(
        operation_id="devices_unregister",
        summary="Unregister my device",
        description=(
            "The device gets no more pushes: call it when the shopper signs out or turns pushes off. Answers 204 "
            "with no body; another shopper's token, or an unknown one, answers 404."
        ),
        parameters=[TOKEN_PARAMETER],
        responses={
            204: None,
            **error_responses(400, 401, 403, 404, 429, invalid={"token": ["Contains %00 (NUL) or a lone surrogate."]}),
        },
        tags=["devices"],
    )
    def delete(self, request: Request, token: str) -> Response:
        try:
            services.unregister_device(user_id=request.user.id, token=token)
        except Device.DoesNotExist:
            return _not_found()
        return Response(status=status.HTTP_204_NO_CONTENT)


def _not_found() -> Response:
    # The same answer whether the token is unknown or another user's: nothing leaks.
    return Response({"detail": "No such device of yours.", "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)


class UserDevicesView(PushcartAPIView):
    """Any shopper's devices, for API keys with the `devices:read` scope (support tools, the order service)."""

    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("devices:read")]

    @extend_schema(
        operation_id="users_devices_list",
        summary="List a user's devices (service)",
        description=("The shopper's active devices, most recently seen first (an empty list for a shopper with none)."),
        examples=[OpenApiExample("One Android phone", value=DEVICE, response_only=True)],
        responses={
            200: DeviceSerializer(many=True),
            **error_responses(400, 401, 403, 429, invalid={"user_id": ["Is 300 characters long; at most 255."]}),
        },
        tags=["devices"],
    )
    def get(self, request: Request, user_id: str) -> Response:
        return Response(DeviceSerializer(selectors.active_devices_of(user_id), many=True).data)
