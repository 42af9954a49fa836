"""The engine's answers to other apps' signals (connected in NotificationsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from preferences.signals import categories_switched_off
from protection.outcomes import PolicyOutcome

OPTED_OUT = "The shopper switched this category off before it was sent."


@receiver(categories_switched_off, dispatch_uid="notifications.withdraw_opted_out")
def withdraw_opted_out(sender: Any, *, user_id: str, categories: set[str], **kwargs: Any) -> tuple[int, int]:
    """Pending or scheduled notifications → suppressed (opted out); their queued or retrying deliveries cancelled.

    A delivery already in flight to the provider is not recalled. Returns (notifications, deliveries) withdrawn.
    """
    now = timezone.now()
    deliveries = Delivery.objects.filter(
        notification__user_id=user_id,
        notification__category__in=categories,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.RETRY_SCHEDULED],
    ).update(
        status=DeliveryStatus.CANCELLED,
        last_error_code="opted_out",
        last_error_text=OPTED_OUT,
        next_attempt_at=None,
        updated_at=now,
    )
    notifications = Notification.objects.filter(
        user_id=user_id,
        category__in=categories,
        status__in=[NotificationStatus.PENDING, NotificationStatus.SCHEDULED],
    ).update(
        status=NotificationStatus.SUPPRESSED,
        policy=PolicyOutcome.OPTED_OUT,
        status_reason=OPTED_OUT,
        updated_at=now,
    )
    return notifications, deliveries
