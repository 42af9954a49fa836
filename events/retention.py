"""How long events are kept: their day partitions, and their idempotency keys with them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config import partitions
from events.models import Event, EventKey

DELETE_BATCH = 10_000  # keys deleted per statement


def maintain_partitions() -> dict[str, list[str]]:
    """Beat, hourly: the next days' partitions, the days past EVENT_RETENTION_DAYS dropped, their keys deleted."""
    done = partitions.maintain({Event._meta.db_table: settings.EVENT_RETENTION_DAYS})
    done["keys_deleted"] = [str(forget_old_keys())]
    return done


def forget_old_keys() -> int:
    """Idempotency keys of events past retention: a producer retrying that late gets its event stored again.

    Keys are small and only inserted, in received_at order (a BRIN index finds the old ones); deleted in batches
    so no statement holds many row locks or writes much WAL at once.
    """
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        old = EventKey.objects.filter(received_at__lt=cutoff).values_list("producer", "idempotency_key")[:DELETE_BATCH]
        count, _ = EventKey.objects.filter(pk__in=list(old)).delete()
        deleted += count
        if count < DELETE_BATCH:
            return deleted
