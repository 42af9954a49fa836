"""The shipped grocery triggers end to end: REST → stored event → real Celery worker (with beat) → simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bench.processes import celery_worker, worker_environment
from devices.services import register_device
from events.models import Event, EventStatus, TriggerRule
from notifications.models import OPEN_DELIVERY_STATUSES, Delivery, Notification, NotificationStatus
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DELAY = 3  # seconds: the abandoned-cart rule's delay, shortened for the test


def titles(sim, token: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for message in sim.messages(token):
        payload = message["payload"]
        found.append(payload["aps"]["alert"]["title"] if "aps" in payload else payload["notification"]["title"])
    return found


def processed(key: str) -> bool:
    return Event.objects.filter(idempotency_key=key).exclude(status=EventStatus.RECEIVED).exists()


def nothing_left_to_send() -> bool:
    """Every event processed, no push waiting for its time, none on its way to the simulator."""
    return not (
        Event.objects.filter(status=EventStatus.RECEIVED).exists()
        or Notification.objects.filter(status__in=[NotificationStatus.SCHEDULED, NotificationStatus.PENDING]).exists()
        or Delivery.objects.filter(status__in=OPEN_DELIVERY_STATUSES).exists()
    )


def event(kind: str, user: str, key: str, **data: object) -> dict:
    return {"type": kind, "user_id": user, "idempotency_key": key, "data": data}


def test_each_shipped_trigger_sends_the_right_push_in_the_right_language(simulator, post_events):
    sim = simulator
    sim.reset()
    register_device(user_id="greta", platform="android", token="ok-e2e-greta", locale="de-DE")
    register_device(user_id="louis", platform="ios", token="ok-ios-e2e-louis", locale="fr-FR")
    register_device(user_id="emma", platform="android", token="ok-e2e-emma", locale="en-GB")
    TriggerRule.objects.filter(name="Abandoned cart").update(delay=timedelta(seconds=DELAY))
    batch = [
        event("order_status_changed", "greta", "o1", order_id="1042", status="cancelled"),
        event("order_status_changed", "louis", "o2", order_id="1043", status="delayed", new_eta="15:00-16:00"),
        event("order_status_changed", "emma", "o3", order_id="1044", status="shipped"),  # no rule for shipped
        event("product_restocked", "emma", "r1", product_id="sku-3301", product_name="Sourdough loaf"),
        event(
            "price_dropped",
            "greta",
            "p1",
            product_id="sku-118",
            product_name="Griechischer Joghurt",
            old_price="3.49",
            new_price="2.79",
            currency="EUR",
            discount_percent=20,
        ),
        event("price_dropped", "emma", "p2", product_id="sku-9", product_name="Rice", discount_percent=5),
    ]
    with celery_worker(worker_environment(sim), "transactional,marketing,default", "events", beat=True):
        assert post_events(batch).status_code == 202
        # Abandoned carts: emma's is left alone, louis checks out, greta keeps adding items.
        post_events(event("cart_updated", "emma", "c-emma", cart_id="A", item_count=2, first_item="Apples"))
        post_events(event("cart_updated", "louis", "c-louis", cart_id="B", item_count=1, first_item="Pain"))
        post_events(event("checkout_completed", "louis", "x-louis", cart_id="B"))
        for n in range(3):  # each processed before the next arrives: its reminder replaces the one before
            post_events(
                event("cart_updated", "greta", f"c-greta-{n}", cart_id="C", item_count=n + 1, first_item="Brot")
            )
            wait_for(lambda n=n: processed(f"c-greta-{n}"), 10, f"greta's cart update {n}")

        wait_for(lambda: len(titles(sim, "ok-e2e-greta")) >= 2, 20, "greta's order and price pushes")
        assert sorted(titles(sim, "ok-e2e-greta")) == sorted(
            ["Bestellung 1042 wurde storniert", "Griechischer Joghurt: 20 % günstiger"]
        )
        wait_for(lambda: titles(sim, "ok-ios-e2e-louis"), 10, "louis's delay notice")
        assert titles(sim, "ok-ios-e2e-louis") == ["La commande 1043 a du retard"]
        assert titles(sim, "ok-e2e-emma") == ["Sourdough loaf is back in stock"]

        wait_for(lambda: len(titles(sim, "ok-e2e-emma")) == 2, DELAY + 10, "emma's cart reminder")
        reminder = sim.messages("ok-e2e-emma")[-1]
        assert reminder["payload"]["notification"]["body"] == "Apples and 1 more are waiting in your cart."
        updated_at = Event.objects.get(idempotency_key="c-emma").occurred_at.timestamp()
        assert reminder["received_at"] - updated_at >= DELAY  # not before its delay

        wait_for(lambda: len(titles(sim, "ok-e2e-greta")) == 3, DELAY + 10, "greta's one cart reminder")
        last = sim.messages("ok-e2e-greta")[-1]["payload"]["notification"]
        assert (last["title"], last["body"]) == (
            "Noch unentschlossen?",
            "Brot und 2 weitere warten in deinem Warenkorb.",
        )

        # Duplicates are answered, not processed: the same batch again sends nothing more.
        again = post_events(batch).json()
        assert (again["accepted"], again["duplicates"]) == (0, len(batch))
        # Until nothing waits and nothing is on its way: a wrongly kept reminder (louis's) or repeat would go out.
        wait_for(nothing_left_to_send, DELAY + 10, "every waiting push to be sent or cancelled")
        assert titles(sim, "ok-ios-e2e-louis") == ["La commande 1043 a du retard"]  # checkout cancelled his
        assert len(titles(sim, "ok-e2e-greta")) == 3  # one reminder for three updates
        assert len(titles(sim, "ok-e2e-emma")) == 2

    # Cancelled while waiting, or never scheduled if the checkout was already stored when the update was processed.
    louis_reminders = Notification.objects.filter(user_id="louis", content__template_key="abandoned_cart")
    assert not louis_reminders.exclude(status=NotificationStatus.CANCELLED).exists()
    assert Notification.objects.filter(user_id="greta", status=NotificationStatus.CANCELLED).count() == 2
    assert Event.objects.get(idempotency_key="o3").status == "no_rule"
    assert Event.objects.get(idempotency_key="p2").status == "no_rule"
