"""Issue 18, "a launch review": what launching would do, counted by the sender's own rules in a dry run, with nothing
written (no notification, no run, Redis as it was); Pause and Cancel say what they will do; schedules and durations
in words."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from accounts import roles
from campaigns import review, services
from campaigns.describe import duration_in_words, schedule_in_words
from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant
from notifications.models import Notification
from preferences.services import QuietHoursChange, update_preferences
from protection import frequency
from templates.models import MessageTemplate
from tests.staff import staff

from .conftest import device, segment

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday


def snapshot() -> dict[bytes, bytes]:
    """Every key of the test's Redis database and its serialized value: what a dry run must leave alone."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return {key: client.dump(key) for key in sorted(client.keys("*"))}


@pytest.fixture
def audience(db):  # type: ignore[no-untyped-def]
    """Six reachable shoppers: anna and emil would get it, ben is in his quiet hours now, cara is over the daily
    cap, dora switched promotions off, fay (two devices) would get it too; zed's only device is gone."""
    device("anna", platform="android")
    device("ben", platform="ios", timezone="Europe/Berlin")
    device("cara", platform="web")
    device("dora", platform="android")
    device("emil", platform="ios")
    device("fay", platform="android")
    device("fay", platform="web")
    device("zed", platform="ios", is_active=False, deactivated_at=timezone.now())
    # ben: quiet from an hour ago to an hour from now, in his devices' zone (Berlin).
    berlin = timezone.now().astimezone(ZoneInfo("Europe/Berlin"))
    hours = QuietHoursChange(
        enabled=True,
        start=(berlin - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        end=(berlin + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    update_preferences("ben", quiet_hours=hours)
    update_preferences("dora", categories={"promotions": False})
    # cara already got today's two marketing pushes (the default cap is 2 a day): counted as the sender counts.
    counted = frequency.decide([frequency.Candidate(pk, "cara", caps=[(86400, 2)]) for pk in (901, 902)])
    assert all(d.allowed for d in counted.values())
    return segment("everyone")


def promo(key: str = "promo", title: str = "{{ discount }} off", **fields: object) -> MessageTemplate:
    return MessageTemplate.objects.create(
        key=key, name=key, category="promotions", title=title, body="Fresh fruit.", **fields
    )


def test_the_review_counts_each_reason_by_the_senders_rules_and_writes_nothing(audience):
    campaign = Campaign.objects.create(name="Weekend", template=promo(), context={"discount": "20%"}, segment=audience)
    before = snapshot()

    found = review.launch_review(campaign)

    assert (found.audience.users, found.audience.devices) == (6, 7)
    assert found.platforms == [("Android", 3), ("iOS", 2), ("Web", 2)]
    assert (found.sample, found.whole) == (6, True)
    held = {h.reason: (h.sampled, h.estimated) for h in found.held_back}
    assert held == {"quiet_hours": (1, 1), "capped": (1, 1), "opted_out": (1, 1)}
    assert (found.sent.sampled, found.not_made) == (3, 0)
    assert found.schedule == "now"
    # Nothing written: no notification or run, the caps and every other Redis key as they were.
    assert not Notification.objects.exists() and not CampaignRun.objects.exists()
    assert snapshot() == before
    # So a second look finds the same (a review that counted would now cap anna and the others).
    again = review.launch_review(campaign)
    assert {h.reason: h.sampled for h in again.held_back} == {"quiet_hours": 1, "capped": 1, "opted_out": 1}
    assert snapshot() == before


def test_a_campaigns_own_stricter_cap_and_a_sample_are_estimated_as_such(audience):
    campaign = Campaign.objects.create(
        name="Strict", template=promo(), context={"discount": "5%"}, segment=audience, max_per_user_per_day=1
    )
    counted = frequency.decide([frequency.Candidate(903, "anna", caps=[(86400, 2)])])
    assert counted[903].allowed  # anna got one today: under the daily 2, over the campaign's own 1

    whole = review.launch_review(campaign)
    assert {h.reason: h.sampled for h in whole.held_back}["capped"] == 2  # cara and anna

    sampled = review.launch_review(campaign, sample_limit=3)  # anna, ben, cara (user id order)
    assert (sampled.sample, sampled.whole) == (3, False)
    held = {h.reason: (h.sampled, h.estimated) for h in sampled.held_back}
    assert held["capped"] == (2, 4)  # 2 of 3 sampled, of 6 shoppers
    assert held["quiet_hours"] == (1, 2)
    assert not Notification.objects.exists()


def test_the_dry_run_decides_a_batch_as_the_sender_would_and_counts_nothing(db):
    candidates = [frequency.Candidate(pk, "ola", caps=[(3600, 2)], dedup_key="k", dedup_seconds=60) for pk in (1, 2)]
    candidates.append(frequency.Candidate(3, "ola", caps=[(3600, 2)]))
    candidates.append(frequency.Candidate(4, "ola", caps=[(3600, 2)]))
    before = snapshot()
    dry = frequency.decide(candidates, dry_run=True)
    assert snapshot() == before
    real = frequency.decide(candidates)
    assert dry == real  # the second of the same push is a duplicate; the fourth is over the cap of 2 an hour
    assert [real[pk].allowed for pk in (1, 2, 3, 4)] == [True, False, True, False]
    assert real[2].duplicate_of == 1 and real[4].cap == (3600, 2)


@pytest.fixture
def marketer(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.MARKETERS))
    return client


def shown(page) -> str:  # type: ignore[no-untyped-def]
    """The page's text as a person reads it."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.content.decode())).split())
    return re.sub(r" ([,.)])", r"\1", text)  # a tag's end before punctuation is no space


def messages_of(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages as the marketer reads them on the page."""
    return [html.unescape(m) for m in re.findall(r'<li class="(?:error|success)">(.*?)</li>', page.content.decode())]


def test_the_review_page_shows_what_will_happen_and_launches_only_the_saved_version(marketer, audience):
    templates = [promo("promo_a", "A: {{ discount }} off"), promo("promo_b", "B: {{ discount }} off", ttl_seconds=7200)]
    campaign = Campaign.objects.create(name="AB", context={"discount": "20%"}, segment=audience)
    for name, template in zip("AB", templates, strict=True):
        CampaignVariant.objects.create(campaign=campaign, name=name, template=template, weight=50)
    url = f"/admin/campaigns/campaign/{campaign.pk}/review/"

    no_version = marketer.get(url, follow=True)
    assert "Save the campaign first: Launch acts only on the saved campaign." in messages_of(no_version)
    stale = marketer.get(url, {"version": "2020-01-01T00:00:00+00:00"}, follow=True)
    assert "The campaign was changed since this page was loaded; reload it and check it first." in messages_of(stale)

    version = services.saved_version(campaign)
    page = marketer.get(url, {"version": version})
    assert page.status_code == 200
    text = shown(page)
    assert "Sends now, as fast as the providers take them (no throttle)." in text
    assert "Shoppers 6 Active devices 7 Android 3 iOS 2 Web 2" in text
    assert "Judged for each of the 6 shoppers" in text
    assert "In their quiet hours now: sent when those end 1" in text
    assert "Over a frequency cap: not sent 1" in text
    assert "Switched this category off: not sent 1" in text
    assert "Variant A (about 50% of shoppers): template “promo_a (promo_a)”" in text
    assert "Kept for 2 hours for a device that is offline" in text
    previews = [variant.preview for variant in page.context_data["review"].variants]
    assert [p["title"] for p in previews] == ["A: 20% off", "B: 20% off"]
    assert f'name="version" value="{version}"' in page.content.decode()
    assert not Notification.objects.exists()

    launched = marketer.post(f"/admin/campaigns/campaign/{campaign.pk}/do/launch/", {"version": version}, follow=True)
    assert "'AB' is now sending." in messages_of(launched)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert marketer.get(url, {"version": version}).status_code == 403  # nothing to launch any more


def test_a_campaign_that_cant_launch_is_sent_back_with_the_reasons(marketer):
    campaign = Campaign.objects.create(name="Empty")
    page = marketer.get(
        f"/admin/campaigns/campaign/{campaign.pk}/review/", {"version": services.saved_version(campaign)}, follow=True
    )
    assert "Segment: Choose a segment: who should get it?" in messages_of(page)
    assert page.redirect_chain[-1][0] == f"/admin/campaigns/campaign/{campaign.pk}/change/"


def test_pause_and_cancel_say_what_they_will_do_before_they_do_it(marketer, audience):
    campaign = Campaign.objects.create(
        name="Weekend",
        template=promo(),
        context={"discount": "20%"},
        segment=audience,
        schedule="recurring",
        recurrence="weekly",
        recurrence_weekday=1,
        recurrence_time=time(9),
        recurrence_timezone="Europe/Berlin",
    )
    cancel = marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/cancel/")
    assert "Cancel stops the campaign for good: it will never be sent; none of the 6 shoppers in its audience now" in (
        shown(cancel)
    )
    assert "Its future runs (every Monday at 09:00 (Europe/Berlin)) are called off too." in shown(cancel)
    assert marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/pause/").status_code == 403  # a draft
    services.launch(campaign)
    pause = marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/pause/")
    assert "Pause stops its runs (every Monday at 09:00 (Europe/Berlin)) until you resume it" in shown(pause)
    assert "Yes, pause it" in shown(pause) and "No, keep it scheduled" in shown(pause)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED  # looking changes nothing


def test_a_sending_campaigns_cancel_counts_the_shoppers_not_sent_yet(marketer, audience):
    # In a test's transaction nothing queued on commit runs: the fan-out's page is stored and waits, unsent.
    campaign = Campaign.objects.create(name="Now", template=promo(), context={"discount": "1%"}, segment=audience)
    run = services.launch(campaign)
    from campaigns.fanout import fan_out_page

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("campaigns.fanout.PAGE_SIZE", 3)
        fan_out_page(run.pk, "")  # one page of 3 stored as a batch, waiting; 4 not reached
    found = review.outstanding(campaign)
    assert (found.queued, found.not_reached, found.total) == (3, 3, 6)
    page = shown(marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/cancel/"))
    assert "Cancel stops the campaign for good: 6 shoppers not yet sent will not get it (3 of them already queued" in (
        page
    )
    pause = shown(marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/pause/"))
    assert "3 shoppers not yet reached wait until you resume it, while the 3 already queued still get it" in pause


def test_schedules_and_durations_read_as_words():
    def words(**fields: object) -> str:
        return schedule_in_words(Campaign(**fields), now=NOON)

    assert words(schedule="now") == "now"
    assert words(schedule="at", send_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == "at Tue 1 Dec 10:00 UTC"
    assert words(schedule="at", send_at=datetime(2027, 1, 5, 9, 30, tzinfo=UTC)) == "at Tue 5 Jan 2027 09:30 UTC"
    assert (
        words(schedule="local", local_date=date(2026, 12, 1), local_time=time(10))
        == "Tue 1 Dec 10:00 in each shopper's time zone"
    )
    assert (
        words(
            schedule="recurring",
            recurrence="weekly",
            recurrence_weekday=1,
            recurrence_time=time(9),
            recurrence_timezone="Europe/Berlin",
        )
        == "every Monday at 09:00 (Europe/Berlin)"
    )
    assert words(schedule="recurring", recurrence="daily", recurrence_time=time(18)) == "every day at 18:00 (UTC)"
    assert (
        words(schedule="recurring", recurrence="cron", cron="0 17 * * 5") == 'on the cron schedule "0 17 * * 5" (UTC)'
    )
    assert words(schedule="at") == "at a date and time not chosen yet"
    assert [duration_in_words(timedelta(seconds=s)) for s in (172800, 5400, 45, 90061)] == [
        "2 days",
        "1 hour 30 minutes",
        "45 seconds",
        "1 day 1 hour",
    ]


def test_the_list_and_the_form_speak_in_words(marketer, audience):
    Campaign.objects.create(
        name="Local", schedule="local", local_date=timezone.now().date() + timedelta(days=3), local_time=time(10)
    )
    listing = shown(marketer.get("/admin/campaigns/campaign/"))
    assert re.search(r"\w{3} \d{1,2} \w{3} 10:00 in each shopper's time zone", listing)

    campaign = Campaign.objects.create(name="Window", template=promo(), context={"discount": "2%"}, segment=audience)
    page = marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert 'name="conversion_window" value="1 day"' in page.content.decode()
    form = page.context_data["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        conversion_window="90 minutes",
        context='{"discount": "2%"}',
        _continue="Save",
        **{f"{p}-{k}": v for p in ("variants", "runs") for k, v in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))},
    )
    saved = marketer.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", data)
    assert saved.status_code == 302, saved.context_data["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.conversion_window == timedelta(minutes=90)
    services.launch(campaign)
    readonly = shown(marketer.get(f"/admin/campaigns/campaign/{campaign.pk}/change/"))
    assert "Conversion window: 1 hour 30 minutes" in readonly


def test_support_reads_the_composer_but_cannot_review_pause_or_cancel(client, audience):
    campaign = Campaign.objects.create(name="Read me", template=promo(), context={"discount": "3%"}, segment=audience)
    client.force_login(staff(roles.SUPPORT))
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.status_code == 200 and 'id="composer-preview"' in page.content.decode()
    version = {"version": services.saved_version(campaign)}
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/review/", version).status_code == 403
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/confirm/cancel/").status_code == 403
    # Sizes of saved segments come from the segment page's endpoint, which view permission allows.
    size = client.post("/admin/audience/segment/audience-size/", {"segment_id": audience.pk}, "application/json")
    assert (size.json()["users"], size.json()["devices"]) == (6, 7)


def test_a_new_campaign_page_has_the_composer_too(marketer):
    page = marketer.get("/admin/campaigns/campaign/add/")
    assert page.status_code == 200
    assert 'id="composer-preview"' in page.content.decode() and 'data-composer="audience"' in page.content.decode()
