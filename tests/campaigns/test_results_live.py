"""Issue 18, live results: the significance line in words, the chart's buckets counted in PostgreSQL, and results
pushed to a campaign's open pages when an open is reported, at most once per rest however many opens arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone

from campaigns import progress, services
from campaigns.models import Campaign, CampaignRun, CampaignVariant
from campaigns.results import MAX_BUCKETS, Results, VariantResult, compare, results, timeline, verdict
from config.redis_client import client as redis_client
from notifications.models import Delivery, Notification

from .conftest import device, segment

pytestmark = pytest.mark.django_db(transaction=True)


def template(key: str):  # type: ignore[no-untyped-def]
    from templates.models import MessageTemplate

    return MessageTemplate.objects.create(
        key=key, name=key, category="promotions", priority="normal", title=f"{key}: {{{{ d }}}}", body="Now."
    )


def ab_campaign(weights: tuple[int, int] = (1, 1)) -> Campaign:
    c = Campaign.objects.create(name="Weekend", segment=segment("all"), context={"d": "20%"})
    for name, weight in zip("AB", weights, strict=True):
        CampaignVariant.objects.create(campaign=c, name=name, template=template(f"deal_{name.lower()}"), weight=weight)
    return c


def shoppers(count: int) -> list[str]:
    users = [f"r-{i:04d}" for i in range(count)]
    for user in users:
        device(user)
    return users


def open_all(app_client, campaign: Campaign, variant: str) -> int:  # type: ignore[no-untyped-def]
    opened = Notification.objects.filter(source="campaign", source_ref__in=_refs(campaign), variant=variant)
    for n in opened:
        assert app_client(n.user_id).post(f"/api/v1/notifications/{n.pk}/opened/").status_code == 200
    return len(opened)


def _refs(campaign: Campaign) -> list[str]:
    return [str(pk) for pk in campaign.runs.values_list("pk", flat=True)]


def test_nothing_delivered_yet_is_not_enough_data(engine):
    c = ab_campaign()
    services.launch(c)  # a segment nobody is in: the run completes with nobody to send to
    line = verdict(results(c))
    assert line == "Not enough data yet to compare variants (nothing has been delivered yet)."


def test_a_campaign_without_variants_says_there_is_nothing_to_compare(engine):
    shoppers(3)
    c = Campaign.objects.create(name="Plain", segment=segment("all"), template=template("plain"), context={"d": "1"})
    services.launch(c)
    assert verdict(results(c)) == "This campaign sends one template to everyone: there are no A/B variants to compare."


def test_only_one_variant_delivered_is_not_enough_data(engine):
    shoppers(5)
    c = ab_campaign(weights=(1, 0))  # everyone lands in A
    services.launch(c)
    found = results(c)
    assert [v.name for v in found.variants] == ["A"]
    assert verdict(found) == "Not enough data yet to compare variants (only A has been delivered so far)."


def test_two_variants_say_who_leads_only_with_enough_delivered_and_opened(engine, app_client):
    shoppers(100)
    c = ab_campaign()
    services.launch(c)
    found = results(c)
    a, b = found.variants
    assert a.delivered >= 30 and b.delivered >= 30 and a.delivered + b.delivered == 100  # a stable hash split
    assert verdict(found) == "Not enough data yet to compare variants (nobody has opened one yet)."
    # Before: "A leads on open rate by 0.0 points over B", with nothing to compare.
    assert "leads" not in verdict(found)

    opened = open_all(app_client, c, "A")
    found = results(c)
    assert found.variants[0].opened == opened
    assert verdict(found) == "A leads on open rate by 100.0 points over B: a significant difference (p = 0.000)."


def test_too_few_delivered_in_a_variant_is_not_enough_data_and_says_how_many(engine, app_client):
    shoppers(10)
    c = ab_campaign()
    services.launch(c)
    open_all(app_client, c, "A")
    a, b = results(c).variants
    line = verdict(results(c))
    assert line.startswith("Not enough data yet to compare variants (each needs at least 30 delivered; ")
    assert f"A has {a.delivered}" in line and f"B has {b.delivered}" in line


def test_a_tie_is_level_not_a_lead_by_zero_points():
    variants = [VariantResult("A", 40, 40, 10, 0), VariantResult("B", 40, 40, 10, 0)]
    found = Results(variants, {}, compare(variants), ["A", "B"])
    assert verdict(found) == "A and B are level on open rate so far."


def test_the_chart_counts_deliveries_and_opens_per_minute_since_launch(engine, app_client):
    users = shoppers(4)
    c = Campaign.objects.create(name="Chart", segment=segment("all"), template=template("chart"), context={"d": "1"})
    run = services.launch(c)
    now = timezone.now().replace(second=30, microsecond=0)
    launched = now - timedelta(hours=2)
    CampaignRun.objects.filter(pk=run.pk).update(started_at=launched)
    sent = {n.user_id: n for n in Notification.objects.filter(source_ref=str(run.pk))}
    # Three delivered in the launch's minute, one ten minutes later; two opened an hour after launch.
    for user in users[:3]:
        Delivery.objects.filter(notification=sent[user]).update(updated_at=launched)
    Delivery.objects.filter(notification=sent[users[3]]).update(updated_at=launched + timedelta(minutes=10))
    Notification.objects.filter(pk__in=[sent[u].pk for u in users[:2]]).update(opened_at=launched + timedelta(hours=1))

    line = timeline(c, now=now)
    assert line.unit == "minute"
    assert len(line.starts) == 121  # every minute from the launch's to now's, the empty ones as zeros
    assert line.starts[0] == launched.replace(second=0)
    assert (line.delivered[0], line.delivered[10], sum(line.delivered)) == (3, 1, 4)
    assert (line.opened[60], sum(line.opened)) == (2, 2)


@pytest.mark.parametrize(
    ("age", "unit", "buckets"),
    [
        (timedelta(hours=5), "minute", 5 * 60 + 1),
        (timedelta(days=3), "hour", 3 * 24 + 1),
        (timedelta(days=900), "day", MAX_BUCKETS),  # a long-lived recurring campaign: its last MAX_BUCKETS days
    ],
)
def test_the_chart_never_has_more_than_max_buckets(engine, age, unit, buckets):
    shoppers(1)
    c = Campaign.objects.create(name="Old", segment=segment("all"), template=template("old"), context={"d": "1"})
    run = services.launch(c)
    now = timezone.now().replace(minute=30, second=30, microsecond=0)
    CampaignRun.objects.filter(pk=run.pk).update(started_at=now - age)
    line = timeline(c, now=now)
    assert (line.unit, len(line.starts)) == (unit, buckets)


def test_an_open_reported_by_the_app_reaches_the_open_pages_once_per_rest(engine, app_client, settings):
    # What is sent to the open pages is what this checks; the Redis channel layer is exercised end to end by
    # tests/browser/test_campaign_results.py (channels_redis keeps a receive buffer per event loop, and each
    # async_to_sync here runs its own loop).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    users = shoppers(3)
    c = Campaign.objects.create(name="Live", segment=segment("all"), template=template("live"), context={"d": "1"})
    run = services.launch(c)
    layer = get_channel_layer()
    page = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(progress.group_name(c.pk), page)
    progress.watch(c.pk)  # what an open page's socket does

    def received(count: int) -> list[dict]:
        """What broadcast() said it sent (it returns how many campaigns it told: here one message or two)."""

        async def receive() -> list[dict]:
            return [await layer.receive(page) for _ in range(count)]

        return async_to_sync(receive)()

    # The run completes in the first tick: its pages get its last progress and its results at once.
    assert progress.broadcast() == 1
    assert [m["type"] for m in received(2)] == ["progress", "results"]
    # An hour later it is no longer live: nothing is counted for it until something changes.
    CampaignRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    cache.delete(progress._results_resting_key(c.pk))
    assert progress.broadcast() == 0

    ann, ben = (Notification.objects.get(source_ref=str(run.pk), user_id=u) for u in users[:2])
    assert app_client(ann.user_id).post(f"/api/v1/notifications/{ann.pk}/opened/").status_code == 200
    # The open itself only marked the run in Redis: the counting is the beat's.
    assert redis_client().zscore(progress.RESULTS_CHANGED_KEY, f"r:{run.pk}") is not None
    assert progress.broadcast() == 1
    [message] = received(1)
    [row] = message["results"]["variants"]
    assert (message["type"], row["opened"], row["open_rate"]) == ("results", 1, 1 / 3)
    assert sum(message["results"]["chart"]["opened"]) == 1
    assert redis_client().zscore(progress.RESULTS_CHANGED_KEY, f"r:{run.pk}") is None

    # A second open within the rest: not counted yet, but kept, and counted once the rest is over.
    assert app_client(ben.user_id).post(f"/api/v1/notifications/{ben.pk}/opened/").status_code == 200
    assert progress.broadcast() == 0
    cache.delete(progress._results_resting_key(c.pk))  # the rest is over
    assert progress.broadcast() == 1
    [message] = received(1)
    assert message["results"]["variants"][0]["opened"] == 2

    # Nobody watching: an open changes nothing anybody sees, and nothing is counted for it.
    cache.delete(progress._watched_key(c.pk))
    cache.delete(progress._results_resting_key(c.pk))
    assert app_client(ann.user_id).post(f"/api/v1/notifications/{ann.pk}/opened/").status_code == 200
    assert progress.broadcast() == 0


def test_campaign_pages_read_the_results_counted_last(engine, client):
    """Loading the page reads no campaign rows while results counted in the last seconds are cached: the
    broadcast's count (once per rest for all open pages), or the previous page load's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import roles
    from campaigns.results import RESULTS_CACHE_SECONDS, live_results
    from tests.staff import staff

    shoppers(3)
    c = Campaign.objects.create(name="Cached", segment=segment("all"), template=template("cached"), context={"d": "1"})
    services.launch(c)
    client.force_login(staff(roles.ADMINISTRATORS))
    page = f"/admin/campaigns/campaign/{c.pk}/change/"
    assert client.get(page).status_code == 200  # counted, and kept
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page).status_code == 200
    assert not [q for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    # The broadcast counts afresh and keeps what it counted for the pages loaded next.
    Notification.objects.filter(source_ref__in=_refs(c)).update(opened_at=timezone.now())
    assert live_results(c)["variants"][0]["opened"] == 0
    assert live_results(c, fresh=True)["variants"][0]["opened"] == 3
    assert live_results(c)["variants"][0]["opened"] == 3
    assert RESULTS_CACHE_SECONDS <= 10  # a page is sent fresh results when its socket connects anyway
