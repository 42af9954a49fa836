"""Support's delivery log and the failed-delivery actions in the admin."""

from __future__ import annotations

import pytest

from accounts import roles
from notifications.models import Delivery, DeliveryStatus, FailedDelivery, FailedDeliveryStatus
from tests.staff import staff

from .conftest import run_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

CANCELLED = {"title": "Order 77 was cancelled", "body": "Your refund is on its way", "category": "order_updates"}


@pytest.fixture
def failed_for_dan(engine, shopper, service_client):  # type: ignore[no-untyped-def]
    engine.configure(retry_after=0)
    shopper("dan", "ok-dan", "unavailable-dan")
    service_client("notifications:write").post("/api/v1/notifications/", {**CANCELLED, "user_id": "dan"}, format="json")
    run_until_settled()
    return FailedDelivery.objects.get()


def test_support_finds_why_a_user_did_not_get_a_notice(client, failed_for_dan):
    client.force_login(staff(roles.SUPPORT))
    listing = client.get("/admin/notifications/notification/", {"q": "dan"})
    [notification] = listing.context["cl"].result_list
    assert notification.content.title == CANCELLED["title"]
    page = client.get(f"/admin/notifications/notification/{notification.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "unavailable-dan" in html and "ok-dan" in html
    assert html.count("UNAVAILABLE") >= 4  # every attempt of the failing device, with the provider's code
    assert 'name="_save"' not in html  # read-only

    by_token = client.get("/admin/notifications/notification/", {"q": "unavailable-d"})
    assert [n.pk for n in by_token.context["cl"].result_list] == [notification.pk]
    by_id = client.get("/admin/notifications/notification/", {"q": f"#{notification.pk}"})
    assert [n.pk for n in by_id.context["cl"].result_list] == [notification.pk]
    assert client.get("/admin/notifications/faileddelivery/").status_code == 200


def test_support_cannot_requeue(client, failed_for_dan):
    client.force_login(staff(roles.SUPPORT))
    client.post("/admin/notifications/faileddelivery/", {"action": "requeue", "_selected_action": [failed_for_dan.pk]})
    failed_for_dan.refresh_from_db()
    assert failed_for_dan.status == FailedDeliveryStatus.OPEN


def test_administrators_requeue_a_failed_delivery_for_one_more_attempt(client, engine, failed_for_dan):
    client.force_login(staff(roles.ADMINISTRATORS))
    engine.configure(rate_503=0.0)
    delivery = failed_for_dan.delivery
    before = delivery.attempts
    client.post("/admin/notifications/faileddelivery/", {"action": "requeue", "_selected_action": [failed_for_dan.pk]})
    delivery.refresh_from_db()
    # The simulator still answers 503 for this token: one new attempt, then failed again.
    assert delivery.attempts == before + 1
    assert delivery.status == DeliveryStatus.FAILED
    failed_for_dan.refresh_from_db()
    assert failed_for_dan.status == FailedDeliveryStatus.OPEN  # a new record of the new failure
    assert len(engine.messages("unavailable-dan")) == before + 1


def test_administrators_discard_a_failed_delivery(client, failed_for_dan):
    user = staff(roles.ADMINISTRATORS)
    client.force_login(user)
    client.post("/admin/notifications/faileddelivery/", {"action": "discard", "_selected_action": [failed_for_dan.pk]})
    failed_for_dan.refresh_from_db()
    assert (failed_for_dan.status, failed_for_dan.resolved_by) == (FailedDeliveryStatus.DISCARDED, user.username)
    assert Delivery.objects.get(pk=failed_for_dan.delivery_id).status == DeliveryStatus.FAILED


def test_admin_index_shows_the_success_rate(client, failed_for_dan):
    client.force_login(staff(roles.SUPPORT))
    html = client.get("/admin/").content.decode()
    assert "Delivery success rate" in html
    assert "50.0%" in html  # ok-dan delivered, unavailable-dan failed
