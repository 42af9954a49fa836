"""Changes to the device registry. Every change keeps the Redis token cache in step."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from devices.models import DEFAULT_PROVIDER, DeactivationReason, Device
from devices.token_cache import refresh_users_after_commit

# Fields of a device that the app may set when registering or updating it.
PROFILE_FIELDS = ("app_id", "locale", "timezone", "app_version", "web_push_p256dh", "web_push_auth")
UPDATABLE_FIELDS = ("locale", "timezone", "app_version")
STALE_BATCH_SIZE = 1000


class Registration(enum.StrEnum):
    CREATED = "created"  # a token never seen before
    REFRESHED = "refreshed"  # the caller's active token, seen again
    REACTIVATED = "reactivated"  # the caller's token, deactivated before
    MOVED = "moved"  # a token registered before by another user (the phone changed hands)


class TooManyDevicesError(Exception):
    """The user has DEVICE_MAX_ACTIVE_PER_USER active devices already; nothing was written."""


@dataclass(frozen=True)
class RegistrationResult:
    device: Device
    registration: Registration
    replaced: bool


def register_device(
    *,
    user_id: str,
    platform: str,
    token: str,
    provider: str | None = None,
    replaces: str | None = None,
    **profile: str,
) -> RegistrationResult:
    """Register a push token for a user, or refresh it; idempotent on the token."""
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown device fields: {sorted(unknown)}")
    fields = {"user_id": user_id, "platform": platform, "provider": provider or DEFAULT_PROVIDER[platform], **profile}
    now = timezone.now()
    with transaction.atomic():
        _check_device_cap(user_id, token, replaces)
        device, created = _lock_or_create(token, fields)
        previous_user = None
        if created:
            registration = Registration.CREATED
        else:
            previous_user = device.user_id
            if device.user_id != user_id:
                registration = Registration.MOVED
                # The mark was given to the previous account's device: campaign tests must not follow the token
                # to a shopper's account (issue 17, item 9). An Administrator marks it again if it is still ours.
                device.is_test_device = False
            elif device.is_active:
                registration = Registration.REFRESHED
            else:
                registration = Registration.REACTIVATED
            for field, value in fields.items():
                setattr(device, field, value)
            device.last_seen_at = now
            device.is_active = True
            device.deactivated_at = None
            device.deactivation_reason = ""
            device.save()

        replaced = False
        if replaces and replaces != token:
            replaced = (
                Device.objects.filter(user_id=user_id, token=replaces, is_active=True).update(
                    is_active=False, deactivated_at=now, deactivation_reason=DeactivationReason.REPLACED
                )
                > 0
            )
        refresh_users_after_commit({user_id, previous_user} - {None})
    if created:
        device.refresh_from_db()  # database defaults (created_at, last_seen_at)
    return RegistrationResult(device=device, registration=registration, replaced=replaced)


def _check_device_cap(user_id: str, token: str, replaces: str | None) -> None:
    """Refuse a device beyond the user's cap (issue 17: one shopper registering endless endpoints).

    Refreshing one of the user's active devices always passes; a `replaces` of theirs frees its place.
    """
    # One registration per user at a time from here to the commit, so that concurrent ones can't pass the
    # cap together (a transaction-scoped advisory lock: nothing to clean up).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"pushcart:devices:{user_id}"])
    active = set(Device.objects.filter(user_id=user_id, is_active=True).values_list("token", flat=True))
    if token in active:
        return
    cap = settings.DEVICE_MAX_ACTIVE_PER_USER
    if len(active - {replaces}) >= cap:
        raise TooManyDevicesError(
            f"This account already has {cap} active devices, the most allowed: unregister one "
            "(DELETE /api/v1/devices/<token>/) or name the one this device replaces in `replaces`."
        )


def _lock_or_create(token: str, fields: dict[str, str]) -> tuple[Device, bool]:
    device = Device.objects.select_for_update().filter(token=token).first()
    if device is not None:
        return device, False
    try:
        with transaction.atomic():
            return Device.objects.create(token=token, **fields), True
    except IntegrityError:
        # A concurrent request registered the same token between our read and insert.
        return Device.objects.select_for_update().get(token=token), False


def update_device(*, user_id: str, token: str, **changes: str) -> Device:
    """Update the profile of one of the user's active devices (Device.DoesNotExist otherwise)."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"Fields that can't be updated: {sorted(unknown)}")
    with transaction.atomic():
        device = Device.objects.select_for_update().get(user_id=user_id, token=token, is_active=True)
        for field, value in changes.items():
            setattr(device, field, value)
        device.last_seen_at = timezone.now()
        device.save(update_fields=[*changes, "last_seen_at"])
        refresh_users_after_commit([user_id])
    return device


def unregister_device(*, user_id: str, token: str) -> None:
    """The app unregisters one of the user's active devices (Device.DoesNotExist otherwise)."""
    with transaction.atomic():
        updated = Device.objects.filter(user_id=user_id, token=token, is_active=True).update(
            is_active=False, deactivated_at=timezone.now(), deactivation_reason=DeactivationReason.APP_UNREGISTERED
        )
        if not updated:
            raise Device.DoesNotExist
        refresh_users_after_commit([user_id])


def deactivate_tokens(tokens: Iterable[str], reason: str = DeactivationReason.PROVIDER_UNREGISTERED) -> int:
    """Deactivate tokens that a push provider reported as unregistered (404/410).

    Called by the sending path with a batch of tokens; one query finds them,
    one updates them, and their users' cached tokens are rewritten at commit.
    """
    tokens = list(set(tokens))
    if not tokens:
        return 0
    with transaction.atomic():
        devices = Device.objects.select_for_update().filter(token__in=tokens, is_active=True)
        affected = dict(devices.values_list("pk", "user_id"))
        Device.objects.filter(pk__in=list(affected)).update(
            is_active=False, deactivated_at=timezone.now(), deactivation_reason=reason
        )
        refresh_users_after_commit(affected.values())
    return len(affected)


def deactivate_stale_devices(*, now: datetime | None = None, stale_after_days: int | None = None) -> int:
    """Deactivate active devices not refreshed within the configured period; returns how many."""
    now = now or timezone.now()
    days = settings.DEVICE_STALE_AFTER_DAYS if stale_after_days is None else stale_after_days
    cutoff = now - timedelta(days=days)
    total = 0
    # Batches keep each transaction and each cache refresh small on a big table.
    while True:
        with transaction.atomic():
            batch = dict(
                Device.objects.select_for_update(skip_locked=True)
                .filter(is_active=True, last_seen_at__lt=cutoff)
                .order_by("last_seen_at")
                .values_list("pk", "user_id")[:STALE_BATCH_SIZE]
            )
            if not batch:
                return total
            Device.objects.filter(pk__in=list(batch)).update(
                is_active=False, deactivated_at=now, deactivation_reason=DeactivationReason.STALE
            )
            refresh_users_after_commit(batch.values())
        total += len(batch)
