"""Issue 20, hourly rollups: what the engine wrote, counted once by the beat job, whatever crashes or runs again.

Sends go through the real engine against pushsim (a retry, failures, an invalid token, a held-back notification,
a shopper without a device, an open, a campaign with a conversion); the rollups are then compared with counts
taken from the raw rows in another way (FailedDelivery records, delivery states), not with the rollup's own SQL.
Time is moved by passing `now=`: the job counts facts older than the horizon (ANALYTICS_ROLLUP_HORIZON_SECONDS).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts import roles
from analytics import rollup, selectors
from analytics.models import HourlyRollup, RollupWatermark
from campaigns import services
from campaigns.models import Campaign, CampaignRun, CampaignVariant
from campaigns.results import results, timeline
from config import partitions
from events.models import Event
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    FailedDelivery,
    Notification,
    NotificationStatus,
)
from preferences.services import update_preferences
from templates.models import MessageTemplate
from tests.campaigns.conftest import device, segment
from tests.engine.conftest import engine, run_until_settled, shopper  # noqa: F401 - the engine's fixtures
from tests.rows import notification_row
from tests.staff import staff

pytestmark = pytest.mark.django_db(transaction=True)


def later(seconds: int = 1) -> datetime:
    """A `now` at which everything written so far is older than the horizon (`seconds` 0: the watermarks move to
    now, and what is written next is newer)."""
    return timezone.now() + timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS + seconds)


def send(client, user_id: str, category: str = "order_updates"):  # type: ignore[no-untyped-def]
    answer = client.post(
        "/api/v1/notifications/",
        {"title": "Order 12", "body": "On its way", "category": category, "user_id": user_id},
        format="json",
    )
    assert answer.status_code in (201, 202), answer.content
    return answer


@pytest.fixture
def history(engine, shopper, service_client, app_client):  # noqa: F811  # type: ignore[no-untyped-def]
    """Direct sends: delivered, delivered on a retry, failed after retries, refused, a dead token, no device,
    a frequency cap reached (two promotions a day by default; the third is held back), and an open."""
    engine.configure(retry_after=0)
    shopper("ann", "ok-ann", "flaky-1-ann")  # delivered; delivered at the second attempt
    shopper("bob", "unavailable-bob", "invalid-bob", "unregistered-bob")  # gives up; refused; token invalid
    shopper("dan", "ok-dan", "ios-ok-dan")  # two providers
    client = service_client("notifications:write")
    for user in ("ann", "bob", "cat"):  # cat has no device
        send(client, user)
    for _ in range(3):
        send(client, "dan", "promotions")
    run_until_settled()
    opened = Notification.objects.filter(user_id="ann").get()
    assert app_client("ann").post(f"/api/v1/notifications/{opened.pk}/opened/").status_code == 200


def raw_counts() -> Counter[tuple[str, str]]:
    """What the rollups must hold, counted from the raw rows' states and records (not the rollup's rules)."""
    counts: Counter[tuple[str, str]] = Counter()
    attempts = DeliveryAttempt.objects.all()
    # A push delivered at its first try has no attempt row (notifications.attempts): its delivery is that attempt.
    first_try = Delivery.objects.filter(status=DeliveryStatus.DELIVERED, attempts=1).count()
    counts["sent", ""] = attempts.exclude(outcome="permanent", provider_code="expired").count() + first_try
    counts["delivered", ""] = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    for code in FailedDelivery.objects.values_list("provider_code", flat=True):
        counts["failed", code] += 1
    counts["failed", "token_invalid"] = Delivery.objects.filter(status=DeliveryStatus.TOKEN_INVALID).count()
    counts["reached", ""] = Notification.objects.filter(deliveries__status=DeliveryStatus.DELIVERED).distinct().count()
    counts["targeted", ""] = Notification.objects.count()
    for policy in Notification.objects.filter(status=NotificationStatus.SUPPRESSED).values_list("policy", flat=True):
        counts["suppressed", policy] += 1
    counts["no_device", ""] = Notification.objects.filter(status=NotificationStatus.NO_DEVICE).count()
    counts["opened", ""] = Notification.objects.filter(opened_at__isnull=False).count()
    return +counts  # without zeros


def rolled_up(**dimensions: object) -> Counter[tuple[str, str]]:
    rows = HourlyRollup.objects.filter(**dimensions).values_list("outcome", "reason").annotate(n=Sum("count"))
    return +Counter({(outcome, reason): n for outcome, reason, n in rows})


def test_the_rollups_count_what_the_engine_wrote_once(history):
    expected = raw_counts()
    # What the history is meant to hold, so that the comparison below compares something.
    assert expected["failed", "UNAVAILABLE"] == 1 and expected["failed", "INVALID_ARGUMENT"] == 1
    assert expected["failed", "token_invalid"] == 1 and expected["suppressed", "capped"] == 1
    assert expected["no_device", ""] == 1 and expected["opened", ""] == 1
    assert expected["sent", ""] > expected["delivered", ""] + 3  # the retries were sent too

    counted = rollup.roll_up(now=later())
    assert counted["attempts"] == sum(
        n for (o, _), n in expected.items() if o in ("sent", "delivered", "failed", "reached")
    )
    assert rolled_up() == expected
    # Per provider and category, as the charts filter.
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
    for provider in ("fcm", "apns"):
        assert rolled_up(provider=provider)["delivered", ""] == delivered.filter(provider=provider).count()
    assert rolled_up(category="promotions")["targeted", ""] == 3
    # Notification-level outcomes carry no provider.
    assert set(
        HourlyRollup.objects.filter(outcome__in=["reached", "opened", "suppressed"]).values_list("provider", flat=True)
    ) == {""}

    # A second run (and a third, later still) counts nothing again.
    assert rollup.roll_up(now=later(2))["attempts"] == 0
    rollup.roll_up(now=later(3600))
    assert rolled_up() == expected


def test_a_crash_before_the_commit_counts_nothing_and_the_next_run_counts_once(history, monkeypatch):
    expected = raw_counts()
    move = rollup._move_watermarks

    def crash(moved: dict[str, datetime]) -> None:
        move(moved)  # the counts are upserted and the watermarks moved: only the commit is missing
        raise RuntimeError("worker killed")

    monkeypatch.setattr(rollup, "_move_watermarks", crash)
    with pytest.raises(RuntimeError):
        rollup.roll_up(now=later())
    assert not HourlyRollup.objects.exists() and not RollupWatermark.objects.exists()

    monkeypatch.setattr(rollup, "_move_watermarks", move)
    rollup.roll_up(now=later())
    assert rolled_up() == expected


def test_facts_younger_than_the_horizon_wait_for_a_later_run(history):
    expected = raw_counts()
    now = timezone.now()
    assert not any(rollup.roll_up(now=now).values())
    assert not HourlyRollup.objects.exists()
    marks = dict(RollupWatermark.objects.values_list("source", "counted_until"))
    assert set(marks.values()) == {now - timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS)}

    # The attempts sent in the first minute are old enough a minute later; the rest wait for the next run.
    first = DeliveryAttempt.objects.order_by("sent_at").first()
    assert first is not None
    first_delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).order_by("updated_at").first()
    assert first_delivered is not None
    oldest = min(first.sent_at, first_delivered.updated_at)
    rollup.roll_up(now=oldest + timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS))
    assert 0 < rolled_up()["sent", ""] < expected["sent", ""]
    rollup.roll_up(now=later())
    assert rolled_up() == expected


def test_a_database_with_history_is_rolled_up_in_bounded_runs(history, settings):
    expected = raw_counts()
    settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS = 900
    # Everything happened a day ago: the first watermark goes before the oldest notification, and each run
    # takes 15 minutes of it until the horizon is reached.
    day = timedelta(days=1)
    moved = (Notification, "created_at"), (Notification, "updated_at"), (DeliveryAttempt, "sent_at")
    for model, field in (*moved, (Delivery, "updated_at")):
        for pk, value in model.objects.exclude(**{field: None}).values_list("pk", field):
            model.objects.filter(pk=pk).update(**{field: value - day})
    Notification.objects.filter(opened_at__isnull=False).update(opened_at=timezone.now() - day)
    assert rollup.roll_up()["behind"]
    oldest = Notification.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    start = oldest - timedelta(seconds=settings.ANALYTICS_ROLLUP_HORIZON_SECONDS)
    mark = RollupWatermark.objects.get(source="attempts").counted_until
    assert mark == start + timedelta(minutes=15)
    # The beat task runs until it has caught up (within its budget): the rest of the day, 15 minutes a run.
    assert rollup.catch_up(budget_seconds=600)["behind"] == 0
    assert rolled_up() == expected


def test_rollups_older_than_the_retention_are_deleted():
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    days = settings.ANALYTICS_ROLLUP_RETENTION_DAYS
    for age in (days + 1, days - 1):
        HourlyRollup.objects.create(hour=now - timedelta(days=age), outcome="sent", count=5)
    assert rollup.forget_old_rollups(now=now) == 1
    assert list(HourlyRollup.objects.values_list("hour", flat=True)) == [now - timedelta(days=days - 1)]


def test_the_index_card_adds_the_minutes_past_the_watermark_to_the_rollups_once(history, client):
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    failed = len(FailedDelivery.objects.all()) + Delivery.objects.filter(status=DeliveryStatus.TOKEN_INVALID).count()
    expected = (delivered, delivered + failed)

    def card() -> list[tuple[int, int]]:
        return [(rate.delivered, rate.finished) for rate in selectors.success_rates()]

    assert card() == [expected, expected]  # nothing rolled up yet: all from the last minutes
    rollup.roll_up(now=timezone.now() - timedelta(hours=1))  # the watermarks start an hour before
    assert card() == [expected, expected]
    # Half the attempts are old enough to be rolled up, the others not yet: the card counts each once.
    attempts = list(DeliveryAttempt.objects.order_by("pk").values_list("pk", flat=True))
    DeliveryAttempt.objects.filter(pk__in=attempts[::2]).update(sent_at=timezone.now() - timedelta(minutes=30))
    first_tries = Delivery.objects.filter(status=DeliveryStatus.DELIVERED, attempts=1).order_by("pk")
    half = list(first_tries.values_list("pk", flat=True))[::2]
    Delivery.objects.filter(pk__in=half).update(updated_at=timezone.now() - timedelta(minutes=30))
    rollup.roll_up(now=timezone.now())
    assert 0 < HourlyRollup.objects.filter(outcome="delivered").aggregate(n=Sum("count"))["n"] < delivered
    assert card() == [expected, expected]
    rollup.roll_up(now=later())
    assert card() == [expected, expected]

    client.force_login(staff(roles.SUPPORT))
    html = client.get("/admin/").content.decode()
    assert f"{expected[0]} delivered of {expected[1]} finished" in html


def test_the_index_card_reads_at_most_an_hour_of_raw_attempts_while_the_rollups_are_behind(history, client):
    """After an outage the watermark is hours old: the card adds the last hour of raw facts only, and says since
    when the rest is not counted yet, instead of reading a day of raw rows."""
    rollup.roll_up(now=timezone.now() - timedelta(hours=5))  # the watermarks stopped 5 hours ago
    assert selectors.success_rates()[1].finished > 0  # all of it within the last hour
    DeliveryAttempt.objects.update(sent_at=timezone.now() - timedelta(hours=3))  # behind the slice: not read
    Delivery.objects.filter(status=DeliveryStatus.DELIVERED, attempts=1).update(
        updated_at=timezone.now() - timedelta(hours=3)
    )
    day = selectors.success_rates()[1]
    assert (day.delivered, day.finished) == (0, 0)
    assert day.uncounted_since is not None and day.uncounted_since < timezone.now() - timedelta(hours=4)
    client.force_login(staff(roles.SUPPORT))
    assert "The hourly counts are catching up" in client.get("/admin/").content.decode()


# campaigns.results before the rollups: each variant's notifications, those delivered to a device at least once,
# opened, and converted (the conversion event within the window from the first delivery). The reference here.
RAW_PER_VARIANT = """
SELECT n.variant, count(*),
       count(*) FILTER (WHERE dl.first IS NOT NULL),
       count(*) FILTER (WHERE n.opened_at IS NOT NULL),
       count(*) FILTER (WHERE dl.first IS NOT NULL AND EXISTS (
           SELECT 1 FROM events_event e
           WHERE e.user_id = n.user_id AND e.type = %s AND e.occurred_at >= dl.first AND e.occurred_at < dl.first + %s))
