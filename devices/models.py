from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from config.limits import MAX_USER_ID_LENGTH

MAX_TOKEN_LENGTH = 2048  # a Web Push endpoint URL is the longest kind of token


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", "Web"


class Provider(models.TextChoices):
    FCM = "fcm", "Firebase Cloud Messaging"
    APNS = "apns", "Apple Push Notification service"
    WEBPUSH = "webpush", "Web Push"


# The provider a platform's tokens go to unless the app says otherwise
# (an iOS app may register an FCM token instead of an APNs one).
DEFAULT_PROVIDER = {"android": Provider.FCM, "ios": Provider.APNS, "web": Provider.WEBPUSH}
ALLOWED_PROVIDERS = {
    "android": {Provider.FCM},
    "ios": {Provider.APNS, Provider.FCM},
    "web": {Provider.WEBPUSH},
}


class DeactivationReason(models.TextChoices):
    PROVIDER_UNREGISTERED = "provider_unregistered", "Unregistered by the push provider"
    APP_UNREGISTERED = "app_unregistered", "Unregistered by the app"
    STALE = "stale", "Stale (not refreshed)"
    REPLACED = "replaced", "Replaced by a newer token"
    STAFF = "staff", "Deactivated by staff in the admin"


class Device(models.Model):
    """One push token of one shopper's app installation (or browser)."""

    user_id = models.CharField(max_length=MAX_USER_ID_LENGTH, db_index=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    token = models.CharField(max_length=MAX_TOKEN_LENGTH, unique=True)
    app_id = models.CharField(max_length=255, blank=True, default="")
    locale = models.CharField(max_length=35, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    app_version = models.CharField(max_length=32, blank=True, default="")
    # Web Push subscription keys (the endpoint is the token).
    web_push_p256dh = models.CharField(max_length=255, blank=True, default="")
    web_push_auth = models.CharField(max_length=64, blank=True, default="")

    created_at = models.DateTimeField(db_default=Now())
    last_seen_at = models.DateTimeField(db_default=Now(), help_text="When the app last registered or refreshed it.")
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.CharField(max_length=32, choices=DeactivationReason.choices, blank=True, default="")
    # Campaign test sends go only to devices marked so by an Administrator (issue 17, item 9): a marketer can't
    # push a promotion past shopper protection to any shopper they name. db_default: raw INSERTs (bench) omit it.
    is_test_device = models.BooleanField(
        "test device",
        default=False,
        db_default=False,
        help_text="Campaign test sends may go to this device (set by an Administrator; a shopper's is never one).",
    )

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [
            # Support searches tokens by prefix; LIKE 'abc%' needs a pattern index.
            models.Index(fields=["token"], name="device_token_prefix", opclasses=["varchar_pattern_ops"]),
            # The stale sweep: active devices by last refresh.
            models.Index(fields=["last_seen_at"], name="device_active_last_seen", condition=models.Q(is_active=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(platform__in=Platform.values), name="device_platform_known"),
            models.CheckConstraint(condition=models.Q(provider__in=Provider.values), name="device_provider_known"),
            models.CheckConstraint(
                condition=models.Q(is_active=True, deactivated_at__isnull=True)
                | models.Q(is_active=False, deactivated_at__isnull=False),
                name="device_deactivation_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.token[:12]}… of {self.user_id}"
