"""Issue 20, the analytics page in a real browser (Playwright, Debian's Chromium) against uvicorn: Support finds a
dip in the success rate, clicks it, reads the failures behind it and opens their records, and downloads a chart's
CSV; a marketer narrows the charts by category, reads a campaign's results per variant (a variant's name is text,
never markup), goes from a row of the table to an hour's failures without the records they may not open, and
downloads a campaign's CSV. Every number comes from hourly rollups written here, on one past UTC day."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts import roles
from analytics.models import HourlyRollup
from audience.models import Segment
from bench.processes import database_environment, web_process
from campaigns.models import Campaign
from devices.models import Device
from notifications.models import Delivery, FailedDelivery
from tests.browser.session import signed_in_page, staff_member
from tests.rows import notification_row

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DAY = "2026-03-10"
DIP = 14  # 14:00 UTC: 120 of the 200 promotions failed (and none of the 7 order updates): 42.03% delivered


def at(hour: int) -> datetime:
    return datetime(2026, 3, 10, hour, tzinfo=UTC)


@pytest.fixture
def history() -> Campaign:
    promo = {"category": "promotions", "provider": "fcm"}
    rows = []
    for hour in range(8, 20):
        failed = {"UNAVAILABLE": 100, "token_invalid": 20} if hour == DIP else {"INTERNAL": 2}
        sent = 200 if hour == DIP else 100
        rows += [
            HourlyRollup(hour=at(hour), outcome="sent", count=sent, **promo),
            HourlyRollup(hour=at(hour), outcome="delivered", count=sent - sum(failed.values()), **promo),
            *(HourlyRollup(hour=at(hour), outcome="failed", reason=r, count=n, **promo) for r, n in failed.items()),
            HourlyRollup(hour=at(hour), outcome="opened", count=10, category="promotions"),
            HourlyRollup(hour=at(hour), outcome="converted", count=1, category="promotions"),
            HourlyRollup(hour=at(hour), outcome="sent", count=7, category="order_updates", provider="apns"),
            HourlyRollup(hour=at(hour), outcome="delivered", count=7, category="order_updates", provider="apns"),
        ]
    campaign = Campaign.objects.create(name="Spring sale", segment=Segment.objects.create(name="All"))
    for variant, delivered, opened in [("A", 40, 4), ("<b>B</b>", 50, 15)]:
        mine = {**promo, "campaign_id": campaign.pk, "variant": variant}
        rows += [
            HourlyRollup(hour=at(16), outcome="sent", count=delivered, **mine),
            HourlyRollup(hour=at(16), outcome="delivered", count=delivered, **mine),
            HourlyRollup(
                hour=at(16),
                outcome="reached",
                count=delivered,
                category="promotions",
                campaign_id=campaign.pk,
                variant=variant,
            ),
            HourlyRollup(
                hour=at(17),
                outcome="opened",
                count=opened,
                category="promotions",
                campaign_id=campaign.pk,
                variant=variant,
            ),
        ]
    HourlyRollup.objects.bulk_create(rows)
    return campaign


def failed_record(created_at: datetime, code: str) -> FailedDelivery:
    device = Device.objects.create(user_id=f"u-{code}", platform="android", provider="fcm", token=f"tok-{code}")
    notification = notification_row(
        user_id=device.user_id, title="t", body="b", category="promotions", source="api", status="sending"
    )
    delivery = Delivery.objects.create(notification=notification, device=device, provider="fcm", status="failed")
    return FailedDelivery.objects.create(
        delivery=delivery,
        reason=f"{code}: the provider was unavailable",
        provider_code=code,
        payload={},
        created_at=created_at,
    )


def show_day(page) -> None:  # type: ignore[no-untyped-def]
    page.select_option("#id_period", "custom")
    page.fill("#id_start", DAY)
    page.fill("#id_end", DAY)
    page.click("#analytics-filters input[type=submit]")


def downloaded_rows(page, link: str) -> tuple[str, list[list[str]]]:  # type: ignore[no-untyped-def]
    with page.expect_download() as info:
        page.click(link)
    download = info.value
    return download.suggested_filename, list(csv.reader(Path(download.path()).read_text().splitlines()))


def test_support_clicks_a_dip_in_the_success_rate_and_reaches_the_failures_behind_it(history):
    from playwright.sync_api import expect, sync_playwright

    staff_member("sam", roles.SUPPORT)
    inside = failed_record(at(DIP) + timedelta(minutes=12), "UNAVAILABLE")
    failed_record(at(DIP + 1) + timedelta(minutes=5), "INTERNAL")
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "sam")
        page.click("#analytics-link a")
        expect(page.locator("#analytics-empty")).to_contain_text("No pushes in this period.")  # the last 24 hours

        show_day(page)
        expect(page.locator("#analytics-period")).to_contain_text(f"{DAY} 00:00 to 2026-03-11 00:00 UTC, per hour")
        expect(page.locator("[data-total=failed]")).to_have_text(str(120 + 11 * 2))
        rate = page.locator("[data-chart=success_rate]")
        expect(rate.locator("canvas")).to_be_visible()
        expect(rate).to_have_attribute("aria-label", f"Success rate per hour; lowest 42.03% at {DAY} {DIP}:00 UTC.")
        deliveries = page.locator("[data-chart=deliveries]")
        expect(deliveries.locator("canvas")).to_be_visible()
        expect(deliveries.locator(".u-legend")).to_contain_text("Failed")
        expect(page.locator("[data-chart=engagement] .u-legend")).to_contain_text("Converted")

        # Hovering the dip shows its numbers in the legends; a click opens its failures.
        over = rate.locator(".u-over")
        box = over.bounding_box()
        x = box["x"] + box["width"] * DIP / 23
        page.mouse.move(x, box["y"] + box["height"] / 2)
        expect(rate.locator(".u-legend .u-series", has_text="Success rate").locator(".u-value")).to_have_text("42.03%")
        expect(rate.locator(".u-legend .u-series").first.locator(".u-value")).to_have_text(f"{DAY} {DIP}:00")
        page.mouse.click(x, box["y"] + box["height"] / 2)
        expect(page).to_have_url(re.compile(rf"[?&]at={DAY}T{DIP}%3A00(&|#|$)"))
        drill = page.locator("#drill-down")
        expect(drill).to_contain_text("120 failed in this hour, by reason.")
        expect(page.locator("#failures h2")).to_contain_text(f"Failures from {DAY} {DIP}:00 to {DIP + 1}:00 UTC")
        reasons = page.locator("#failure-reasons tbody tr")
        expect(reasons).to_have_count(2)
        expect(reasons.nth(0)).to_contain_text("The provider answered UNAVAILABLE")
        expect(reasons.nth(0)).to_contain_text("100")
        expect(reasons.nth(1)).to_contain_text("Token rejected")

        # That hour's failures as a CSV: the numbers in the table.
        name, rows = downloaded_rows(page, "#failures a.analytics-csv")
        assert name == f"pushcart-failures-20260310T{DIP}00-20260310T{DIP + 1}00.csv"
        assert rows == [["reason", "failed"], ["UNAVAILABLE", "100"], ["token_invalid", "20"]]

        # The records of that hour, in the failed deliveries list.
        page.click("#failed-records")
        expect(page).to_have_url(re.compile(r"/admin/notifications/faileddelivery/\?"))
        listed = page.locator("#result_list tbody tr")
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text(str(inside.delivery_id))

        # And the whole day's deliveries as a CSV.
        page.go_back()
        page.locator("#drill-down").get_by_role("link", name="Back to the whole period").click()
        expect(page.locator("#drill-down")).to_have_count(0)
        name, rows = downloaded_rows(page, "#chart-deliveries a.analytics-csv")
        assert name == "pushcart-deliveries-20260310T0000-20260311T0000.csv"
        assert rows[0] == ["hour_start_utc", "sent", "delivered", "failed"]
        assert rows[1 + DIP] == [f"{DAY}T{DIP}:00:00Z", "207", "87", "120"]
        assert rows[1 + 9] == [f"{DAY}T09:00:00Z", "107", "105", "2"] and rows[1] == [f"{DAY}T00:00:00Z", "0", "0", "0"]
        page.context.browser.close()


def test_a_marketer_filters_reads_a_campaign_per_variant_and_an_hours_failures(history):
    from playwright.sync_api import expect, sync_playwright

    staff_member("mara", roles.MARKETERS)
    with web_process(database_environment()) as base, sync_playwright() as playwright:
        page = signed_in_page(playwright, base, "mara")
        page.goto(f"{base}/admin/analytics/")
        show_day(page)
        expect(page.locator("[data-total=sent]")).to_have_text(str(11 * 100 + 200 + 12 * 7 + 90))

        # Order updates only: no failures at all that day.
        page.select_option("#id_category", "order_updates")
        page.click("#analytics-filters input[type=submit]")
        expect(page.locator("[data-total=sent]")).to_have_text(str(12 * 7))
        expect(page.locator("[data-total=success_rate]")).to_have_text("100.0%")
        expect(page.locator("#failure-reasons")).to_contain_text("No failures in this period.")
        expect(page.locator("[data-chart=deliveries] .u-legend")).to_contain_text("Sent")

        # The campaign: a chart per variant, the marketer's variant name as text.
        page.select_option("#id_category", "")
        page.select_option("#id_campaign", label="Spring sale")
        page.click("#analytics-filters input[type=submit]")
        expect(page.locator("#analytics-period")).to_contain_text("campaign Spring sale")
        figures = page.locator("[data-variant-charts] figure")
        expect(figures).to_have_count(2)
        expect(figures.nth(0).locator("figcaption")).to_have_text("Variant <b>B</b>")  # by name: "<" < "A"
        expect(figures.nth(1).locator("figcaption")).to_have_text("Variant A")
        expect(page.locator("[data-variant-charts] b")).to_have_count(0)
        expect(figures.nth(0).locator("canvas")).to_be_visible()
        expect(figures.nth(0).locator(".u-legend")).to_contain_text("Opened")
        totals = page.locator("#variant-totals tbody tr")
        expect(totals.nth(0)).to_contain_text("<b>B</b>")
        expect(totals.nth(0)).to_contain_text("30.0%")  # 15 opens of 50 shoppers reached
        name, rows = downloaded_rows(page, "#chart-variants a.analytics-csv")
        assert name == "pushcart-variants-20260310T0000-20260311T0000.csv"
        assert [f"{DAY}T17:00:00Z", "<b>B</b>", "0", "15", "0"] in rows
        assert [f"{DAY}T16:00:00Z", "A", "40", "0", "0"] in rows

        # From the table under the chart (the keyboard's way), an hour's failures; the records are Support's.
        page.select_option("#id_campaign", "")
        page.click("#analytics-filters input[type=submit]")
        page.click("#numbers-success_rate summary")
        page.click(f"#numbers-success_rate tr[data-bucket='{DAY}T{DIP}:00'] a")
        expect(page.locator("#drill-down")).to_contain_text("120 failed in this hour")
        expect(page.locator("#failure-reasons tbody tr")).to_have_count(2)
        expect(page.locator("#failed-records")).to_have_count(0)
        page.context.browser.close()
