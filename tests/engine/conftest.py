"""The delivery engine in-process: Celery tasks run eagerly at commit, against the real
PostgreSQL, Redis and simulator. (tests/engine/test_worker.py runs real worker processes.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from devices.services import register_device
from notifications import delivery, dispatch
from notifications.models import OPEN_DELIVERY_STATUSES, Delivery, DeliveryStatus
from tests.providers.conftest import browser_subscription


@pytest.fixture
def engine(settings, provider_settings, sim):  # type: ignore[no-untyped-def]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 0.05
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 0.4
    settings.DELIVERY_MAX_ATTEMPTS = 4
    yield sim
    app.conf.task_always_eager = False


@pytest.fixture
def shopper(sim) -> Callable[..., list[str]]:  # type: ignore[no-untyped-def]
    """Register devices for a user; tokens get a per-test suffix so simulator state can't leak between tests."""

    def make(user_id: str, *tokens: str, web: str | None = None) -> list[str]:
        made = []
        for token in tokens:
            platform = "ios" if token.startswith("ios") or "-ios" in token else "android"
            register_device(user_id=user_id, platform=platform, token=token)
            made.append(token)
        if web:
            p256dh, auth = browser_subscription()
            endpoint = f"{sim.base_url}/wp/{web}"
            register_device(user_id=user_id, platform="web", token=endpoint, web_push_p256dh=p256dh, web_push_auth=auth)
            made.append(endpoint)
        return made

    return make


def web_device(sim, user_id: str, name: str) -> tuple[str, ec.EllipticCurvePrivateKey]:  # type: ignore[no-untyped-def]
    """Register a browser's subscription for a user: its subscription id at the simulator, and the browser's key
    (to read what it received: tests.providers.conftest.opened_webpush)."""
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh, auth = browser_subscription(key)
    register_device(
        user_id=user_id, platform="web", token=f"{sim.base_url}/wp/{name}", web_push_p256dh=p256dh, web_push_auth=auth
    )
    return name, key


def run_until_settled(rounds: int = 20) -> list[float]:
    """Drive the periodic dispatcher in-process until no delivery is open; returns each retry's wait (seconds).

    Instead of sleeping until a retry is due, the clock moves on for it: its next_attempt_at is set to now once
    the wait it was given is noted, so tests can check the waits (Retry-After, backoff) without taking them.
    """
    waits: list[float] = []
    for _ in range(rounds):
        dispatch.dispatch_due_retries()  # tasks run eagerly: what is due is settled when this returns
        if not Delivery.objects.filter(status__in=OPEN_DELIVERY_STATUSES).exists():
            return waits
        later = Delivery.objects.filter(status=DeliveryStatus.RETRY_SCHEDULED, next_attempt_at__gt=timezone.now())
        waits += [(due - noted).total_seconds() for due, noted in later.values_list("next_attempt_at", "updated_at")]
        later.update(next_attempt_at=timezone.now())
    raise AssertionError(list(Delivery.objects.values_list("device__token", "status", "next_attempt_at")))


__all__ = ["delivery", "run_until_settled", "timezone"]
