"""Rows a test writes itself, not through the engine: a notification with its content row."""

from __future__ import annotations

from typing import Any

from notifications.models import Notification, NotificationContent
from notifications.records import CONTENT_COLUMNS


def notification_row(**fields: Any) -> Notification:
    """Notification.objects.create, its content's fields (title, body…) written into its content row."""
    said = {name: fields.pop(name) for name in list(fields) if name in CONTENT_COLUMNS}
    return Notification.objects.create(content=NotificationContent.objects.create(**said), **fields)
