"""Campaigns' answers to the engine's signals (connected in CampaignsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from campaigns.progress import results_changed
from notifications.models import Source
from notifications.signals import notification_opened


@receiver(notification_opened, dispatch_uid="campaigns.open_moves_results")
def open_moves_results(sender: Any, *, source: str, source_ref: str, **kwargs: Any) -> None:
    """A campaign's push was opened: its open pages get the new results at the beat's next count."""
    if source == Source.CAMPAIGN:
        results_changed(source_ref)
