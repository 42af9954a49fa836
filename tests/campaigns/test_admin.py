"""Marketers in the admin: segments with a live audience size and CSV lists; campaigns whose buttons follow
the status machine and whose content is frozen once scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import roles
from audience.models import Segment, SegmentMember
from campaigns.models import Campaign, CampaignStatus
from templates.models import MessageTemplate
from tests.staff import staff

from .conftest import segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.MARKETERS))
    return client


def test_the_audience_size_follows_the_unsaved_form(marketer, shop):
    url = "/admin/audience/segment/audience-size/"
    body = {
        "kind": "conditions",
        "match": "all",
        "conditions": [{"field": "platform", "operator": "eq", "value": "ios"}],
    }
    answer = marketer.post(url, body, content_type="application/json").json()
    assert (answer["ok"], answer["users"], answer["devices"]) == (True, 3, 4)
    wrong = {**body, "conditions": [{"field": "shoe_size", "operator": "eq", "value": "42"}]}
    refused = marketer.post(url, wrong, content_type="application/json").json()
    assert refused == {"ok": False, "row": 0, "error": "Condition 1: field: Unknown field 'shoe_size'."}


def test_a_segment_form_refuses_a_wrong_condition_with_the_reason(marketer):
    form = {
        "name": "Big spenders",
        "description": "",
        "kind": "conditions",
        "match": "all",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "1000",
        "conditions-0-field": "attribute",
        "conditions-0-attribute": "lifetime_orders",
        "conditions-0-operator": "gte",
        "conditions-0-value": "lots",
    }
    page = marketer.post("/admin/audience/segment/add/", form)
    errors = page.context_data["inline_admin_formsets"][0].formset.errors[0]
    assert errors["value"] == ["≥ and ≤ compare numbers or dates (2026-11-01)."]
    assert not Segment.objects.exists()
    ok = marketer.post("/admin/audience/segment/add/", {**form, "conditions-0-value": "10"})
    assert ok.status_code == 302 and Segment.objects.get().conditions.get().value == "10"


def test_a_csv_with_bad_rows_imports_nothing_until_the_good_rows_are_confirmed(marketer):
    seg = Segment.objects.create(name="VIP list")
    csv = b"user_id\nanna\n\nben\nhas space\n" + b"x" * 300 + b"\nanna\nchloe\n"
    url = f"/admin/audience/segment/{seg.pk}/upload/"
    first = marketer.post(url, {"file": SimpleUploadedFile("vips.csv", csv)})
    assert first.status_code == 200
    assert first.context_data["errors"] == [
        (5, "'has space' contains spaces."),
        (6, "The user id is 300 characters; at most 255."),
    ]
    assert not SegmentMember.objects.exists()
    confirmed = marketer.post(url, {"file": SimpleUploadedFile("vips.csv", csv), "import_good_rows": "on"})
    assert confirmed.status_code == 302
    assert sorted(SegmentMember.objects.values_list("user_id", flat=True)) == ["anna", "ben", "chloe"]
    seg.refresh_from_db()
    assert seg.kind == Segment.Kind.LIST


def campaign_page(client, c: Campaign):  # type: ignore[no-untyped-def]
    return client.get(f"/admin/campaigns/campaign/{c.pk}/change/")


def test_buttons_follow_the_status_and_content_freezes_once_scheduled(marketer, shop):
    template = MessageTemplate.objects.create(key="t", name="t", category="promotions", title="Hi", body="b")
    c = Campaign.objects.create(
        name="Later",
        template=template,
        segment=segment("all"),
        schedule="at",
        send_at=timezone.now() + timedelta(hours=2),
    )
    loaded = campaign_page(marketer, c).context_data
    assert [a for a, _ in loaded["campaign_actions"]] == ["launch", "cancel"]
    marketer.post(f"/admin/campaigns/campaign/{c.pk}/do/launch/", {"version": loaded["saved_version"]})
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED
    page = campaign_page(marketer, c)
    assert [a for a, _ in page.context_data["campaign_actions"]] == ["unschedule", "pause", "cancel"]
    assert "name" in page.context_data["adminform"].readonly_fields
    marketer.post(f"/admin/campaigns/campaign/{c.pk}/change/", {"name": "Renamed"})
    c.refresh_from_db()
    assert c.name == "Later"
    refused = marketer.post(f"/admin/campaigns/campaign/{c.pk}/do/resume/")  # not offered for a scheduled one
    assert refused.status_code == 403


def test_launching_an_incomplete_campaign_says_why(marketer):
    c = Campaign.objects.create(name="Empty")
    version = campaign_page(marketer, c).context_data["saved_version"]  # Launch carries the page's saved version
    page = marketer.post(f"/admin/campaigns/campaign/{c.pk}/do/launch/", {"version": version}, follow=True)
    shown = [str(m) for m in page.context["messages"]]
    assert "template: Choose a template (or add A/B variants)." in shown
    assert "segment: Choose a segment: who should get it?" in shown
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT


def test_support_sees_campaigns_but_cannot_change_them(client, shop):
    c = Campaign.objects.create(name="Read me")
    client.force_login(staff(roles.SUPPORT))
    page = campaign_page(client, c)
    assert page.status_code == 200 and page.context_data["campaign_actions"] == []
    assert client.post(f"/admin/campaigns/campaign/{c.pk}/do/launch/").status_code == 403
    assert client.get("/admin/audience/segment/add/").status_code == 403


def test_variant_weights_that_sum_to_nothing_are_refused(marketer, shop):
    template = MessageTemplate.objects.create(key="t", name="t", category="promotions", title="Hi", body="b")
    form = {
        "name": "AB",
        "description": "",
        "template": "",
        "context": "{}",
        "segment": "",
        "schedule": "now",
        "recurrence_timezone": "UTC",
        "conversion_event": "checkout_completed",
        "conversion_window": "1 00:00:00",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-name": "A",
        "variants-0-template": template.pk,
        "variants-0-weight": "0",
        "variants-1-name": "B",
        "variants-1-template": template.pk,
        "variants-1-weight": "0",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        "runs-MIN_NUM_FORMS": "0",
        "runs-MAX_NUM_FORMS": "1000",
    }
    page = marketer.post("/admin/campaigns/campaign/add/", form)
    assert page.status_code == 200
    assert "must add up to more than 0" in str(page.context_data["inline_admin_formsets"][0].formset.non_form_errors())
    assert not Campaign.objects.exists()
