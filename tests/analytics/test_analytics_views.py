"""Issue 20, the analytics page: who may open it, that each chart's CSV holds exactly the rollups' numbers (and what
the page plots), that a CSV can't carry a spreadsheet formula, that filters narrow the numbers, that a drill-down
shows one bucket's failures and links Support to their records, and that no querystring makes it fail."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts import roles
from analytics.models import HourlyRollup
from audience.models import Segment
from campaigns.models import Campaign
from devices.models import Device
from notifications.models import Delivery, FailedDelivery
from tests.rows import notification_row
from tests.staff import staff

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/"
DAY = {"period": "custom", "start": "2026-03-10", "end": "2026-03-10"}  # one UTC day: 24 hourly buckets


def at(hour: int, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def rollup(hour: datetime, outcome: str, count: int, **dimensions: object) -> HourlyRollup:
    return HourlyRollup.objects.create(hour=hour, outcome=outcome, count=count, **dimensions)


@pytest.fixture
def history() -> Campaign:
    """A dip at 10:00 (40 of 120 failed), a good 11:00 with opens, a campaign's A/B at 12:00, and a day before."""
    promo = {"category": "promotions", "provider": "fcm"}
    rollup(at(10), "sent", 100, **promo)
    rollup(at(10), "delivered", 60, **promo)
    rollup(at(10), "failed", 30, reason="UNAVAILABLE", **promo)
    rollup(at(10), "failed", 10, reason="token_invalid", **promo)
    rollup(at(10), "sent", 20, category="order_updates", provider="apns")
    rollup(at(10), "delivered", 20, category="order_updates", provider="apns")
    rollup(at(11), "sent", 50, **promo)
    rollup(at(11), "delivered", 50, **promo)
    rollup(at(11), "opened", 12, category="promotions")
    rollup(at(11), "converted", 3, category="promotions")
    campaign = Campaign.objects.create(name="Spring <b>sale</b>", segment=Segment.objects.create(name="All"))
    for variant, delivered, failed in [("A", 4, 1), ("B", 5, 0)]:
        mine = {**promo, "campaign_id": campaign.pk, "variant": variant}
        rollup(at(12), "sent", delivered + failed, **mine)
        rollup(at(12), "delivered", delivered, **mine)
        rollup(at(12), "reached", delivered, category="promotions", campaign_id=campaign.pk, variant=variant)
        if failed:
            rollup(at(12), "failed", failed, reason="QUOTA_EXCEEDED", **mine)
    rollup(at(12), "opened", 2, category="promotions", campaign_id=campaign.pk, variant="B")
    rollup(at(9, day=9), "sent", 999, **promo)  # the day before: in no bucket of DAY
    rollup(at(9, day=9), "delivered", 999, **promo)
    return campaign


def signed_in(client, role: str | None = roles.SUPPORT):  # type: ignore[no-untyped-def]
    client.force_login(User.objects.create_user("no-role", is_staff=True) if role is None else staff(role))
    return client


def rows_of(answer) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.content[:500]
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"].startswith('attachment; filename="pushcart-')
    return list(csv.reader(io.StringIO(answer.content.decode())))


def hourly(values: dict[int, list[object]], zeros: list[object]) -> list[list[str]]:
    """The day's 24 rows: the given hours' values, zeros (or blanks) elsewhere."""
    return [[f"2026-03-10T{h:02d}:00:00Z", *map(str, values.get(h, zeros))] for h in range(24)]


def chart_data(answer) -> dict:  # type: ignore[no-untyped-def]
    found = re.search(rb'<script id="analytics-data" type="application/json">(.*?)</script>', answer.content, re.S)
    assert found, "the page carries its chart data"
    return json.loads(found.group(1))


@pytest.mark.parametrize("role", [roles.MARKETERS, roles.SUPPORT, roles.ADMINISTRATORS])
def test_each_role_opens_the_page_from_the_index(client, role):
    signed_in(client, role)
    assert URL in client.get("/admin/").content.decode()
    assert client.get(URL).status_code == 200


def test_staff_without_the_permission_are_refused_and_anonymous_visitors_sent_to_sign_in(client, history):
    assert client.get(URL).status_code == 302
    assert client.get(URL, {**DAY, "format": "csv", "chart": "deliveries"})["Location"].startswith("/admin/login/")
    signed_in(client, None)
    assert URL not in client.get("/admin/").content.decode()
    page = client.get(URL)
    assert page.status_code == 403
    assert b"permission-denied" in page.content  # the admin's own 403 page, not a bare one
    assert client.get(URL, {**DAY, "format": "csv", "chart": "deliveries"}).status_code == 403


