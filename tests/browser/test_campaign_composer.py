"""Issue 18, the composer and the launch review, in a real browser (Playwright, Debian's Chromium) against uvicorn,
as a marketer: the campaign page shows the audience and the push per platform and variant where the campaign is
written, only the chosen schedule's fields, durations in words; Launch opens a review of what will happen, and Pause
and Cancel ask first (dismissing changes nothing)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts import roles
from audience.models import Segment
from bench.processes import database_environment, web_process
from campaigns.models import Campaign, CampaignStatus, CampaignVariant
from devices.models import Device
from preferences.services import QuietHoursChange, update_preferences
from templates.models import MessageTemplate
from tests.browser.session import signed_in_page, staff_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONTEXT = '{"discount": "20%"}'


@pytest.fixture
def draft() -> Campaign:
    """A draft A/B campaign to three shoppers (Android, iOS, Web); the iOS one is in her quiet hours now."""
    staff_member("mara", roles.MARKETERS)
    for user, platform, provider in (("ann", "android", "fcm"), ("bea", "ios", "apns"), ("cy", "web", "webpush")):
        Device.objects.create(user_id=user, platform=platform, provider=provider, token=f"ok-composer-{user}")
    here = timezone.now().astimezone(ZoneInfo("UTC"))
    update_preferences(
        "bea",
        quiet_hours=QuietHoursChange(
            enabled=True,
            start=(here - timedelta(hours=1)).time().replace(second=0, microsecond=0),
            end=(here + timedelta(hours=1)).time().replace(second=0, microsecond=0),
        ),
    )
    campaign = Campaign.objects.create(
        name="Weekend", context={"discount": "20%"}, segment=Segment.objects.create(name="Everyone")
    )
    for name in "AB":
        template = MessageTemplate.objects.create(
            key=f"promo_{name.lower()}",
            name=f"Promo {name}",
            category="promotions",
            title=f"{name}: {{{{ discount }}}} off",
            body="Fresh fruit.",
        )
        CampaignVariant.objects.create(campaign=campaign, name=name, template=template, weight=50)
    return campaign


def test_a_marketer_composes_reviews_launches_and_is_asked_before_pause_and_cancel(draft):
    from playwright.sync_api import expect, sync_playwright

    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "mara")
        page.goto(f"{base}/admin/campaigns/campaign/{draft.pk}/change/")
        launch = page.locator("button[data-action=launch]")

        # The audience where the campaign is written, from the segment page's own count.
        expect(page.locator("[data-composer=audience]")).to_contain_text("3 shoppers, 3 active devices")

        # The push per variant and platform, with the context as typed.
        preview = page.locator("#composer-preview")
        title = preview.locator("[data-preview=title]")
        expect(title).to_have_text("A: 20% off")
        preview.locator("label", has_text="iOS").click()
        expect(preview).to_have_attribute("data-platform", "ios")
        page.select_option("[data-composer=variant]", "B")
        expect(title).to_have_text("B: 20% off")
        page.fill("#id_context", '{"discount": "30%"}')
        expect(title).to_have_text("B: 30% off")
        expect(launch).to_be_disabled()  # an unsaved context: Launch waits for a save
        page.fill("#id_context", CONTEXT)
        expect(title).to_have_text("B: 20% off")
        expect(launch).to_be_enabled()  # as saved again (the preview's own switches are not the campaign)

        # Only the chosen schedule's fields.
        send_at, local_day, recurrence, weekday, cron = (
            page.locator(f"#id_{name}")
            for name in ("send_at_0", "local_date", "recurrence", "recurrence_weekday", "cron")
        )
        for hidden in (send_at, local_day, recurrence, cron):
            expect(hidden).to_be_hidden()
        page.select_option("#id_schedule", "at")
        expect(send_at).to_be_visible()
        expect(local_day).to_be_hidden()
        page.select_option("#id_schedule", "recurring")
        expect(send_at).to_be_hidden()
        expect(recurrence).to_be_visible()
        expect(weekday).to_be_hidden()
        page.select_option("#id_recurrence", "weekly")
        expect(weekday).to_be_visible()
        expect(cron).to_be_hidden()
        page.select_option("#id_recurrence", "")
        page.select_option("#id_schedule", "now")
        expect(recurrence).to_be_hidden()
        expect(launch).to_be_enabled()

        # Durations in words.
        expect(page.locator("#id_conversion_window")).to_have_value("1 day")

        # Launch opens the review: what will happen, nothing sent yet.
        launch.click()
        expect(page.locator("#content h1")).to_have_text("Launch 'Weekend'?")
        expect(page.locator("[data-review=schedule]")).to_have_text("now")
        expect(page.locator("[data-review=shoppers]")).to_have_text("3")
        for platform in ("android", "ios", "web"):
            expect(page.locator(f"[data-review=platform-{platform}]")).to_have_text("1")
        expect(page.locator("tr[data-held=quiet_hours] td.number")).to_have_text("1")
        expect(page.locator("tr[data-held=capped] td.number")).to_have_text("0")
        expect(page.locator("tr[data-held=sent] td.number")).to_have_text("2")
        for index, name in ((1, "A"), (2, "B")):
            for platform in ("android", "ios", "web"):
                panel = page.locator(f"#review-{index}-{platform}")
                expect(panel).to_have_attribute("data-platform", platform)
                expect(panel.locator("[data-preview=title]")).to_have_text(f"{name}: 20% off")
        page.click("button[data-confirm=launch]")
        expect(page.locator(".messagelist")).to_contain_text("'Weekend' is now sending.")

        # Pause and Cancel ask first; saying no changes nothing.
        for action, status in (("pause", "Paused"), ("cancel", "Cancelled")):
            page.click(f"button[data-action={action}]")
            expect(page.locator("[data-confirm-text]")).to_be_visible()
            if action == "cancel":
                expect(page.locator("[data-confirm-text]")).to_contain_text(
                    "Cancel stops the campaign for good: 3 shoppers not yet sent will not get it"
                )
            page.click("[data-dismiss]")
            expect(page.locator(f"button[data-action={action}]")).to_be_visible()
            expect(page.locator(".messagelist")).to_have_count(0)
            page.click(f"button[data-action={action}]")
            page.click(f"button[data-confirm={action}]")
            expect(page.locator(".messagelist")).to_contain_text(f"'Weekend' is now {status.lower()}.")
        page.context.browser.close()

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.CANCELLED
