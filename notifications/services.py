"""Small writes on notifications that the API makes for the app."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.models import Notification
from notifications.signals import notification_opened


def mark_opened(notification_id: int, *, user_id: str) -> datetime | None:
    """Record that the recipient opened it (the first time only); None if it isn't theirs or doesn't exist."""
    updated = Notification.objects.filter(pk=notification_id, user_id=user_id).update(
        opened_at=Coalesce(F("opened_at"), timezone.now())
    )
    if not updated:
        return None
    row = Notification.objects.filter(pk=notification_id).values_list("opened_at", "source", "source_ref").first()
    if row is None:
        return None
    opened_at, source, source_ref = row
    # Campaigns show the new open rate on their open pages (campaigns.receivers: one Redis write).
    transaction.on_commit(lambda: notification_opened.send(Notification, source=source, source_ref=source_ref))
    return opened_at