def test_each_csv_holds_the_rollups_numbers_and_the_page_plots_the_same(client, history):
    signed_in(client)
    deliveries = rows_of(client.get(URL, {**DAY, "format": "csv", "chart": "deliveries"}))
    assert deliveries == [
        ["hour_start_utc", "sent", "delivered", "failed"],
        *hourly({10: [120, 80, 40], 11: [50, 50, 0], 12: [10, 9, 1]}, [0, 0, 0]),
    ]
    rates = rows_of(client.get(URL, {**DAY, "format": "csv", "chart": "success_rate"}))
    assert rates == [
        ["hour_start_utc", "delivered", "failed", "success_rate_percent"],
        *hourly({10: [80, 40, 66.67], 11: [50, 0, 100.0], 12: [9, 1, 90.0]}, [0, 0, ""]),
    ]
    engagement = rows_of(client.get(URL, {**DAY, "format": "csv", "chart": "engagement"}))
    assert engagement[1:] == hourly({11: [12, 3], 12: [2, 0]}, [0, 0])
    failures = rows_of(client.get(URL, {**DAY, "format": "csv", "chart": "failures"}))
    assert failures == [["reason", "failed"], ["UNAVAILABLE", "30"], ["token_invalid", "10"], ["QUOTA_EXCEEDED", "1"]]

    # What the page draws is the same list of numbers, bucket by bucket.
    page = client.get(URL, DAY)
    data = chart_data(page)
    assert data["times"] == [int(at(h).timestamp()) for h in range(24)]
    drawn = data["charts"]["deliveries"]["series"]
    assert [s["label"] for s in drawn] == ["Sent", "Delivered", "Failed"]
    assert [[str(v) for v in s["values"]] for s in drawn] == [[row[i] for row in deliveries[1:]] for i in (1, 2, 3)]
    rate_values = data["charts"]["success_rate"]["series"][0]["values"]
    assert [("" if v is None else str(v)) for v in rate_values] == [row[3] for row in rates[1:]]
    text = page.content.decode()
    assert re.search(r'data-total="sent">180<', text) and re.search(r'data-total="success_rate">77.22%<', text)


def test_a_csv_cell_never_starts_a_spreadsheet_formula(client, history):
    hostile = ['=HYPERLINK("http://evil","x")', "+41 22", "-2+3", "@SUM(A1:A9)", "\tTAB"]
    for reason in hostile:
        rollup(at(15), "failed", 1, category="promotions", provider="fcm", reason=reason)
    rollup(at(15), "reached", 1, category="promotions", campaign_id=history.pk, variant="=cmd|x")
    signed_in(client, roles.MARKETERS)
    reasons = {row[0] for row in rows_of(client.get(URL, {**DAY, "format": "csv", "chart": "failures"}))[1:]}
    assert {f"'{r}" for r in hostile} <= reasons
    assert not any(cell[:1] in "=+-@\t" for cell in reasons)
    variants = rows_of(client.get(URL, {**DAY, "campaign": history.pk, "format": "csv", "chart": "variants"}))
    assert {row[1] for row in variants[1:]} == {"'=cmd|x", "A", "B"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "order_updates"}, {10: [20, 20, 0]}),
        ({"provider": "fcm"}, {10: [100, 60, 40], 11: [50, 50, 0], 12: [10, 9, 1]}),
        ({"provider": "apns", "category": "promotions"}, {}),
        ("campaign", {12: [10, 9, 1]}),
    ],
)
def test_filters_narrow_the_numbers(client, history, filters, expected):
    signed_in(client, roles.MARKETERS)
    if filters == "campaign":
        filters = {"campaign": str(history.pk)}
    answer = client.get(URL, {**DAY, **filters, "format": "csv", "chart": "deliveries"})
    assert rows_of(answer)[1:] == hourly(expected, [0, 0, 0])
    page = client.get(URL, {**DAY, **filters})
    assert b'id="analytics-errors"' not in page.content
    if not expected:
        assert b"No pushes in this period." in page.content


