"""Issue 18 in a real browser (Playwright, Debian's Chromium) against uvicorn and a Celery worker with beat: a
marketer watching a completed A/B campaign sees its open rate change when a shopper's app reports an open
(the real API, the shopper's JWT), without reloading; the chart of deliveries and opens is drawn; and the
marketer duplicates the campaign with the page's button and from the list."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from accounts import roles
from accounts.jwt_tokens import mint_app_token
from audience.models import Segment
from bench.processes import celery_worker, database_environment, web_process, worker_environment
from campaigns import progress, services
from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant
from campaigns.results import results
from devices.models import Device
from notifications.models import Notification
from templates.models import MessageTemplate
from tests.browser.session import signed_in_page, staff_member
from tests.engine.conftest import engine  # noqa: F401 - sends in this process, through the simulator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def ab_campaign(**fields: object) -> Campaign:
    staff_member("mara", roles.MARKETERS)
    campaign = Campaign.objects.create(
        name="Weekend", segment=Segment.objects.create(name="All"), context={"discount": "20%"}, **fields
    )
    # A name is the marketer's text: the page must show it as text, never as markup.
    for key, name in [("promo_a", "A"), ("promo_b", "<b>B</b>")]:
        template = MessageTemplate.objects.create(
            key=key, name=key, category="promotions", priority="normal", title="{{ discount }} off", body="Fresh."
        )
        CampaignVariant.objects.create(campaign=campaign, name=name, template=template, weight=1)
    return campaign


def test_the_open_rate_and_the_chart_follow_opens_reported_by_the_app(engine):  # noqa: F811 - the fixture
    from playwright.sync_api import expect, sync_playwright

    for i in range(12):
        Device.objects.create(user_id=f"browser-{i:02d}", platform="android", provider="fcm", token=f"ok-results-{i}")
    campaign = ab_campaign()
    run = services.launch(campaign)  # sent here, through the simulator
    assert progress.finish_runs() == [run.pk]
    # Completed an hour ago: no longer counted as live, so only the open can bring new results to the page.
    CampaignRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    opener = Notification.objects.filter(source_ref=str(run.pk)).order_by("user_id").first()
    [mine] = [v for v in results(campaign).variants if v.name == opener.variant]
    assert (mine.delivered, mine.opened) != (0, 0) and mine.opened == 0

    env = worker_environment(engine)
    with (
        web_process(env) as base,
        celery_worker(env, "default", "results", beat=True),  # the beat's broadcast_progress runs on "default"
        sync_playwright() as playwright,
    ):
        page = signed_in_page(playwright, base, "mara")
        page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
        expect(page.locator("[data-progress=status_label]")).to_have_text("Completed")
        expect(page.locator("[data-progress=live]")).to_have_text("● live")

        row = page.locator("[data-results=rows] tr").filter(
            has=page.locator("strong").get_by_text(opener.variant, exact=True)
        )
        opened = row.locator("td[data-column=opened]")
        expect(opened).to_have_text("0 (0.0%)")
        expect(page.locator("[data-results=rows] b")).to_have_count(0)  # "<b>B</b>" is text, not bold
        verdict = page.locator("[data-results=verdict]")
        expect(verdict).to_contain_text("Not enough data yet to compare variants")
        expect(verdict).not_to_contain_text("leads")
        expect(page.locator(".campaign-results")).to_contain_text("Held back: none")

        # The chart: uPlot's canvas, with both series in its legend.
        chart = page.locator("[data-results=chart]")
        expect(chart.locator("canvas")).to_be_visible()
        expect(chart.locator(".u-legend")).to_contain_text("Deliveries")
        expect(chart.locator(".u-legend")).to_contain_text("Opens")
        expect(chart).to_have_attribute("aria-label", re.compile(r": 12 deliveries, 0 opens\.$"))

        # The shopper's app reports the open with the id its push carried, as the recipient.
        answer = httpx.post(
            f"{base}/api/v1/notifications/{opener.pk}/opened/",
            headers={"Authorization": f"Bearer {mint_app_token(opener.user_id)}"},
        )
        assert answer.status_code == 200, answer.text

        # No reload: the same page's table and chart change.
        expect(opened).to_have_text(f"1 ({100 / mine.delivered:.1f}%)")
        expect(chart).to_have_attribute("aria-label", re.compile(r": 12 deliveries, 1 open\.$"))
        expect(page.locator("[data-progress=live]")).to_have_text("● live")
        page.context.browser.close()


def test_a_marketer_duplicates_a_campaign_with_the_button_and_from_the_list():
    from playwright.sync_api import expect, sync_playwright

    campaign = ab_campaign(status=CampaignStatus.COMPLETED, schedule="at", send_at=timezone.now() - timedelta(days=3))
    change_page = re.compile(r"/admin/campaigns/campaign/(\d+)/change/$")
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "mara")

        page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
        page.click("button[data-duplicate]")
        expect(page.locator(".messagelist")).to_contain_text("Duplicated 'Weekend' as Weekend (copy), a draft.")
        expect(page.locator(".messagelist")).to_contain_text("Not copied: its date (")
        expect(page).to_have_url(change_page)  # the copy's page: a draft, editable, its variants copied
        expect(page.locator("#id_name")).to_have_value("Weekend (copy)")
        expect(page.locator("#id_variants-0-name")).to_have_value("<b>B</b>")  # ordered by name: "<" < "A"
        expect(page.locator("#id_variants-1-name")).to_have_value("A")
        by_button = int(change_page.search(page.url).group(1))

        page.goto(f"{base}/admin/campaigns/campaign/")
        page.check(f"input[name=_selected_action][value='{campaign.pk}']")
        page.select_option("select[name=action]", "duplicate_selected")
        page.click("button[name=index]")
        expect(page.locator(".messagelist")).to_contain_text("Duplicated 'Weekend' as Weekend (copy), a draft.")
        expect(page).to_have_url(change_page)  # one campaign duplicated: straight to its copy
        from_list = int(change_page.search(page.url).group(1))
        page.context.browser.close()

    copies = Campaign.objects.filter(name="Weekend (copy)").order_by("pk")
    assert [c.pk for c in copies] == [by_button, from_list] and campaign.pk not in (by_button, from_list)
    assert [(c.status, c.created_by, c.send_at, c.variants.count()) for c in copies] == [("draft", "mara", None, 2)] * 2
