"""Reads of the device registry."""

from __future__ import annotations

from django.db.models import QuerySet

from devices.models import Device
from devices.token_cache import DeviceTarget, tokens_for_users

__all__ = ["DeviceTarget", "active_device_of", "active_devices_of", "tokens_for_users"]


def active_devices_of(user_id: str) -> QuerySet[Device]:
    return Device.objects.filter(user_id=user_id, is_active=True).order_by("-last_seen_at")


def active_device_of(user_id: str, token: str) -> Device:
    """One of the user's active devices; Device.DoesNotExist for any other token."""
    return Device.objects.get(user_id=user_id, token=token, is_active=True)
