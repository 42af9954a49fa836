"""Reading the delivery log where the engine's own indexes don't lead straight to the rows."""

from __future__ import annotations

from django.db.models import QuerySet

from devices.models import Device
from notifications.models import Delivery, Notification


def deliveries_to_token_prefix(prefix: str) -> QuerySet[Delivery]:
    """Deliveries to the devices whose token starts with `prefix` (Support's search).

    Deliveries are not indexed by device (an index every push would pay for, for this search only): they are found
    through the devices' shoppers' notifications (device_token_prefix, notification_user, then
    delivery_once_per_device). A token that moved to another shopper is found under its shopper now.
    """
    devices = Device.objects.filter(token__startswith=prefix)
    return Delivery.objects.filter(
        notification__in=Notification.objects.filter(user_id__in=devices.values("user_id")).values("pk"),
        device__in=devices.values("pk"),
    )
