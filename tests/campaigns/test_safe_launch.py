"""Issue 18, bugs 1 and 2: Launch acts only on the saved, valid campaign; a context that leaves a variable of
any template (any translation, any A/B variant) empty is refused when saving and when launching, naming it."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import roles
from campaigns.models import Campaign, CampaignStatus
from notifications.models import Notification
from templates.models import MessageTemplate, TemplateTranslation
from tests.staff import staff

from .conftest import segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.MARKETERS))
    return client


def promo(key: str, title: str, **fields: Any) -> MessageTemplate:
    return MessageTemplate.objects.create(
        key=key, name=key, category="promotions", title=title, body="Fresh.", **fields
    )


def change_form(c: Campaign, **fields: Any) -> dict[str, Any]:
    """What the admin's change form posts for this campaign, with `fields` changed."""
    form = {
        "name": c.name,
        "description": "",
        "template": c.template_id or "",
        "context": '{"discount": "20%"}',
        "segment": c.segment_id or "",
        "schedule": c.schedule,
        "recurrence_timezone": "UTC",
        "conversion_event": "checkout_completed",
        "conversion_window": "1 00:00:00",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        "runs-MIN_NUM_FORMS": "0",
        "runs-MAX_NUM_FORMS": "1000",
        "_continue": "Save and continue editing",
    }
    form.update(fields)
    return form


def messages_of(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages as the marketer reads them on the page."""
    return [html.unescape(m) for m in re.findall(r'<li class="(?:error|success)">(.*?)</li>', page.content.decode())]


def test_launch_after_a_failed_save_is_refused_and_sends_nothing(marketer, shop):
    c = Campaign.objects.create(
        name="Now", template=promo("p", "{{ discount }} off"), context={"discount": "20%"}, segment=segment("all")
    )
    url = f"/admin/campaigns/campaign/{c.pk}/change/"
    launch = f"/admin/campaigns/campaign/{c.pk}/do/launch/"
    loaded = marketer.get(url)
    version = loaded.context_data["saved_version"]
    assert f'name="version" value="{version}"' in loaded.content.decode()

    past = timezone.now() - timedelta(days=1)
    failed = marketer.post(url, change_form(c, schedule="at", send_at_0=f"{past:%Y-%m-%d}", send_at_1="10:00:00"))
    assert failed.status_code == 200
    assert "is in the past" in str(failed.context_data["adminform"].form.errors["send_at"])
    html = failed.content.decode()
    assert 'name="version"' not in html  # the page of a failed save can't launch...
    assert 'data-action="launch" disabled' in html
    assert "the last save failed" in html

    # ...and a launch posted from it anyway (no version) is refused with the reason.
    refused = marketer.post(launch, follow=True)
    assert "Save the campaign first: Launch acts only on the saved campaign." in messages_of(refused)
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT and c.schedule == "now"
    assert not Notification.objects.exists() and not c.runs.exists()

    # A page loaded before the campaign was saved again can't launch either.
    later = timezone.now() + timedelta(days=1)
    saved = marketer.post(url, change_form(c, schedule="at", send_at_0=f"{later:%Y-%m-%d}", send_at_1="10:00:00"))
    assert saved.status_code == 302
    stale = marketer.post(launch, {"version": version}, follow=True)
    assert "The campaign was changed since this page was loaded; reload it and check it first." in messages_of(stale)
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT

    # From the page of the saved campaign, it launches as saved.
    fresh = marketer.get(url).context_data["saved_version"]
    launched = marketer.post(launch, {"version": fresh}, follow=True)
    assert f"'{c.name}' is now scheduled." in messages_of(launched)
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED and c.send_at > timezone.now()


def test_saving_refuses_a_context_that_leaves_a_translations_variable_empty(marketer, shop):
    template = promo("p", "{{ discount }} off")
    TemplateTranslation.objects.create(template=template, locale="de", title="{{ discount }} auf {{ category }}")
    form = change_form(Campaign(name="Fruit", template=template, segment=segment("all")))
    page = marketer.post("/admin/campaigns/campaign/add/", form)
    assert page.status_code == 200
    errors = page.context_data["adminform"].form.errors["context"]
    assert errors == [
        "With this context, template 'p' fails at de: title: the data has no value for category; "
        "add it to the event or use a default filter."
    ]
    assert not Campaign.objects.exists()
    ok = marketer.post(
        "/admin/campaigns/campaign/add/", {**form, "context": '{"discount": "20%", "category": "fruit"}'}
    )
    assert ok.status_code == 302 and Campaign.objects.get().context["category"] == "fruit"


def test_saving_refuses_a_context_that_leaves_a_variants_variable_empty(marketer, shop):
    a, b = promo("a", "{{ discount }} off"), promo("b", "{{ discount }} off {{ category }}")
    form = change_form(
        Campaign(name="AB", segment=segment("all")),
        **{
            "variants-TOTAL_FORMS": "2",
            "variants-0-name": "A",
            "variants-0-template": a.pk,
            "variants-0-weight": "50",
            "variants-1-name": "B",
            "variants-1-template": b.pk,
            "variants-1-weight": "50",
        },
    )
    page = marketer.post("/admin/campaigns/campaign/add/", form)
    assert page.status_code == 200
    assert list(page.context_data["inline_admin_formsets"][0].formset.non_form_errors()) == [
        "context: With this context, template 'b' fails at title: the data has no value for category; "
        "add it to the event or use a default filter."
    ]
    assert not Campaign.objects.exists()


def test_launch_refuses_a_context_that_leaves_a_variable_empty(marketer, shop):
    # A campaign stored before this check (or through the shell) is still refused at launch, with the same reason.
    c = Campaign.objects.create(
        name="Old", template=promo("p", "{{ discount }} off {{ category }}"), context={}, segment=segment("all")
    )
    version = marketer.get(f"/admin/campaigns/campaign/{c.pk}/change/").context_data["saved_version"]
    page = marketer.post(f"/admin/campaigns/campaign/{c.pk}/do/launch/", {"version": version}, follow=True)
    assert (
        "Context: With this context, template 'p' fails at title: the data has no value for discount, category; "
        "add it to the event or use a default filter."
    ) in messages_of(page)
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT
    assert not Notification.objects.exists()


def test_a_shoppers_attributes_are_not_required_of_the_context(marketer, shop):
    # {{ user.city }} differs per shopper: the template's sample context stands in for it, not the campaign's.
    template = promo("p", "{{ discount }} off in {{ user.city }}", sample_context={"user": {"city": "Berlin"}})
    page = marketer.post("/admin/campaigns/campaign/add/", change_form(Campaign(name="City", template=template)))
    assert page.status_code == 302
