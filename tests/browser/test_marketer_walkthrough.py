"""A marketer in a real browser (Playwright, Debian's Chromium) against real processes: the web app under
uvicorn (HTTP and WebSocket), a Celery worker with beat, and the provider simulator.

Creates a segment, a campaign with two variants, sends a test, launches, and watches the live progress
reach "Completed" without reloading.
"""

from __future__ import annotations

import pytest

from accounts import roles
from bench.processes import celery_worker, web_process, worker_environment
from devices.models import Device
from notifications.models import Notification
from templates.models import MessageTemplate
from tests.browser.session import signed_in_page, staff_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def shop() -> None:
    staff_member("mara", roles.MARKETERS)
    for key, title in [("promo_a", "Weekend: {{ discount }} off {{ category }}"), ("promo_b", "{{ discount }} off!")]:
        MessageTemplate.objects.create(
            key=key, name=key, category="promotions", priority="normal", title=title, body="Fresh and cheaper."
        )
    for i in range(12):
        Device.objects.create(user_id=f"browser-{i:02d}", platform="android", provider="fcm", token=f"ok-browser-{i}")
    # Campaign tests go only to test devices (issue 17, item 9).
    Device.objects.create(
        user_id="browser-ios", platform="ios", provider="apns", token="ok-ios-browser", is_test_device=True
    )


def test_a_marketer_builds_tests_and_launches_an_ab_campaign(simulator, shop):
    from playwright.sync_api import expect, sync_playwright

    simulator.reset()
    env = worker_environment(simulator)
    with (
        web_process(env) as base,
        celery_worker(env, "transactional,marketing,default", "browser", beat=True),
        sync_playwright() as playwright,
    ):
        page = signed_in_page(playwright, base, "mara")

        # A segment, with its audience counted as the form changes.
        page.goto(f"{base}/admin/audience/segment/add/")
        page.fill("#id_name", "Android shoppers")
        page.select_option("#id_conditions-0-field", "platform")
        page.select_option("#id_conditions-0-operator", "eq")
        page.fill("#id_conditions-0-value", "android")
        expect(page.locator("[data-audience=text]")).to_contain_text("12 shoppers, 12 active devices")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")

        # A campaign with two variants.
        page.goto(f"{base}/admin/campaigns/campaign/add/")
        page.fill("#id_name", "Weekend A/B")
        page.fill("#id_context", '{"discount": "20%", "category": "fruit"}')
        page.click("#id_segment + .select2 .select2-selection")
        page.fill(".select2-search__field", "Android")
        page.click(".select2-results__option >> text=Android shoppers")
        for index, (name, key) in enumerate([("A", "promo_a"), ("B", "promo_b")]):
            page.click("#variants-group .add-row a")
            page.fill(f"#id_variants-{index}-name", name)
            page.select_option(f"#id_variants-{index}-template", label=f"{key} ({key})")
            page.fill(f"#id_variants-{index}-weight", "50")
        page.click("input[name=_continue]")
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")

        # A test send to one device, then the launch.
        page.select_option("select[name=kind]", "token")
        page.fill("input[name=target]", "ok-ios-browser")
        page.click("text=Send a test")
        expect(page.locator(".messagelist")).to_contain_text("Test sent to ok-ios-browser")
        page.click("button[data-action=launch]")
        page.click("button[data-confirm=launch]")  # the launch review's "Launch now"
        expect(page.locator(".messagelist")).to_contain_text("is now sending")

        # Live progress over the WebSocket, up to completed.
        expect(page.locator("[data-progress=live]")).to_have_text("● live")
        expect(page.locator("[data-progress=status_label]")).to_have_text("Completed", timeout=45_000)
        expect(page.locator("[data-progress=delivered]")).to_have_text("12")
        expect(page.locator(".campaign-results")).to_contain_text("Held back: none")
        page.screenshot(path=str(simulator.paths.root / "campaign-completed.png"), full_page=True)
        page.context.browser.close()

    campaign_pushes = Notification.objects.filter(source="campaign")
    assert sorted(campaign_pushes.values_list("user_id", flat=True)) == [f"browser-{i:02d}" for i in range(12)]
    assert set(campaign_pushes.values_list("variant", flat=True)) == {"A", "B"}
    assert Notification.objects.get(source="test").target_device.token == "ok-ios-browser"
    assert simulator.received("ok-browser-") == {f"ok-browser-{i}": 1 for i in range(12)}
    assert simulator.received("ok-ios-browser") == {"ok-ios-browser": 1}  # the test send only