def test_day_buckets_and_the_last_seven_days(client, history):
    signed_in(client)
    days = {"period": "custom", "start": "2026-03-09", "end": "2026-03-11", "format": "csv", "chart": "deliveries"}
    assert rows_of(client.get(URL, days)) == [
        ["day_start_utc", "sent", "delivered", "failed"],
        ["2026-03-09T00:00:00Z", "999", "999", "0"],
        ["2026-03-10T00:00:00Z", "180", "139", "41"],
        ["2026-03-11T00:00:00Z", "0", "0", "0"],
    ]
    now = timezone.now()
    rollup(now - timedelta(days=2), "sent", 7, category="promotions", provider="fcm")
    week = rows_of(client.get(URL, {"period": "7d", "format": "csv", "chart": "deliveries"}))[1:]
    assert len(week) == 7 and week[-1][0] == f"{now:%Y-%m-%d}T00:00:00Z"
    assert [row[1] for row in week] == ["0", "0", "0", "0", "7", "0", "0"]
    by_hour = rows_of(client.get(URL, {"format": "csv", "chart": "deliveries"}))[1:]  # the default: 24 h by hour
    assert len(by_hour) == 24 and by_hour[-1][0] == f"{now:%Y-%m-%dT%H}:00:00Z"


def failed_record(created_at: datetime, provider: str, code: str) -> FailedDelivery:
    device = Device.objects.create(
        user_id=f"u-{code}", platform="android", provider=provider, token=f"t-{code}-{created_at:%H%M}"
    )
    notification = notification_row(
        user_id=device.user_id, title="t", body="b", category="promotions", source="api", status="sending"
    )
    delivery = Delivery.objects.create(notification=notification, device=device, provider=provider, status="failed")
    return FailedDelivery.objects.create(
        delivery=delivery,
        reason=f"{code} answered",
        provider_code=code,
        payload={"provider": provider},
        created_at=created_at,
    )


def test_a_drill_down_shows_one_hours_failures_and_links_support_to_their_records(client, history):
    signed_in(client)
    page = client.get(URL, DAY)
    text = page.content.decode()
    link = re.search(r'<a href="([^"]*at=2026-03-10T10%3A00[^"]*)">Failures in this hour</a>', text)
    assert link, "the 10:00 row links to its failures"
    assert "at=2026-03-10T11" not in text  # nothing failed at 11:00: no link

    drilled = client.get(URL + link.group(1).replace("&amp;", "&"))
    text = drilled.content.decode()
    assert "Failures from 2026-03-10 10:00 to 11:00 UTC" in text
    reasons = re.findall(r'<tr data-reason="([^"]*)">', text)
    assert reasons == ["UNAVAILABLE", "token_invalid"]  # not 12:00's QUOTA_EXCEEDED
    failures_csv = re.search(r'href="([^"]*chart=failures[^"]*)"', text).group(1).replace("&amp;", "&")
    assert rows_of(client.get(URL + failures_csv))[1:] == [["UNAVAILABLE", "30"], ["token_invalid", "10"]]

    records = re.search(r'<a id="failed-records" href="([^"]+)"', text).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(records).query)
    assert query == {"created_at__gte": ["2026-03-10T10:00:00+00:00"], "created_at__lt": ["2026-03-10T11:00:00+00:00"]}
    inside = failed_record(at(10) + timedelta(minutes=20), "fcm", "UNAVAILABLE")
    failed_record(at(11) + timedelta(minutes=1), "fcm", "INTERNAL")
    failed_record(at(9) + timedelta(minutes=59), "fcm", "INTERNAL")
    listed = client.get(records)
    assert listed.status_code == 200  # not the admin's redirect to ?e=1 for a lookup it doesn't allow
    assert [r.pk for r in listed.context["cl"].result_list] == [inside.pk]

    # Each reason links to its own records, but a rejected token leaves none (its device is removed).
    rows = dict(re.findall(r'<tr data-reason="([^"]*)">(.*?)</tr>', text, re.S))
    by_reason = {r: "".join(re.findall(r'<a href="([^"]*)" data-records>', row)) for r, row in rows.items()}
    assert by_reason["token_invalid"] == ""
    assert parse_qs(urlsplit(by_reason["UNAVAILABLE"].replace("&amp;", "&")).query)["provider_code"] == ["UNAVAILABLE"]
    failed_record(at(10) + timedelta(minutes=30), "apns", "INTERNAL")  # the same hour: another reason, provider
    listed = client.get(by_reason["UNAVAILABLE"].replace("&amp;", "&"))
    assert [r.pk for r in listed.context["cl"].result_list] == [inside.pk]

    # With a provider chosen the records are narrowed to it too.
    narrowed = client.get(URL, {**DAY, "provider": "fcm", "at": "2026-03-10T10:00"}).content.decode()
    records = re.search(r'<a id="failed-records" href="([^"]+)"', narrowed).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(records).query)["provider"] == ["fcm"]
    assert [r.pk for r in client.get(records).context["cl"].result_list] == [inside.pk]


