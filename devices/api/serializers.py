from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from config.api import StrictCharField, StrictFieldsMixin
from devices import validation
from devices.models import ALLOWED_PROVIDERS, MAX_TOKEN_LENGTH, Device, Platform, Provider
from providers.webpush_endpoints import EndpointPolicy


def _django_validator(func):  # type: ignore[no-untyped-def]
    """Let DRF fields use the validators in devices.validation (which raise Django's error)."""

    def validate(value: str) -> str:
        try:
            return func(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    return validate


class LocaleField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=35, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        return _django_validator(validation.normalize_locale)(value) if value else value


class TimeZoneField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=64, allow_blank=True, validators=[_django_validator(validation.validate_time_zone)], **kwargs
        )


class AppVersionField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=32, allow_blank=True, validators=[_django_validator(validation.validate_app_version)], **kwargs
        )


@extend_schema_serializer(
    description="The subscription's keys, base64url: `p256dh` a 65-byte P-256 point, `auth` 16 bytes."
)
class WebPushKeysSerializer(StrictFieldsMixin, serializers.Serializer):
    """Checks each key's encoding and decoded length (devices.validation), so encryption can't fail later."""

    p256dh = serializers.CharField(max_length=128)
    auth = serializers.CharField(max_length=64)

    def validate_p256dh(self, value: str) -> str:
        return _django_validator(lambda v: validation.validate_web_push_key(v, decoded_length=65, name="p256dh"))(value)

    def validate_auth(self, value: str) -> str:
        return _django_validator(lambda v: validation.validate_web_push_key(v, decoded_length=16, name="auth"))(value)


@extend_schema_serializer(description="The browser's PushSubscription, as `subscription.toJSON()` gives it.")
class WebPushSubscriptionSerializer(StrictFieldsMixin, serializers.Serializer):
    """Keeps `expirationTime` only to accept toJSON()'s output as it is; the endpoint is checked against SSRF."""

    endpoint = serializers.URLField(max_length=MAX_TOKEN_LENGTH)
    keys = WebPushKeysSerializer()
    expirationTime = serializers.IntegerField(required=False, allow_null=True)  # noqa: N815 (browser's name)

    def validate_endpoint(self, value: str) -> str:
        # https, a known push service, no userinfo, no internal address: Pushcart POSTs to it (issue 17, SSRF).
        problem = EndpointPolicy.from_settings().problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


@extend_schema_serializer(
    description=(
        "A device to register. Rules across fields (each refused with 400 naming the field):\n\n"
        "- `platform` `android` or `ios`: `token` is required, `web_push` is refused.\n"
        "- `platform` `web`: `web_push` is required; `token` may be left out, and if sent must equal "
        "`web_push.endpoint`.\n"
        "- `provider` must suit the platform: android → fcm; ios → apns or fcm; web → webpush.\n"
        "- Unknown fields are refused."
    )
)
class DeviceRegistrationSerializer(StrictFieldsMixin, serializers.Serializer):
    """`validate` turns a web subscription into the device's token (its endpoint) and its two keys, as
    services.register_device takes them, and checks native tokens; the cross-field rules are in the schema."""

    platform = serializers.ChoiceField(choices=Platform.choices)
    token = serializers.CharField(
        max_length=MAX_TOKEN_LENGTH,
        required=False,
        help_text="The FCM or APNs token. Web devices may omit it: their token is the subscription endpoint.",
    )
    provider = serializers.ChoiceField(
        choices=Provider.choices,
        required=False,
        help_text="Defaults by platform: android→fcm, ios→apns, web→webpush. An iOS app using FCM says fcm.",
    )
    app_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    locale = LocaleField(required=False)
    timezone = TimeZoneField(required=False)
    app_version = AppVersionField(required=False)
    web_push = WebPushSubscriptionSerializer(required=False, help_text="Web devices only: the PushSubscription.")
    replaces = StrictCharField(
        max_length=MAX_TOKEN_LENGTH,
        required=False,
        help_text="An older token of this installation that this one replaces; it is deactivated.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        platform = attrs["platform"]
        provider = attrs.get("provider")
        if provider and provider not in ALLOWED_PROVIDERS[platform]:
            raise serializers.ValidationError({"provider": [f"{platform} devices can't use {provider}."]})
        subscription = attrs.pop("web_push", None)
        if platform == Platform.WEB:
            if subscription is None:
                raise serializers.ValidationError({"web_push": ["Web devices must send their push subscription."]})
            endpoint = subscription["endpoint"]
            if attrs.setdefault("token", endpoint) != endpoint:
                raise serializers.ValidationError({"token": ["A web device's token is its subscription endpoint."]})
            attrs["web_push_p256dh"] = subscription["keys"]["p256dh"]
            attrs["web_push_auth"] = subscription["keys"]["auth"]
        else:
            if subscription is not None:
                raise serializers.ValidationError({"web_push": ["Only web devices have a push subscription."]})
            if "token" not in attrs:
                raise serializers.ValidationError({"token": ["This field is required."]})
            try:
                validation.validate_native_token(attrs["token"])
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"token": exc.messages}) from None
        return attrs


@extend_schema_serializer(
    description="What to change on a device: at least one of `locale`, `timezone`, `app_version`; "
    "unknown fields are refused."
)
class DeviceUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """The fields services.update_device may change; an empty body is refused rather than a no-op."""

    locale = LocaleField(required=False)
    timezone = TimeZoneField(required=False)
    app_version = AppVersionField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send at least one of: locale, timezone, app_version."]}
            )
        return attrs


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = [
            "token",
            "platform",
            "provider",
            "app_id",
            "locale",
            "timezone",
            "app_version",
            "created_at",
            "last_seen_at",
        ]
        read_only_fields = fields


class RegistrationAnswerSerializer(serializers.Serializer):
    device = DeviceSerializer()
    registration = serializers.ChoiceField(
        choices=["created", "refreshed", "reactivated", "moved"],
        help_text="created (201): a new token; otherwise (200) a known token refreshed, reactivated, "
        "or moved to the caller from another user.",
    )
    replaced = serializers.BooleanField(help_text="Whether `replaces` named one of the caller's devices.")
