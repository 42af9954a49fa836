"""Issue 18: duplicate a campaign (list action and a button), so next week's promotion starts from this week's."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts import roles
from audience.models import Segment
from campaigns import services
from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant
from templates.models import MessageTemplate
from tests.staff import staff

pytestmark = pytest.mark.django_db


def template(key: str) -> MessageTemplate:
    return MessageTemplate.objects.create(
        key=key, name=key, category="promotions", priority="normal", title="{{ discount }} off", body="Fresh."
    )


@pytest.fixture
def this_weeks() -> Campaign:
    """A completed A/B promotion, sent at a date and time that has passed."""
    campaign = Campaign.objects.create(
        name="Weekend fruit",
        description="Fruit at 20% off",
        status=CampaignStatus.COMPLETED,
        template=template("fruit"),
        context={"discount": "20%"},
        segment=Segment.objects.create(name="Fruit lovers"),
        schedule="at",
        send_at=timezone.now() - timedelta(days=2),
        throttle_per_minute=500,
        max_per_user_per_day=2,
        conversion_event="order_placed",
        conversion_window=timedelta(hours=6),
        created_by="someone-else",
    )
    CampaignVariant.objects.create(campaign=campaign, name="A", template=template("fruit_a"), weight=70)
    CampaignVariant.objects.create(campaign=campaign, name="B", template=template("fruit_b"), weight=30)
    CampaignRun.objects.create(campaign=campaign, status="completed", targeted=1200)
    return campaign


def test_a_copy_is_a_draft_with_the_setup_and_without_the_runs_or_a_past_date(this_weeks):
    copy, notes = services.duplicate(this_weeks, by="mara")
    assert (copy.name, copy.status, copy.created_by) == ("Weekend fruit (copy)", "draft", "mara")
    same = ["description", "template_id", "context", "segment_id", "schedule", "throttle_per_minute"]
    same += ["max_per_user_per_day", "conversion_event", "conversion_window"]
    assert {f: getattr(copy, f) for f in same} == {f: getattr(this_weeks, f) for f in same}
    assert list(copy.variants.values_list("name", "template__key", "weight")) == [
        ("A", "fruit_a", 70),
        ("B", "fruit_b", 30),
    ]
    assert not copy.runs.exists() and this_weeks.runs.count() == 1
    assert copy.send_at is None  # it had passed: the copy needs a new one, and the marketer is told
    assert notes == [
        f"its date ({this_weeks.send_at:%Y-%m-%d %H:%M} UTC) has passed: choose a new one before launching"
    ]
    assert services.problems(copy)["send_at"] == ["When should it be sent?"]
    # The copy's context is its own: editing one leaves the other.
    copy.context["discount"] = "30%"
    copy.save()
    this_weeks.refresh_from_db()
    assert this_weeks.context == {"discount": "20%"}


def test_a_future_date_and_a_local_time_are_kept_a_past_local_day_is_not(this_weeks):
    later = timezone.now() + timedelta(days=5)
    Campaign.objects.filter(pk=this_weeks.pk).update(send_at=later)
    this_weeks.refresh_from_db()
    copy, notes = services.duplicate(this_weeks, by="mara")
    assert (copy.send_at, notes) == (later, [])

    this_weeks.schedule, this_weeks.local_date, this_weeks.local_time = "local", date(2020, 1, 4), time(10, 0)
    copy, notes = services.duplicate(this_weeks, by="mara")
    assert (copy.local_date, copy.local_time, copy.send_at) == (None, time(10, 0), None)
    assert notes == ["its day (2020-01-04) has passed: choose a new one before launching"]


def test_a_long_name_still_fits_with_its_suffix(this_weeks):
    this_weeks.name = "x" * 200
    copy, _ = services.duplicate(this_weeks, by="mara")
    assert len(copy.name) == 200 and copy.name.endswith("x (copy)")


def test_a_marketer_duplicates_from_the_list(client, this_weeks):
    client.force_login(staff(roles.MARKETERS))
    other = Campaign.objects.create(name="Bread <b>deals</b>")
    answer = client.post(
        "/admin/campaigns/campaign/",
        {"action": "duplicate_selected", "_selected_action": [this_weeks.pk, other.pk]},
    )
    assert answer.status_code == 302 and answer.url == "/admin/campaigns/campaign/"  # several: back to the list
    copies = Campaign.objects.filter(name__endswith=" (copy)").order_by("pk")
    assert [c.name for c in copies] == ["Weekend fruit (copy)", "Bread <b>deals</b> (copy)"]
    said = [str(m) for m in get_messages(answer.wsgi_request)]
    assert said[0].startswith("Duplicated 'Weekend fruit' as <a href='/admin/campaigns/campaign/")
    assert "Not copied: its date (" in said[0]
    assert "Bread &lt;b&gt;deals&lt;/b&gt;" in said[1]  # a name is text, not markup

    one = client.post("/admin/campaigns/campaign/", {"action": "duplicate_selected", "_selected_action": [other.pk]})
    newest = Campaign.objects.latest("pk")
    assert one.url == f"/admin/campaigns/campaign/{newest.pk}/change/"  # one: straight to the copy


def test_a_marketer_duplicates_with_the_button(client, this_weeks):
    client.force_login(staff(roles.MARKETERS))
    page = client.get(f"/admin/campaigns/campaign/{this_weeks.pk}/change/").content.decode()
    assert f'action="/admin/campaigns/campaign/{this_weeks.pk}/duplicate/"' in page
    assert client.get(f"/admin/campaigns/campaign/{this_weeks.pk}/duplicate/").status_code == 403  # POST only
    answer = client.post(f"/admin/campaigns/campaign/{this_weeks.pk}/duplicate/", follow=True)
    copy = Campaign.objects.get(name="Weekend fruit (copy)")
    assert answer.redirect_chain == [(f"/admin/campaigns/campaign/{copy.pk}/change/", 302)]
    assert "Duplicated 'Weekend fruit' as" in answer.content.decode()
    assert copy.variants.count() == 2


def test_support_cannot_duplicate(client, this_weeks):
    client.force_login(staff(roles.SUPPORT))
    page = client.get(f"/admin/campaigns/campaign/{this_weeks.pk}/change/").content.decode()
    assert "/duplicate/" not in page
    assert client.post(f"/admin/campaigns/campaign/{this_weeks.pk}/duplicate/").status_code == 403
    client.post("/admin/campaigns/campaign/", {"action": "duplicate_selected", "_selected_action": [this_weeks.pk]})
    assert Campaign.objects.count() == 1


def test_the_button_needs_csrf(client, this_weeks):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff(roles.MARKETERS))
    assert strict.post(f"/admin/campaigns/campaign/{this_weeks.pk}/duplicate/").status_code == 403
    assert Campaign.objects.count() == 1
