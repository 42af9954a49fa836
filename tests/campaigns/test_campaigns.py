"""Campaigns through the real engine (tasks eager; real PostgreSQL, Redis, simulator)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audience.models import Segment
from campaigns import batches, fanout, progress, services
from campaigns.models import (
    BatchStatus,
    Campaign,
    CampaignBatch,
    CampaignRun,
    CampaignStatus,
    CampaignVariant,
    RunStatus,
)
from campaigns.results import results, two_proportion_p_value
from campaigns.variants import Arm, assign
from events.ingest import IncomingEvent, ingest_events
from notifications.models import Notification, NotificationStatus
from preferences.services import update_preferences
from templates.models import MessageTemplate

from .conftest import device, segment

pytestmark = pytest.mark.django_db(transaction=True)


def template(key: str = "weekend_deals", title: str = "{{ discount }} off {{ category }}") -> MessageTemplate:
    return MessageTemplate.objects.create(
        key=key, name=key, category="promotions", priority="normal", title=title, body="This weekend only."
    )


def campaign(seg: Segment, **fields: object) -> Campaign:
    if "template" not in fields:
        fields["template"] = template()
    return Campaign.objects.create(
        name="Weekend", segment=seg, context={"discount": "20%", "category": "fruit"}, **fields
    )


def shoppers(count: int, prefix: str = "s") -> list[str]:
    users = [f"{prefix}-{i:04d}" for i in range(count)]
    for user in users:
        device(user)
    return users


def test_send_now_reaches_the_segment_once_each_and_completes(engine):
    users = shoppers(5)
    device("outsider", platform="ios")
    seg = segment("android", ("platform", "", "eq", "android"))
    c = campaign(seg)
    run = services.launch(c)
    assert run is not None
    notifications = Notification.objects.filter(source="campaign", source_ref=str(run.pk))
    assert sorted(notifications.values_list("user_id", flat=True)) == users
    assert {n.content.title for n in notifications} == {"20% off fruit"}
    assert all(len(engine.messages(f"ok-{u}-android-{i}")) == 1 for i, u in enumerate(users))
    run.refresh_from_db()
    assert (run.targeted, run.cursor, run.fanned_out_at is not None) == (5, users[-1], True)
    assert progress.finish_runs() == [run.pk]
    c.refresh_from_db()
    assert c.status == CampaignStatus.COMPLETED
    snapshot = progress.snapshot(c)
    assert (snapshot.targeted, snapshot.delivered, snapshot.queued, snapshot.failed) == (5, 5, 0, 0)


def test_a_costly_progress_count_waits_but_a_finished_run_is_counted_at_once(engine, settings):
    layer = get_channel_layer()
    c = campaign(segment("android", ("platform", "", "eq", "android")))
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(progress.group_name(c.pk), channel)
    shoppers(3)
    services.launch(c)

    progress.watch(c.pk)  # what an open page's socket does
    settings.CAMPAIGN_PROGRESS_COST_FACTOR = 1_000_000  # any count now "costs" far more than a beat tick
    assert progress.broadcast() == 1  # the run finishes in this tick: counted at once, whatever it costs
    sent = async_to_sync(layer.receive)(channel)["progress"]
    assert (sent["status"], sent["delivered"], sent["queued"]) == ("completed", 3, 0)
    assert progress.broadcast() == 0  # then it rests

    settings.CAMPAIGN_PROGRESS_COST_FACTOR = 20
    cache.clear()
    assert progress.broadcast() == 0  # nobody has the campaign's page open (any more): nothing is counted
    progress.watch(c.pk)
    assert progress.broadcast() == 1  # a small campaign's count costs milliseconds: no rest
    assert progress.broadcast() == 1


def test_campaign_pushes_pass_shopper_protection_and_say_why_not(engine):
    users = shoppers(3)
    update_preferences(users[0], categories={"promotions": False})
    c = campaign(segment("all"))
    run = services.launch(c)
    first = dict(Notification.objects.filter(source_ref=str(run.pk)).values_list("user_id", "status"))
    assert first == {users[0]: "suppressed", users[1]: "sending", users[2]: "sending"}
    assert results(c).held_back == {"opted_out": 1}
    # A second campaign with its own stricter cap (1 a day): today's first push already used it.
    strict = campaign(
        segment("again"), template=MessageTemplate.objects.get(key="weekend_deals"), max_per_user_per_day=1
    )
    second = Notification.objects.filter(source_ref=str(services.launch(strict).pk))
    assert {n.status_reason for n in second if n.user_id != users[0]} == {
        "Frequency cap reached: 1 marketing push(es) per day."
    }


def test_pause_stops_the_fan_out_and_resume_finishes_without_anyone_twice(settings, engine):
    from config.celery import app

    users = shoppers(25)
    c = campaign(segment("all"), throttle_per_minute=30)  # 5 per page, a page every 10 s
    app.conf.task_always_eager = False  # the pages are driven by hand below, as the worker would
    run = services.launch(c)
    assert fanout.page_size(c) == 5
    assert fanout.fan_out_page(run.pk, "") == users[4]
    services.pause(c)
    assert fanout.fan_out_page(run.pk, users[4]) is None  # a page task arriving after the pause does nothing
    assert batches.waiting_shoppers([run.pk]) == 5
    services.resume(c)
    assert fanout.fan_out_page(run.pk, "stale-cursor") is None  # a duplicate or late task: the cursor moved on
    cursor = users[4]
    while cursor is not None:
        cursor = fanout.fan_out_page(run.pk, cursor)
    for batch_id in CampaignBatch.objects.values_list("pk", flat=True):
        batches.send(batch_id)
        assert batches.send(batch_id) == {}  # a redelivered batch task: already sent
    sent = Counter(Notification.objects.filter(source="campaign").values_list("user_id", flat=True))
    assert sorted(sent) == users and set(sent.values()) == {1}
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENDING}
    run.refresh_from_db()
    assert run.targeted == 25 and run.fanned_out_at is not None


def test_cancel_withdraws_what_is_not_sent_yet(engine):
    from config.celery import app

    shoppers(10)
    c = campaign(segment("all"))
    app.conf.task_always_eager = False  # nothing gets sent: the tasks wait in the broker
    services.launch(c)
    run = c.runs.get()
    fanout.fan_out_page(run.pk, "")
    withdrawn = services.cancel(c)
    assert withdrawn == 10
    assert set(CampaignBatch.objects.values_list("status", flat=True)) == {BatchStatus.CANCELLED}
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    for batch_id in CampaignBatch.objects.values_list("pk", flat=True):  # their tasks arrive after all
        assert batches.send(batch_id) == {}
    assert not Notification.objects.exists()


def test_ab_assignment_is_stable_and_close_to_the_weights():
    arms = [Arm("A", 70), Arm("B", 30)]
    picks = [assign(42, f"user-{i}", arms) for i in range(20_000)]
    share = picks.count("A") / len(picks)
    assert 0.68 < share < 0.72
    assert picks == [assign(42, f"user-{i}", arms) for i in range(20_000)]  # stable
    assert [assign(43, f"user-{i}", arms) for i in range(50)] != picks[:50]  # another campaign, another split


def test_variants_render_their_own_template_and_results_compare_them(engine, app_client):
    shoppers(40)
    c = campaign(segment("all"), template=None)
    CampaignVariant.objects.create(campaign=c, name="A", template=template("deal_a", "A: {{ discount }}"), weight=1)
    CampaignVariant.objects.create(campaign=c, name="B", template=template("deal_b", "B: {{ discount }}"), weight=1)
    run = services.launch(c)
    sent = list(Notification.objects.filter(source_ref=str(run.pk)))
    assert {(n.variant, n.content.title) for n in sent} == {("A", "A: 20%"), ("B", "B: 20%")}
    by_user = {n.user_id: n for n in sent}
    # Every A shopper opens and converts within the window; B shoppers only open.
    for user, notification in by_user.items():
        assert app_client(user).post(f"/api/v1/notifications/{notification.pk}/opened/").status_code == 200
    converted = [u for u, n in by_user.items() if n.variant == "A"]
    ingest_events(
        [IncomingEvent("checkout_completed", u, f"co-{u}", {"cart_id": "1"}) for u in converted], producer="test"
    )
    found = results(c)
    a, b = found.variants
    assert (a.name, a.delivered, a.opened, a.converted) == ("A", len(converted), len(converted), len(converted))
    assert (b.name, b.opened, b.converted) == ("B", b.delivered, 0)
    assert found.comparison.leader == "A" and found.comparison.metric == "conversion"
    assert found.comparison.significant


def test_a_conversion_outside_the_window_or_before_delivery_does_not_count(engine):
    [user] = shoppers(1)
    ingest_events(
        [IncomingEvent("checkout_completed", user, "before", {}, timezone.now() - timedelta(hours=1))], producer="t"
    )
    c = campaign(segment("all"), conversion_window=timedelta(hours=1))
    services.launch(c)
    ingest_events(
        [IncomingEvent("checkout_completed", user, "late", {}, timezone.now() + timedelta(hours=2))], producer="t"
    )
    assert results(c).variants[0].converted == 0


def test_opens_are_the_recipients_alone_and_idempotent(engine, app_client):
    [user] = shoppers(1)
    run = services.launch(campaign(segment("all")))
    notification = Notification.objects.get(source_ref=str(run.pk))
    url = f"/api/v1/notifications/{notification.pk}/opened/"
    assert app_client("someone-else").post(url).status_code == 404
    first = app_client(user).post(url).json()["opened_at"]
    assert app_client(user).post(url).json()["opened_at"] == first


def test_local_time_schedules_each_shopper_at_their_own_ten_oclock(engine):
    device("tokyo", timezone="Asia/Tokyo")
    device("berlin", timezone="Europe/Berlin")
    device("newyork", timezone="America/New_York")
    device("override", timezone="Europe/Berlin")
    update_preferences("override", timezone_name="America/Los_Angeles")
    day = (timezone.now() + timedelta(days=3)).date()
    c = campaign(segment("all"), schedule="local", local_date=day, local_time=time(10, 0))
    assert services.launch(c) is None
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED
    assert c.send_at == datetime.combine(day, time(10, 0), tzinfo=UTC) - timedelta(hours=14)
    Campaign.objects.filter(pk=c.pk).update(send_at=timezone.now())  # as if that moment had come
    assert services.start_due() == 1
    send_at = dict(Notification.objects.values_list("user_id", "send_at"))
    from zoneinfo import ZoneInfo

    for user, zone in [
        ("tokyo", "Asia/Tokyo"),
        ("berlin", "Europe/Berlin"),
        ("newyork", "America/New_York"),
        ("override", "America/Los_Angeles"),
    ]:
        local = send_at[user].astimezone(ZoneInfo(zone))
        assert (local.date(), local.time()) == (day, time(10, 0)), user
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SCHEDULED}


def test_a_recurring_campaign_installs_its_beat_schedule_and_runs_each_time(engine):
    shoppers(2)
    c = campaign(
        segment("all"),
        schedule="recurring",
        recurrence="weekly",
        recurrence_time=time(17, 0),
        recurrence_weekday=5,
        recurrence_timezone="Europe/Berlin",
    )
    services.launch(c)
    task = PeriodicTask.objects.get(pk=Campaign.objects.get(pk=c.pk).periodic_task_id)
    assert (task.task, task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == (
        "campaigns.tasks.start_recurring_run",
        "17",
        "0",
        "5",
    )
    assert str(task.crontab.timezone) == "Europe/Berlin"
    first = services.start_recurring_run(c.pk)
    progress.finish_runs()
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED  # waits for the next Friday
    second = services.start_recurring_run(c.pk)
    assert first.pk != second.pk and CampaignRun.objects.filter(campaign=c).count() == 2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"template": None}, "template", "Choose a template"),
        ({"segment": None}, "segment", "Choose a segment"),
        ({"schedule": "at", "send_at": datetime(2020, 1, 1, tzinfo=UTC)}, "send_at", "in the past"),
        ({"schedule": "local", "local_date": date(2020, 1, 1), "local_time": time(10)}, "local_date", "already passed"),
        ({"schedule": "recurring", "recurrence": "cron", "cron": "every friday"}, "cron", "Five fields"),
        ({"schedule": "recurring", "recurrence": "cron", "cron": "0 25 * * *"}, "cron", "Not a valid cron"),
        ({"throttle_per_minute": 0}, "throttle_per_minute", "never send"),
    ],
)
def test_a_campaign_that_cannot_be_sent_is_refused_with_the_reason(db, fields, field, message):
    seg = segment("all")
    c = campaign(seg, **{k: v for k, v in fields.items() if k not in ("template", "segment")})
    for name in ("template", "segment"):
        if name in fields:
            setattr(c, name, None)
    with pytest.raises(ValidationError) as caught:
        services.launch(c)
    assert message in " ".join(caught.value.message_dict[field])
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT


def test_status_moves_only_along_the_allowed_lines(engine):
    shoppers(1)
    c = campaign(segment("all"), schedule="at", send_at=timezone.now() + timedelta(hours=1))
    with pytest.raises(ValidationError):
        services.resume(c)  # a draft isn't paused
    services.launch(c)
    assert c.status == CampaignStatus.SCHEDULED
    services.unschedule(c)
    assert c.status == CampaignStatus.DRAFT
    services.cancel(c)
    with pytest.raises(ValidationError):
        services.launch(c)  # cancelled is final


def test_a_test_send_goes_to_one_device_and_is_marked_as_a_test(engine):
    device("mia", platform="android", token="ok-mia-phone", is_test_device=True)
    device("mia", platform="ios", token="ok-ios-mia-tablet", is_test_device=True)
    device("mia", platform="web", token="ok-mia-web")  # not a test device: tests never reach it
    c = campaign(segment("nobody", ("platform", "", "eq", "web")))
    [notification] = services.test_send(c, token="ok-mia-phone", by="marketer")
    assert (notification.source, notification.source_ref) == ("test", f"campaign {c.pk} test by marketer")
    assert len(engine.messages("ok-mia-phone")) == 1 and engine.messages("ok-ios-mia-tablet") == []
    assert len(services.test_send(c, user_id="mia", by="marketer")) == 2  # one per test device
    assert len(engine.messages("ok-ios-mia-tablet")) == 1 and len(engine.messages("ok-mia-phone")) == 2
    assert engine.messages("ok-mia-web") == []
    with pytest.raises(ValidationError, match="No active test device"):
        services.test_send(c, token="no-such-token")


def test_the_p_value_of_two_proportions():
    assert two_proportion_p_value(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p_value(60, 100, 40, 100) == pytest.approx(0.00468, abs=1e-4)
    assert two_proportion_p_value(0, 0, 1, 10) == 1.0
