"""Which providers are on, built from settings. A provider that is off or has no
credentials is replaced by an UnconfiguredProvider that says why."""

from __future__ import annotations

from django.conf import settings

from providers.base import PushProvider, UnconfiguredProvider

PROVIDER_NAMES = ("fcm", "apns", "webpush")


def build_provider(name: str) -> PushProvider:
    if name not in PROVIDER_NAMES:
        raise ValueError(f"Unknown push provider {name!r}")
    if name not in settings.PUSH_PROVIDERS:
        return UnconfiguredProvider(name, f"{name} is not in PUSH_PROVIDERS ({','.join(settings.PUSH_PROVIDERS)}).")
    missing = [setting for setting in REQUIRED_SETTINGS[name] if not getattr(settings, setting)]
    if missing:
        return UnconfiguredProvider(name, f"{name} has no credentials: set {', '.join(missing)}.")
    return BUILDERS[name]()


def _fcm() -> PushProvider:
    if settings.FCM_TRANSPORT == "sdk":
        from providers.fcm_sdk import FcmSdkProvider

        return FcmSdkProvider(
            credentials_file=settings.FCM_CREDENTIALS_FILE,
            endpoint=settings.FCM_ENDPOINT,
            max_concurrency=settings.FCM_MAX_CONCURRENCY,
        )
    from providers.fcm import FcmHttpProvider

    return FcmHttpProvider(
        credentials_file=settings.FCM_CREDENTIALS_FILE,
        endpoint=settings.FCM_ENDPOINT,
        max_concurrency=settings.FCM_MAX_CONCURRENCY,
        timeout_seconds=settings.PUSH_TIMEOUT_SECONDS,
    )


def _apns() -> PushProvider:
    from providers.apns import ApnsProvider

    return ApnsProvider(
        key_file=settings.APNS_KEY_FILE,
        key_id=settings.APNS_KEY_ID,
        team_id=settings.APNS_TEAM_ID,
        topic=settings.APNS_TOPIC,
        endpoint=settings.APNS_ENDPOINT,
        ca_file=settings.APNS_CA_FILE,
        max_connections=settings.APNS_MAX_CONNECTIONS,
        max_concurrency=settings.APNS_MAX_CONCURRENCY,
        timeout_seconds=settings.PUSH_TIMEOUT_SECONDS,
    )


def _webpush() -> PushProvider:
    from providers.webpush import WebPushProvider
    from providers.webpush_endpoints import EndpointPolicy

    return WebPushProvider(
        vapid_private_key=settings.VAPID_PRIVATE_KEY,
        vapid_subject=settings.VAPID_SUBJECT,
        max_concurrency=settings.WEBPUSH_MAX_CONCURRENCY,
        timeout_seconds=settings.PUSH_TIMEOUT_SECONDS,
        endpoint_policy=EndpointPolicy.from_settings(),
        cooloff_seconds=settings.WEBPUSH_ORIGIN_COOLOFF_SECONDS,
    )


BUILDERS = {"fcm": _fcm, "apns": _apns, "webpush": _webpush}
REQUIRED_SETTINGS = {
    "fcm": ["FCM_CREDENTIALS_FILE"],
    "apns": ["APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"],
    "webpush": ["VAPID_PRIVATE_KEY", "VAPID_SUBJECT"],
}