FROM notifications_notification AS n
LEFT JOIN LATERAL (
    SELECT min(d.updated_at) AS first FROM notifications_delivery AS d
    WHERE d.notification_id = n.id AND d.status = 'delivered'
) AS dl ON TRUE
WHERE n.source = 'campaign' AND n.source_ref = ANY(%s)
GROUP BY n.variant ORDER BY n.variant
"""


def raw_per_variant(campaign: Campaign) -> list[tuple[str, int, int, int, int]]:
    from django.db import connection

    refs = [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute(RAW_PER_VARIANT, [campaign.conversion_event, campaign.conversion_window, refs])
        return [(name, *counts) for name, *counts in cursor.fetchall()]


def per_variant(campaign: Campaign) -> list[tuple[str, int, int, int, int]]:
    return [(v.name, v.targeted, v.delivered, v.opened, v.converted) for v in results(campaign).variants]


def convert(user_id: str, key: str) -> None:
    Event.objects.create(
        producer="test", idempotency_key=key, type="checkout_completed", user_id=user_id, occurred_at=timezone.now()
    )


def test_campaign_results_come_from_the_rollups_and_outlive_the_raw_rows(engine, app_client):  # noqa: F811
    users = [f"v-{i:02d}" for i in range(12)]
    for user in users:
        device(user)
    device(users[0], platform="ios")  # two devices: delivered twice, one shopper reached
    device(users[1], token=f"unavailable-{users[1]}")  # and one that fails: still reached once
    update_preferences(users[2], categories={"promotions": False})  # held back: opted out
    c = Campaign.objects.create(name="Weekend", segment=segment("all"), context={"d": "20%"})
    for name in "AB":
        key = f"deal_{name.lower()}"
        template = MessageTemplate.objects.create(
            key=key, name=key, category="promotions", priority="normal", title="{{ d }} off", body="Now."
        )
        CampaignVariant.objects.create(campaign=c, name=name, template=template, weight=1)
    run = services.launch(c)
    assert run is not None
    engine.configure(retry_after=0)
    run_until_settled()
    sent = {n.user_id: n for n in Notification.objects.filter(source_ref=str(run.pk), status="sending")}

    def open_for(user: str) -> None:
        assert app_client(user).post(f"/api/v1/notifications/{sent[user].pk}/opened/").status_code == 200

    for user in users[:2]:
        open_for(user)
    convert(users[0], "c-1")
    convert(users[0], "c-2")  # a second checkout in the window converts nobody twice
    expected = raw_per_variant(c)
    assert sum(row[4] for row in expected) == 1 and sum(row[3] for row in expected) == 2
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    assert delivered == len(users)  # 10 shoppers' devices, the first's two, none of the failing one's
    line = timeline(c)
    assert (sum(line.delivered), sum(line.opened)) == (delivered, 2)

    # A run being sent: the rollups (none yet) and its rows past the watermarks.
    assert per_variant(c) == expected
    assert results(c).held_back == {"opted_out": 1}
    # Rolled up: the same, each counted once.
    rollup.roll_up(now=later(0))
    assert per_variant(c) == expected
    # The run finished long ago: its counts are the rollups', and an open or a conversion arriving now (after the
    # watermark) is counted at once, and once more when rolled up.
    two_days_ago = timezone.now() - timedelta(days=2)
    CampaignRun.objects.filter(pk=run.pk).update(started_at=two_days_ago, finished_at=two_days_ago)
    open_for(users[3])
    convert(users[3], "c-3")
    expected = raw_per_variant(c)
    assert sum(row[4] for row in expected) == 2 and sum(row[3] for row in expected) == 3
    assert per_variant(c) == expected
    rollup.roll_up(now=later())
    assert per_variant(c) == expected
    # The raw rows can go: results, and the chart by the hour, are the rollups'.
    Notification.objects.filter(source_ref=str(run.pk)).delete()
    assert per_variant(c) == expected
    assert results(c).held_back == {"opted_out": 1}
    line = timeline(c)
    assert line.unit == "hour" and (sum(line.delivered), sum(line.opened)) == (delivered, 3)


def test_the_charts_selectors_read_the_rolled_up_history(history):
    expected = raw_counts()
    rollup.roll_up(now=later())
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    window = selectors.Filters(start=hour - timedelta(hours=2), end=hour + timedelta(hours=1))
    counts = selectors.series(["sent", "delivered", "failed"], window, bucket="hour")
    assert [at for at, _ in counts["sent"]] == [hour - timedelta(hours=2), hour - timedelta(hours=1), hour]
    # The history is seconds old (its hour, or the one before if the test crossed an hour): earlier hours are zeros.
    assert counts["delivered"][0][1] == 0 and sum(n for _, n in counts["delivered"]) == expected["delivered", ""]
    failed = sum(n for (outcome, _), n in expected.items() if outcome == "failed")
    assert sum(n for _, n in counts["failed"]) == failed
    rate = selectors.success_rate(counts["delivered"][-1:], counts["failed"][-1:])
    delivered_now, failed_now = counts["delivered"][-1][1], counts["failed"][-1][1]
    finished_now = delivered_now + failed_now
    assert rate == [(hour, delivered_now / finished_now if finished_now else None)]
    assert selectors.success_rate(counts["delivered"][:1], counts["failed"][:1]) == [(hour - timedelta(hours=2), None)]
    by_day = selectors.series(["sent"], window, bucket="day")["sent"]
    assert sum(n for _, n in by_day) == expected["sent", ""]
    # Narrowed as the charts' filters narrow them.
    apns = selectors.Filters(start=window.start, end=window.end, provider="apns")
    assert sum(n for _, n in selectors.series(["delivered"], apns, bucket="hour")["delivered"]) == 2  # dan's iPhone
    promotions = selectors.Filters(start=window.start, end=window.end, category="promotions")
    assert selectors.failures_by_reason(promotions) == []
    reasons = selectors.failures_by_reason(window)
    assert sorted(reasons) == sorted((r, n) for (o, r), n in expected.items() if o == "failed")
    assert [n for _, n in reasons] == sorted((n for _, n in reasons), reverse=True)
    assert selectors.choices() == {
        "categories": sorted(settings.NOTIFICATION_CATEGORIES),
        "providers": ["apns", "fcm", "webpush"],
        "campaigns": [],
    }


def test_conversions_look_only_at_notifications_that_could_be_delivered_in_the_window(settings):
    """The conversions' lookup is bounded (a notification's TTL from its due time), and loses none: a push
    written days before it went out (deferred, or a local-time send) still converts; one delivered before the
    window, or that could not be delivered any more, does not."""
    settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS = 40 * 86400  # one run over the whole history
    c = Campaign.objects.create(name="Late", segment=segment("all"), context={}, conversion_window=timedelta(hours=6))
    run = CampaignRun.objects.create(campaign=c)
    now = timezone.now()
    checkout = now - timedelta(minutes=20)  # older than the horizon
    shoppers = {"deferred": 10 * 24, "old": 3 * 24, "expired": 12 * 24}  # created so many hours ago
    for user, hours in shoppers.items():
        created = now - timedelta(hours=hours)
        to = device(user)
        n = notification_row(
            user_id=user, title="t", body="b", category="promotions", source="campaign", source_ref=str(run.pk),
            status="sending", created_at=created, ttl_seconds=86400,
            send_at=now - timedelta(hours=2) if user == "deferred" else None,
        )  # fmt: skip
        # Delivered an hour before the checkout (the deferred one), else at once when written.
        delivered = checkout - timedelta(hours=1) if user == "deferred" else created
        Delivery.objects.create(notification=n, device=to, provider="fcm", status="delivered", updated_at=delivered)
        Event.objects.create(
            producer="test", idempotency_key=f"checkout-{user}", type="checkout_completed", user_id=user,
            occurred_at=checkout, received_at=checkout,
        )  # fmt: skip
    expected = raw_per_variant(c)
    assert expected == [("", 3, 3, 0, 1)]  # the deferred push only
    rollup.roll_up(now=now)
    assert HourlyRollup.objects.filter(outcome="converted").aggregate(n=Sum("count"))["n"] == 1
    assert per_variant(c)[0][4] == 1  # (no attempts written here: "reached" counts those)


def test_a_campaign_page_reads_at_most_an_hour_of_raw_facts_while_the_rollups_are_behind(settings):
    """After an outage the watermarks are hours old: the page counts the rollups and the last RAW_SLICE of raw
    facts only (a bounded read), and says what it leaves out until the rollups catch up."""
    from campaigns.results import as_message, timeline

    c = Campaign.objects.create(name="Behind", segment=segment("all"), context={})
    run = CampaignRun.objects.create(campaign=c)
    now = timezone.now()
    for user, minutes in (("early", 180), ("recent", 20)):
        notification_row(
            user_id=user, title="t", body="b", category="promotions", source="campaign", source_ref=str(run.pk),
            status="sending", created_at=now - timedelta(minutes=minutes),
        )  # fmt: skip
    stale = now - timedelta(hours=5)
    for source in selectors.SOURCE_NAMES:
        RollupWatermark.objects.create(source=source, counted_until=stale)
    found = results(c)
    assert per_variant(c) == [("all", 1, 0, 0, 0)]  # the push of 20 minutes ago; not the one of 3 hours ago
    assert found.missing is not None and found.missing[0] == stale
    assert "catching up" in as_message(found, timeline(c))["behind"]
    # Caught up: everything counted, nothing left out.
    settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS = 86400
    rollup.roll_up(now=later())
    assert per_variant(c) == [("all", 2, 0, 0, 0)] and results(c).missing is None
    assert as_message(results(c), timeline(c))["behind"] == ""


def test_facts_are_counted_whatever_day_their_rows_ids_carry(settings):
    """The rollup reads only the partitions that can hold a range's facts (config.partitions): those it skips must
    hold none. A campaign push whose id was taken three days before it was written (its batch waited), a delivery
    planned yesterday whose first attempt failed yesterday and second delivered today, and a push of the rows
    converted from before partitioning (ids below the first day's): every fact counted, once."""
    settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS = 10 * 86400  # one run over the whole history
    now = timezone.now()
    today = partitions.today()
    days = {n: today - timedelta(days=n) for n in (3, 2, 1)}
    for table in partitions.partitioned_tables():
        partitions.create_partitions(table, days[3], today)
    waited = notification_row(
        pk=partitions.first_id(days[3]) + 7, user_id="ann", title="t", body="b", category="promotions",
        status="sending", created_at=now - timedelta(days=1, hours=2), updated_at=now - timedelta(days=1, hours=2),
        opened_at=now - timedelta(minutes=30),
    )  # fmt: skip
    retried = Delivery.objects.create(
        pk=partitions.first_id(days[1]) + 7, notification=waited, device=device("ann"), provider="fcm",
        status="delivered", attempts=2, updated_at=now - timedelta(minutes=40),
    )  # fmt: skip
    for number, sent_at, outcome, pk in (
        (1, now - timedelta(days=1), "retry", partitions.first_id(days[1]) + 8),
        (2, now - timedelta(minutes=40), "delivered", partitions.first_id(today) + 8),
    ):
        DeliveryAttempt.objects.create(pk=pk, delivery=retried, number=number, sent_at=sent_at, outcome=outcome)
    converted = notification_row(
        pk=9, user_id="bob", title="t", body="b", category="promotions", status="sending",
        created_at=now - timedelta(hours=3), updated_at=now - timedelta(hours=3),
    )  # fmt: skip
    Delivery.objects.create(
        pk=9, notification=converted, device=device("bob"), provider="fcm", status="delivered", attempts=1,
        updated_at=now - timedelta(hours=2),
    )  # fmt: skip
    expected = raw_counts()
    assert expected == {("targeted", ""): 2, ("sent", ""): 3, ("delivered", ""): 2, ("reached", ""): 2,
                        ("opened", ""): 1}  # fmt: skip

    rollup.roll_up(now=later())
    assert rolled_up() == expected
