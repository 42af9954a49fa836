"""What happened to a notification and to each of its deliveries, in words a person reads.

The delivery log's list rows and Support's shopper timeline both say it; the words are written here only, from
what the engine stored (statuses, the provider's code and text, the shopper-protection reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils.translation import get_language_info

from devices.models import Device, Provider
from notifications.localization import pick_translation
from notifications.models import OPEN_DELIVERY_STATUSES, Delivery, DeliveryStatus, Notification, NotificationStatus
from notifications.records import apns_id

# The providers' answers that mean "this app installation is gone" (FCM, APNs, Web Push). Other token_invalid
# answers (a malformed token, another sender's token) are named by their code.
UNREGISTERED_CODES = frozenset({"UNREGISTERED", "Unregistered", "410", "404"})


def _delivery_counts(prefix: str) -> dict[str, Any]:
    """The counts by outcome and one failure's words, over deliveries reached through `prefix` ("" or
    "deliveries__")."""
    status = f"{prefix}status"
    return {
        "total": Count(f"{prefix}id"),
        "delivered": Count(f"{prefix}id", filter=Q(**{status: DeliveryStatus.DELIVERED})),
        "failed": Count(f"{prefix}id", filter=Q(**{status: DeliveryStatus.FAILED})),
        "removed": Count(f"{prefix}id", filter=Q(**{status: DeliveryStatus.TOKEN_INVALID})),
        "in_flight": Count(f"{prefix}id", filter=Q(**{f"{status}__in": OPEN_DELIVERY_STATUSES})),
        "failure_text": Max(f"{prefix}last_error_text", filter=Q(**{status: DeliveryStatus.FAILED})),
        "failure_code": Max(f"{prefix}last_error_code", filter=Q(**{status: DeliveryStatus.FAILED})),
        "removed_code": Max(f"{prefix}last_error_code", filter=Q(**{status: DeliveryStatus.TOKEN_INVALID})),
    }


def with_delivery_counts(notifications: QuerySet[Notification]) -> QuerySet[Notification]:
    """Each notification with its deliveries counted by outcome, and one failure's words: one grouped query.

    For a bounded set of notifications (one shopper's recent ones): over a whole table, PostgreSQL would group
    every notification with its deliveries before a LIMIT; a page of a long list uses count_deliveries instead.
    """
    return notifications.annotate(**_delivery_counts("deliveries__"))


def count_deliveries(notifications: Iterable[Notification]) -> None:
    """Sets on each notification what with_delivery_counts annotates, counted for these rows only: one query
    grouping their deliveries (delivery_notification, notification first)."""
    rows = list(notifications)
    if not rows:
        return
    counted = {
        c.pop("notification_id"): c
        for c in Delivery.objects.filter(notification_id__in=[n.pk for n in rows])
        .order_by()
        .values("notification_id")
        .annotate(**_delivery_counts(""))
    }
    empty = {"total": 0, "delivered": 0, "failed": 0, "removed": 0, "in_flight": 0}
    for notification in rows:
        for name, value in counted.get(notification.pk, empty).items():
            setattr(notification, name, value)
        for name in ("failure_text", "failure_code", "removed_code"):
            if not hasattr(notification, name):
                setattr(notification, name, None)


def token_words(code: str) -> str:
    if code in UNREGISTERED_CODES:
        return "token unregistered"
    return f"token rejected ({code})" if code else "token rejected"


def _devices(count: int, total: int) -> str:
    """'its device', 'both devices', 'all 3 devices' when count is all of them; else '1 device', '2 devices'."""
    if count == total:
        return {1: "its device", 2: "both devices"}.get(total, f"all {total} devices")
    return "1 device" if count == 1 else f"{count} devices"


def notification_outcome(notification: Notification) -> str:
    """What happened, for a notification annotated by with_delivery_counts.

    Held back, cancelled or failed before sending: the reason stored with it. Sent: what its deliveries say, so
    that a push no device got never reads as if it went out.
    """
    total = getattr(notification, "total", 0)
    if notification.status != NotificationStatus.SENDING or not total:
        return notification.status_reason
    delivered, failed, removed = notification.delivered, notification.failed, notification.removed
    in_flight = notification.in_flight
    cancelled = total - delivered - failed - removed - in_flight
    failure = notification.failure_text or notification.failure_code or "no reason given"
    if delivered == total:
        return f"Delivered to {_devices(total, total)}."
    if removed == total:
        device = "its device was removed" if total == 1 else f"{_devices(total, total)} removed"
        return f"Not delivered: {device} ({token_words(notification.removed_code)})."
    if failed == total:
        return f"Failed on {_devices(total, total)}: {failure}"
    parts = []
    if delivered:
        parts.append(f"delivered to {delivered} of {total} devices")
    if in_flight:
        parts.append(f"{_devices(in_flight, total)} still being sent")
    if failed:
        parts.append(f"failed on {_devices(failed, total)}: {failure}")
    if removed:
        parts.append(f"{_devices(removed, total)} removed ({token_words(notification.removed_code)})")
    if cancelled:
        parts.append(f"{_devices(cancelled, total)} cancelled before sending")
    text = "; ".join(parts)
    if not delivered and not in_flight:
        return f"Not delivered: {text}."
    return f"{text[0].upper()}{text[1:]}."


def notification_state(notification: Notification) -> str:
    """The status in a word or two; a sent notification's says whether it reached anyone."""
    total = getattr(notification, "total", 0)
    if notification.status != NotificationStatus.SENDING or not total:
        return notification.get_status_display()
    if notification.in_flight:
        return "Sending"
    if notification.delivered == total:
        return "Delivered"
    return "Partly delivered" if notification.delivered else "Not delivered"


def device_label(device: Device) -> str:
    """A device as Support tells it apart: platform, the start of its token, its app version."""
    token = device.token if len(device.token) <= 16 else f"{device.token[:16]}…"
    app = f", app {device.app_version}" if device.app_version else ""
    return f"{device.get_platform_display()} {token}{app}"


def language_name(code: str) -> str:
    try:
        return str(get_language_info(code)["name"])
    except KeyError:
        return code


def sent_language(notification: Notification, locale: str, default_locale: str) -> str:
    """The language of the texts a device with this locale was sent.

    Deliveries don't record it: it is derived as the sender chose it (localization.pick_translation on the
    device's locale; no translation: the default texts, in the template's default language). A device whose
    locale changed since is judged by its locale now.
    """
    translations: Mapping[str, Any] = notification.content.translations or {}
    picked = pick_translation(translations, locale)
    if picked is not None:
        code = next(key for key, texts in translations.items() if texts is picked)
        return language_name(code)
    return language_name(default_locale) if default_locale else "its default texts"


def provider_reference(delivery: Delivery) -> str:
    """The delivered message's id at its provider, as its logs name it (only what can't be derived is stored)."""
    if delivery.status != DeliveryStatus.DELIVERED:
        return ""
    if delivery.provider == Provider.APNS and not delivery.provider_message_id:
        return f"apns-id {apns_id(delivery.pk).upper()}"
    if delivery.provider == Provider.FCM:
        return f"FCM message {delivery.provider_message_id}"
    return delivery.provider_message_id


def delivery_outcome(delivery: Delivery, *, language: str) -> str:
    """One delivery's outcome: 'delivered to Android abc… in German', 'token unregistered: device removed'."""
    device = device_label(delivery.device)
    text = delivery.last_error_text or delivery.last_error_code
    match delivery.status:
        case DeliveryStatus.DELIVERED:
            return f"delivered to {device} in {language}"
        case DeliveryStatus.TOKEN_INVALID:
            return f"{token_words(delivery.last_error_code)}: device removed ({device})"
        case DeliveryStatus.FAILED:
            return f"failed on {device} after {_attempts(delivery.attempts)}: {text or 'no reason given'}"
        case DeliveryStatus.RETRY_SCHEDULED:
            when = f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC" if delivery.next_attempt_at else "soon"
            return f"not delivered yet to {device}: {text or 'no answer'}; next try {when}"
        case DeliveryStatus.CANCELLED:
            return f"cancelled before it reached {device}"
        case _:
            return f"being sent to {device}"


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
