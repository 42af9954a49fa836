"""Small writes on notifications that the API makes for the app."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.models import Notification


def mark_opened(notification_id: int, *, user_id: str) -> datetime | None:
    """Record that the recipient opened it (the first time only); None if it isn't theirs or doesn't exist."""
    updated = Notification.objects.filter(pk=notification_id, user_id=user_id).update(
        opened_at=Coalesce(F("opened_at"), timezone.now())
    )
    if not updated:
        return None
    return Notification.objects.filter(pk=notification_id).values_list("opened_at", flat=True).first()
