"""Marketers manage templates and rules in the admin: mistakes are refused on save, with the reason."""

from __future__ import annotations

import json

import pytest

from accounts import roles
from events.models import Event, TriggerRule
from notifications.models import NotificationStatus
from templates.models import MessageTemplate
from tests.rows import notification_row
from tests.staff import staff

pytestmark = pytest.mark.django_db

TEMPLATE_FORM = {
    "key": "weekend_deals",
    "name": "Weekend deals",
    "description": "",
    "category": "promotions",
    "priority": "normal",
    "default_locale": "en",
    "title": "{{ product_name }} for {{ price }}",
    "body": "Only this weekend.",
    "image": "",
    "deep_link": "shop://products/{{ product_id }}",
    "data": '{"product_id": "{{ product_id }}"}',
    "ttl_seconds": "3600",
    "collapse_key": "",
    "dedup_window": "01:00:00",
    "sample_context": '{"product_name": "Strawberries", "price": "2.99", "product_id": "p1"}',
    "translations-TOTAL_FORMS": "1",
    "translations-INITIAL_FORMS": "0",
    "translations-MIN_NUM_FORMS": "0",
    "translations-MAX_NUM_FORMS": "1000",
    "translations-0-locale": "de",
    "translations-0-title": "{{ product_name }} für {{ price }}",
    "translations-0-body": "Nur dieses Wochenende.",
    "translations-0-image": "",
    "translations-0-deep_link": "",
}


@pytest.fixture
def marketer(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.MARKETERS))
    return client


def save_template(client, **changes: str):  # type: ignore[no-untyped-def]
    return client.post("/admin/message_templates/messagetemplate/add/", {**TEMPLATE_FORM, **changes})


def form_errors(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    errors = dict(response.context_data["adminform"].form.errors)
    for formset in response.context_data["inline_admin_formsets"]:
        for index, form_errors in enumerate(formset.formset.errors):
            errors.update({f"translations.{index}.{k}": v for k, v in form_errors.items()})
    return errors


def test_a_marketer_saves_a_template_with_a_translation(marketer):
    response = save_template(marketer)
    assert response.status_code == 302, form_errors(response)
    template = MessageTemplate.objects.get(key="weekend_deals")
    assert template.translations.get().locale == "de"


def test_a_missing_variable_is_refused_on_save_naming_it(marketer):
    response = save_template(marketer, body="Hello {{ first_name }}, only this weekend.")
    assert response.status_code == 200
    errors = form_errors(response)
    assert "first_name" in errors["body"][0]
    translation = save_template(marketer, **{"translations-0-title": "{{ produkt }} für {{ price }}"})
    assert "produkt" in form_errors(translation)["translations.0.title"][0]
    assert not MessageTemplate.objects.filter(key="weekend_deals").exists()


def test_a_syntax_error_and_a_payload_over_the_limit_are_refused(marketer):
    broken = form_errors(save_template(marketer, title="{% if price %}{{ price }}"))
    assert "syntax error" in broken["title"][0]
    big_sample = json.dumps({"product_name": "x", "price": "1", "product_id": "p", "blob": "y" * 3900})
    too_big = form_errors(save_template(marketer, data='{"blob": "{{ blob }}"}', sample_context=big_sample))
    assert "limit is" in str(too_big)
    assert not MessageTemplate.objects.filter(key="weekend_deals").exists()


def test_the_live_preview_renders_as_a_phone_shows_it(marketer):
    form = {
        "title": "{{ product_name }} for {{ price }}",
        "body": "Only <b>this</b> weekend.",
        "data": '{"product_id": "{{ product_id }}"}',
        "category": "promotions",
        "sample_context": TEMPLATE_FORM["sample_context"],
        "translations": [{"locale": "de", "title": "{{ product_name }} für {{ price }}", "body": "Nur am Wochenende"}],
        "locale": "de-AT",
    }
    url = "/admin/message_templates/messagetemplate/preview/"
    answer = marketer.post(url, form, content_type="application/json").json()
    assert answer["ok"] and answer["locale"] == "de-AT"
    assert (answer["title"], answer["body"]) == ("Strawberries für 2.99", "Nur am Wochenende")
    assert answer["sizes"]["FCM"]["limit"] == 4096 and 0 < answer["sizes"]["FCM"]["bytes"] < 4096
    english = marketer.post(url, {**form, "locale": ""}, content_type="application/json").json()
    assert english["body"] == "Only <b>this</b> weekend."  # plain text; the page shows it as text
    missing = marketer.post(url, {**form, "title": "Hi {{ name }}"}, content_type="application/json").json()
    assert missing == {
        "ok": False,
        "field": "title",
        "error": "the data has no value for name; add it to the event or use a default filter.",
    }


def test_the_preview_is_for_staff_only(client):
    response = client.post("/admin/message_templates/messagetemplate/preview/", {}, content_type="application/json")
    assert response.status_code == 302  # to the login page


def test_a_rule_with_a_wrong_condition_is_refused_with_the_line(marketer):
    template = MessageTemplate.objects.get(key="order_cancelled")
    response = marketer.post(
        "/admin/events/triggerrule/add/",
        {
            "name": "Big orders cancelled",
            "is_active": "on",
            "event_type": "order_status_changed",
            "conditions": "status = cancelled\ntotal >= lots",
            "template": template.pk,
            "category": "",
            "priority": "",
            "delay": "0",
            "match_key": "",
            "cancel_on": "checkout_completed",
        },
    )
    errors = response.context_data["adminform"].form.errors
    assert "Line 2: '>=' compares numbers" in errors["conditions"][0]
    assert "match key" in errors["match_key"][0]
    assert not TriggerRule.objects.filter(name="Big orders cancelled").exists()


def test_waiting_sends_are_listed_and_cancelled_from_the_admin(marketer):
    event = Event.objects.create(
        producer="key:x", idempotency_key="c1", type="cart_updated", user_id="bo", occurred_at="2026-11-26T10:00Z"
    )
    waiting = notification_row(
        user_id="bo",
        title="Still thinking it over?",
        body="…",
        category="cart_reminders",
        source="event",
        source_ref=str(event.pk),
        send_at="2099-01-01T00:00Z",
        status=NotificationStatus.SCHEDULED,
        trigger_key="rule-1:cart_id=77",
        template_key="abandoned_cart",
    )
    listing = marketer.get("/admin/events/waitingsend/")
    assert [n.pk for n in listing.context["cl"].result_list] == [waiting.pk]
    marketer.post("/admin/events/waitingsend/", {"action": "cancel", "_selected_action": [waiting.pk]})
    waiting.refresh_from_db()
    assert waiting.status == NotificationStatus.CANCELLED
    assert waiting.status_reason.startswith("Cancelled in the admin by marketers-")


def test_support_reads_events_and_rules_but_cannot_edit_rules(client):
    client.force_login(staff(roles.SUPPORT))
    rule = TriggerRule.objects.get(name="Order cancelled")
    assert client.get("/admin/events/event/").status_code == 200
    page = client.get(f"/admin/events/triggerrule/{rule.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get("/admin/message_templates/messagetemplate/add/").status_code == 403
