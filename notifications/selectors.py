"""The delivery log's searches, each term looked up through the index that answers it.

A search that ORs conditions on different columns, one of them a subquery (`user_id = x OR source_ref = x OR id IN
(deliveries by token)`), is answered by no index: PostgreSQL read the whole notifications table (29 s at 10,000,000
deliveries). Here each reading of the term is a condition one index answers, the device tokens are looked up
first (in devices_device, by prefix) and their notifications passed as ids, so that the OR is a BitmapOr of index
scans:
  user id            notification_user
  notification id    the primary key (a number, or #number)
  source reference   notification_campaign (a campaign run's id: source_ref first) or notification_source
  token prefix       devices_device's token prefix index, then those devices' deliveries through their shoppers'
                     notifications (notification_user, delivery_notification): deliveries are not indexed by
                     device, an index every push would pay for, for this search only
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from devices.models import Device
from notifications.models import Delivery, Notification, Source

NOTIFICATION_SEARCH_HELP = (
    "A user id, a notification id (123 or #123), a source reference (an event's id, a campaign run's id), or the "
    "start of a device token (its devices' notifications, the newest first)."
)
DELIVERY_SEARCH_HELP = "The start of a device token, or a notification id (#123)."

# A short prefix can match many devices: a search looks at the first few (the newest registered first).
MAX_DEVICES = 20
OTHER_SOURCES = [s for s in Source.values if s != Source.CAMPAIGN]


def deliveries_to_token_prefix(term: str) -> QuerySet[Delivery]:
    """Deliveries to the (first MAX_DEVICES) devices whose token starts with `term`; a token that moved to another
    shopper is found under its shopper now."""
    devices = list(
        Device.objects.filter(token__startswith=term).order_by("-pk").values_list("pk", "user_id")[:MAX_DEVICES]
    )
    shoppers = Notification.objects.filter(user_id__in={user for _, user in devices}).values("pk")
    return Delivery.objects.filter(notification__in=shoppers, device_id__in=[pk for pk, _ in devices])


def _number(term: str) -> int | None:
    digits = term.removeprefix("#")
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def search_notifications(notifications: QuerySet[Notification], term: str) -> QuerySet[Notification]:
    """The notifications `term` finds, read by any of its meanings (see the module's docstring)."""
    term = term.strip()
    if not term:
        return notifications
    found = Q(user_id=term)
    number = _number(term)
    if number is not None:
        found |= Q(pk=number)
    if not term.startswith("#"):
        found |= Q(source=Source.CAMPAIGN, source_ref=term) | Q(source__in=OTHER_SOURCES, source_ref=term)
    ids = list(deliveries_to_token_prefix(term).values_list("notification_id", flat=True))
    if ids:
        found |= Q(pk__in=ids)
    return notifications.filter(found)


def search_deliveries(deliveries: QuerySet[Delivery], term: str) -> QuerySet[Delivery]:
    """A notification's deliveries (#id), or the deliveries to the devices whose token starts with `term`."""
    term = term.strip()
    if not term:
        return deliveries
    if term.startswith("#") and (number := _number(term)) is not None:
        return deliveries.filter(notification_id=number)
    return deliveries.filter(pk__in=deliveries_to_token_prefix(term).values("pk"))
