"""Issue 17, item 1: one shopper's subscription answering 401/403 must not pause Web Push for everyone.

A push service answers 403 for one subscription (made for another VAPID key), and an endpoint is whatever
URL a shopper registered: such an answer settles that one delivery (failed, its attempt spent, never
retried) and delays nobody else's push.
"""

from __future__ import annotations

import pytest

from devices.services import register_device
from notifications import dispatch
from notifications.models import Delivery, DeliveryStatus, FailedDelivery, ProviderPause
from tests.engine.conftest import engine, shopper  # noqa: F401 - fixtures
from tests.providers.conftest import browser_subscription

from .hostile_endpoints import answer, serving

pytestmark = pytest.mark.django_db(transaction=True)


def send_order_update(service_client, user: str) -> Delivery:  # type: ignore[no-untyped-def]
    body = {"user_id": user, "category": "order_updates", "title": "Order 7", "body": "On its way"}
    answer_ = service_client("notifications:write").post("/api/v1/notifications/", body, format="json")
    assert answer_.status_code == 202, answer_.content
    return Delivery.objects.get(notification_id=answer_.json()["notification_ids"][0])


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusing_subscription_fails_alone_and_delays_nobody(
    engine,  # noqa: F811
    shopper,  # noqa: F811
    service_client,
    status,
):
    p256dh, auth = browser_subscription()
    with serving(answer(status, b"VAPID credentials do not match this subscription")) as refusing:
        register_device(
            user_id="mallory", platform="web", token=refusing.url(), web_push_p256dh=p256dh, web_push_auth=auth
        )
        shopper("victim", web="ok-web-victim-refusal")

        mallorys = send_order_update(service_client, "mallory")
        assert (mallorys.status, mallorys.attempts, mallorys.last_error_code) == (
            DeliveryStatus.FAILED,
            1,
            str(status),
        )
        assert FailedDelivery.objects.filter(delivery=mallorys).exists()
        assert not ProviderPause.objects.exists()

        # The other shopper's order update goes out at once, at the first attempt.
        victims = send_order_update(service_client, "victim")
        assert (victims.status, victims.attempts) == (DeliveryStatus.DELIVERED, 1)
        assert len(engine.messages("ok-web-victim-refusal")) == 1

        # Mallory's delivery is settled: the dispatcher has nothing to retry, the endpoint was asked once.
        dispatch.dispatch_due_retries()
        mallorys.refresh_from_db()
        assert (mallorys.status, mallorys.attempts) == (DeliveryStatus.FAILED, 1)
        assert len(refusing.requests) == 1
