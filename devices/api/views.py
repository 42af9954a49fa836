"""The app's device endpoints: register/refresh, list, update, unregister its own devices."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import AppUserJWTAuthentication, ServiceApiKeyAuthentication
from accounts.permissions import IsAppUser, require_scope
from config.api import PushcartAPIView, error_responses
from devices import selectors, services
from devices.api.serializers import (
    DeviceRegistrationSerializer,
    DeviceSerializer,
    DeviceUpdateSerializer,
    RegistrationAnswerSerializer,
)
from devices.models import Device


class AppUserAPIView(PushcartAPIView):
    authentication_classes = [AppUserJWTAuthentication]
    permission_classes = [IsAppUser]


REGISTER_EXAMPLES = [
    OpenApiExample(
        "Android (FCM)",
        value={
            "platform": "android",
            "token": "fMEP0vJqS0yq3Lc1:APA91bHqL-example",
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


class DeviceListCreateView(AppUserAPIView):
    @extend_schema(
        operation_id="devices_list",
        summary="List my devices",
        description="The caller's active devices, most recently seen first.",
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
            "Idempotent on the token. A new token answers 201; a known one 200, refreshed "
            "(and reactivated if it was deactivated). A token registered before by another "
            "user moves to the caller: the phone changed hands. Call it whenever the app "
            "starts or its token changes; pass `replaces` with the old token on a token change. "
            "A web device's endpoint must be an https URL of a known push service (WEB_PUSH_ALLOWED_ORIGINS). "
            "A shopper has at most DEVICE_MAX_ACTIVE_PER_USER (default 20) active devices: one more is "
            "refused with 400 `too_many_devices`."
        ),
        request=DeviceRegistrationSerializer,
        examples=REGISTER_EXAMPLES,
        responses={
            201: RegistrationAnswerSerializer,
            200: RegistrationAnswerSerializer,
            **error_responses(400, 401, 403, 413, 429),
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
        description="Change the locale, time zone or app version of one of the caller's devices.",
        parameters=[TOKEN_PARAMETER],
        request=DeviceUpdateSerializer,
        examples=[OpenApiExample("New time zone", value={"timezone": "America/New_York"}, request_only=True)],
        responses={200: DeviceSerializer, **error_responses(400, 401, 403, 404, 413, 429)},
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
        description="The device gets no more pushes (the user signed out or turned pushes off).",
        parameters=[TOKEN_PARAMETER],
        responses={204: None, **error_responses(400, 401, 403, 404, 429)},
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
    """For business services: a user's active devices (API key with `devices:read`)."""

    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("devices:read")]

    @extend_schema(
        operation_id="users_devices_list",
        summary="List a user's devices (service)",
        description="The user's active devices, for business services and support tools.",
        responses={200: DeviceSerializer(many=True), **error_responses(400, 401, 403, 429)},
        tags=["devices"],
    )
    def get(self, request: Request, user_id: str) -> Response:
        return Response(DeviceSerializer(selectors.active_devices_of(user_id), many=True).data)
