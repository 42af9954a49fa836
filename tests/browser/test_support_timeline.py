"""Issue 18, what support expects, in a real browser (Playwright, Debian's Chromium) against uvicorn: the shopper
timeline answers "why" with links that open each record, a list row says what happened to a push no device got,
a failed delivery is read-only to Support and resolved by an Administrator after a confirmation, and a refusal is
the admin's own page with a way back.

The history is made through the real paths (device registration, the events API, the rules, shopper protection, the
delivery engine against the provider simulator) in the test process before the web process serves it.
"""

from __future__ import annotations

import re

import pytest

from accounts import roles
from bench.processes import database_environment, web_process
from events.models import Event
from notifications.models import Delivery, FailedDelivery, FailedDeliveryStatus
from tests.browser.session import signed_in_page, staff_member
from tests.engine.conftest import engine  # noqa: F401 - the in-process engine against the simulator
from tests.engine.test_support_admin import build_history

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def history(engine, service_client):  # type: ignore[no-untyped-def]  # noqa: F811
    return build_history(service_client)


def test_support_reads_why_in_the_timeline_and_the_log_and_is_refused_politely(history):
    from playwright.sync_api import expect, sync_playwright

    staff_member("sam", roles.SUPPORT)
    shipped = Event.objects.get(idempotency_key="o-shipped")
    german = Delivery.objects.get(device__token="ok-sara-pixel")
    failure = FailedDelivery.objects.filter(delivery__notification__user_id="tom").first()
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "sam")
        expect(page.locator("#user-tools")).not_to_contain_text("View site")

        page.fill("#shopper-lookup input[name=user_id]", "sara")
        page.click("#shopper-lookup input[type=submit]")
        timeline = page.locator("#shopper-timeline")
        expect(timeline).to_contain_text(
            "By the rules active now: 'Order cancelled' needs status = cancelled (this event's status: shipped)"
        )
        expect(timeline).to_contain_text("No active rule handles 'loyalty_points_added' events.")
        shipped_row = timeline.locator("tr", has=page.locator(f"a[href$='/admin/events/event/{shipped.pk}/change/']"))
        expect(shipped_row).to_contain_text("Matched no rule")
        expect(timeline).to_contain_text("delivered to Android ok-sara-pixel in German")
        expect(timeline).to_contain_text("token unregistered: device removed (iOS unregistered-ios…)")
        expect(timeline).to_contain_text(re.compile(r"Deferred by quiet hours \(.+\) to .+ local time\."))

        # Each record opens from its link.
        page.click(f"#shopper-timeline [data-delivery='{german.pk}'] a")
        expect(page).to_have_url(re.compile(rf"/admin/notifications/delivery/{german.pk}/change/$"))
        expect(page.locator("#content")).to_contain_text("ok-sara-pixel")
        page.go_back()
        page.click(f"#shopper-timeline a[href$='/admin/events/event/{shipped.pk}/change/']")
        expect(page.locator("#content")).to_contain_text("order_status_changed")
        expect(page.locator("#content")).to_contain_text("shipped")

        # The list row of a notice both of whose devices were removed says so.
        page.goto(f"{base}/admin/notifications/notification/?q=lea")
        row = page.locator("#result_list tbody tr")
        expect(row).to_contain_text("Not delivered: both devices removed (token unregistered).")

        # A failed delivery: read, with neither Save nor Requeue.
        page.goto(f"{base}/admin/notifications/faileddelivery/")
        page.click(f"#result_list a[href*='/faileddelivery/{failure.pk}/change/']")
        expect(page.locator("#failure-actions")).to_contain_text("Only an Administrator can requeue or discard")
        expect(page.locator("input[name=_save], input[name=_continue], [data-action=requeue]")).to_have_count(0)

        # A page Support may not open: the admin's own 403, naming the role, with a way back.
        page.goto(f"{base}/admin/")
        page.evaluate("location.href = '/admin/accounts/serviceapikey/'")  # followed from the index: a referer
        expect(page.locator("#permission-denied")).to_contain_text(
            "You don't have permission to see the service API keys. Your role: Support."
        )
        expect(page.locator("#site-name")).to_contain_text("Pushcart")
        page.click("#permission-denied [data-back]")
        expect(page).to_have_url(f"{base}/admin/")
        page.context.browser.close()


def test_an_administrator_requeues_and_discards_after_confirming(history):
    from playwright.sync_api import expect, sync_playwright

    staff_member("ada", roles.ADMINISTRATORS)
    first, second = FailedDelivery.objects.filter(delivery__notification__user_id="tom").order_by("pk")
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "ada")

        page.goto(f"{base}/admin/notifications/faileddelivery/{first.pk}/change/")
        expect(page.locator("input[name=_save]")).to_have_count(0)
        page.click("[data-action=requeue]")
        expect(page.locator("#confirm-requeue")).to_contain_text("What will happen: it is queued to be sent once more")
        page.click("[data-confirm=requeue]")
        expect(page.locator(".messagelist")).to_contain_text("requeued: it is being sent once more")
        expect(page.locator("#failure-actions")).to_contain_text("Requeued by ada")

        page.goto(f"{base}/admin/notifications/faileddelivery/{second.pk}/change/")
        page.click("[data-action=discard]")
        expect(page.locator("#confirm-discard")).to_contain_text("it is not sent again")
        page.click("#confirm-discard .closelink")  # "No, go back": nothing done, still open
        expect(page.locator("[data-action=discard]")).to_be_visible()
        page.click("[data-action=discard]")
        page.click("[data-confirm=discard]")
        expect(page.locator("#failure-actions")).to_contain_text("Discarded by ada")
        page.context.browser.close()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (FailedDeliveryStatus.REQUEUED, FailedDeliveryStatus.DISCARDED)
    assert Delivery.objects.get(pk=first.delivery_id).status == "queued"  # for the workers (none run here)
