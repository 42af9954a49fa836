"""Issue 18, bug 1, in a real browser (Playwright, Debian's Chromium) against uvicorn: a marketer's failed save
must not leave a Launch that sends the stored campaign; Launch waits for a successful save."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import roles
from audience.models import Segment
from bench.processes import database_environment, web_process
from campaigns.models import Campaign, CampaignStatus
from devices.models import Device
from notifications.models import Notification
from templates.models import MessageTemplate
from tests.browser.session import signed_in_page, staff_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def draft() -> Campaign:
    staff_member("mara", roles.MARKETERS)
    template = MessageTemplate.objects.create(
        key="promo", name="promo", category="promotions", title="{{ discount }} off", body="Fresh and cheaper."
    )
    for i in range(2):
        Device.objects.create(user_id=f"browser-{i}", platform="android", provider="fcm", token=f"ok-browser-{i}")
    return Campaign.objects.create(
        name="Weekend", template=template, context={"discount": "20%"}, segment=Segment.objects.create(name="All")
    )  # a draft saved as "Send now"


def test_launch_is_refused_after_a_failed_save_and_nothing_is_sent(draft):
    from playwright.sync_api import expect, sync_playwright

    past = timezone.now() - timedelta(days=2)
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "mara")

        page.goto(f"{base}/admin/campaigns/campaign/{draft.pk}/change/")
        launch = page.locator("button[data-action=launch]")
        expect(launch).to_be_enabled()
        page.select_option("#id_schedule", "at")
        expect(launch).to_be_disabled()  # edited, not saved yet
        expect(page.locator("[data-launch-note]")).to_contain_text("the form has unsaved changes")
        page.fill("#id_send_at_0", f"{past:%Y-%m-%d}")
        page.fill("#id_send_at_1", "10:00:00")
        page.click("input[name=_continue]")
        expect(page.locator(".errornote")).to_be_visible()
        expect(page.locator(".field-send_at .errorlist")).to_contain_text("is in the past")

        # The page of a failed save offers no Launch, and says why.
        expect(launch).to_be_disabled()
        expect(page.locator("[data-launch-note]")).to_contain_text(
            "Save first: Launch acts only on the saved campaign, and the last save failed"
        )
        # Even posted from this page regardless (an old browser, a script), the server refuses with the reason.
        page.evaluate("document.querySelector('button[data-action=launch]').form.submit()")
        expect(page.locator(".messagelist")).to_contain_text(
            "Save the campaign first: Launch acts only on the saved campaign."
        )
        expect(page.locator(".messagelist")).not_to_contain_text("is now sending")
        page.context.browser.close()

    draft.refresh_from_db()
    assert (draft.status, draft.schedule) == (CampaignStatus.DRAFT, "now")
    assert not draft.runs.exists()
    assert not Notification.objects.exists()