def test_marketers_see_the_reasons_of_a_dip_without_the_records_they_may_not_open(client, history):
    signed_in(client, roles.MARKETERS)
    text = client.get(URL, {**DAY, "at": "2026-03-10T10:00"}).content.decode()
    assert re.findall(r'<tr data-reason="([^"]*)">', text) == ["UNAVAILABLE", "token_invalid"]
    assert 'id="failed-records"' not in text and "/admin/notifications/faileddelivery/" not in text


def test_a_campaign_shows_its_variants_each_with_its_chart_data(client, history):
    signed_in(client, roles.MARKETERS)
    page = client.get(URL, {**DAY, "campaign": history.pk})
    text = page.content.decode()
    assert "Spring &lt;b&gt;sale&lt;/b&gt;" in text and "<b>sale</b>" not in text
    variants = chart_data(page)["variants"]
    assert [v["name"] for v in variants] == ["A", "B"]
    b = variants[1]
    assert [s["label"] for s in b["series"]] == ["Reached", "Opened", "Converted"]
    noon = b["times"].index(int(at(12).timestamp()))
    assert [s["values"][noon] for s in b["series"]] == [5, 2, 0]
    rows = rows_of(client.get(URL, {**DAY, "campaign": history.pk, "format": "csv", "chart": "variants"}))
    assert rows[0] == ["hour_start_utc", "variant", "reached", "opened", "converted"]
    assert ["2026-03-10T12:00:00Z", "A", "4", "0", "0"] in rows and ["2026-03-10T12:00:00Z", "B", "5", "2", "0"] in rows
    assert b"Campaign results per variant" not in client.get(URL, DAY).content  # only with a campaign chosen


def test_an_empty_period_says_so(client):
    signed_in(client)
    page = client.get(URL)
    assert page.status_code == 200
    assert b"No pushes in this period." in page.content
    assert rows_of(client.get(URL, {"format": "csv", "chart": "deliveries"}))[1][1:] == ["0", "0", "0"]


HOSTILE = [
    {"period": "<script>alert(1)</script>"},
    {"period": "custom", "start": "9999-99-99", "end": "2026-03-10"},
    {"period": "custom", "start": "2026-03-10", "end": "2026-03-01"},
    {"period": "custom", "start": "1900-01-01", "end": "2026-03-10"},
    {"period": "custom", "start": "9999-12-30", "end": "9999-12-31"},
    {"period": "custom", "start": "0001-01-01", "end": "0001-01-01"},
    {"period": "custom", "start": "2026-03-10\x00", "end": "2026-03-10"},
    {"period": "custom"},
    {"bucket": "minute"},
    {"bucket": "hour", "period": "custom", "start": "2025-01-01", "end": "2026-03-10"},
    {"category": "' OR 1=1 --"},
    {"provider": "<img src=x onerror=alert(1)>"},
    {"campaign": "abc"},
    {"campaign": "99999999999999999999999999"},
    {"campaign": "-1"},
    {"at": "garbage<script>"},
    {"at": "2020-01-01T10:00"},
    {"at": "9" * 5000},
    {"period": ["7d", "30d"], "category": ["a", "b"]},
]


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_querystring_gets_the_defaults_or_a_400_never_a_500(client, history, query):
    signed_in(client)
    page = client.get(URL, query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "<script>alert" not in text and "<img src=x" not in text
    download = client.get(URL, {**query, "format": "csv", "chart": "deliveries"})
    assert download.status_code in (200, 400)
    if download.status_code == 200:  # a value it accepted: the download holds what the page shows
        assert 'id="analytics-errors"' not in text


@pytest.mark.parametrize("chart", ["", "nope", "<script>", "../../etc/passwd"])
def test_a_csv_of_no_chart_is_a_400(client, history, chart):
    signed_in(client)
    answer = client.get(URL, {**DAY, "format": "csv", "chart": chart})
    assert answer.status_code == 400 and answer["Content-Type"].startswith("text/plain")
