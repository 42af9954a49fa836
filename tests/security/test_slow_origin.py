"""Issue 17, item 4: one slow push service must not hold up other providers' pushes, nor hold worker after
worker for its timeout.

A push service that never answers (a stalling endpoint) is cut at PUSH_TIMEOUT_SECONDS. Meanwhile the same
task's pushes to other providers have gone out (the provider batches are sent together), and afterwards that
origin is left alone for WEBPUSH_ORIGIN_COOLOFF_SECONDS: its next pushes are retried later without a request.
"""

from __future__ import annotations

import time

import pytest

from devices.services import register_device
from notifications.engine import Content, submit
from notifications.models import Delivery, DeliveryStatus
from tests.engine.conftest import engine  # noqa: F401 - fixture
from tests.providers.conftest import browser_subscription

from .hostile_endpoints import serving, stalling

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2.0


def order_update(*users: str) -> list[int]:
    """One order update to each user, in one call: one worker task, its deliveries in the users' order."""
    content = Content(title="Order 7", body="On its way", category="order_updates")
    return submit(user_ids=list(users), content=content, source="api").notification_ids


def test_a_stalling_push_service_delays_neither_other_providers_nor_the_next_task(engine, settings):  # noqa: F811
    settings.PUSH_TIMEOUT_SECONDS = TIMEOUT
    p256dh, auth = browser_subscription()
    with serving(stalling) as slow:
        # One shopper's browser at the stalling push service, another's phone: one task, the browser's first.
        register_device(
            user_id="ana", platform="web", token=slow.url("/wp/ana"), web_push_p256dh=p256dh, web_push_auth=auth
        )
        register_device(user_id="carl", platform="android", token="ok-slow-origin-carl")
        started = time.time()
        first, _ = order_update("ana", "carl")
        # The phone's push went out with the browser's, not after the browser's timeout.
        [phone] = engine.messages("ok-slow-origin-carl")
        assert phone["received_at"] - started < TIMEOUT / 2
        web = Delivery.objects.get(notification_id=first)
        assert (web.status, web.last_error_code) == (DeliveryStatus.RETRY_SCHEDULED, "network")

        # The next push to that service is not attempted while it cools off: no worker waits on it again.
        register_device(
            user_id="bo", platform="web", token=slow.url("/wp/bo"), web_push_p256dh=p256dh, web_push_auth=auth
        )
        [second] = order_update("bo")
        web = Delivery.objects.get(notification_id=second)
        assert (web.status, web.last_error_code) == (DeliveryStatus.RETRY_SCHEDULED, "origin_cooling_off")
        assert len(slow.requests) == 1
