"""Small writes on notifications that the API makes for the app."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.models import Notification, Source


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
    if source == Source.CAMPAIGN:
        # The campaign's open admin pages show the new open rate: one Redis write here, the counting is the beat's.
        from campaigns.progress import results_changed

        transaction.on_commit(lambda: results_changed(source_ref))
    return opened_at
