"""The preview's saved mode (issue 18, bug 4): a stored template and its stored translations, rendered on the server
for staff who may only view templates (Support), and every language it has offered to them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from accounts import roles
from templates.models import MessageTemplate, TemplateTranslation
from tests.staff import staff

pytestmark = pytest.mark.django_db
URL = "/admin/message_templates/messagetemplate/preview/"


@pytest.fixture
def template() -> MessageTemplate:
    template = MessageTemplate.objects.create(
        key="basket_waiting",
        name="Basket waiting",
        category="cart_reminders",
        title="{{ item_count }} items are waiting",
        body="Your {{ product_name }} is still in the basket.",
        deep_link="shop://cart/{{ cart_id }}",
        data={"cart_id": "{{ cart_id }}"},
        sample_context={"item_count": "3", "product_name": "oat milk", "cart_id": "c-7"},
    )
    TemplateTranslation.objects.create(
        template=template, locale="de", title="{{ item_count }} Artikel warten", body="Dein {{ product_name }} wartet."
    )
    TemplateTranslation.objects.create(template=template, locale="fr", title="{{ item_count }} articles", body="…")
    return template


@pytest.fixture
def support(client):  # type: ignore[no-untyped-def]
    client.force_login(staff(roles.SUPPORT))
    return client


def post(client, body):  # type: ignore[no-untyped-def]
    return client.post(URL, body, content_type="application/json")


def test_support_sees_the_saved_template_rendered_in_every_language(support, template):
    default = post(support, {"template_id": template.pk})
    assert default.status_code == 200
    answer = default.json()
    assert answer["ok"] and answer["locale"] == "default"
    assert (answer["title"], answer["body"]) == ("3 items are waiting", "Your oat milk is still in the basket.")
    assert (answer["deep_link"], answer["data"]) == ("shop://cart/c-7", {"cart_id": "c-7"})
    assert answer["locales"] == ["en", "de", "fr"]
    assert answer["sizes"]["FCM"]["bytes"] > 0

    german = post(support, {"template_id": str(template.pk), "locale": "de-AT"}).json()
    assert (german["locale"], german["title"], german["body"]) == ("de-AT", "3 Artikel warten", "Dein oat milk wartet.")

    # A context of the caller's (the campaign page's) replaces the sample; a variable it lacks is named.
    own = post(support, {"template_id": template.pk, "context": {"item_count": 9, "product_name": "rye", "cart_id": 1}})
    assert own.json()["title"] == "9 items are waiting"
    missing = post(support, {"template_id": template.pk, "context": {"item_count": 9}}).json()
    assert missing["ok"] is False and missing["field"] == "body" and "product_name" in missing["error"]


def test_an_unknown_template_is_a_json_answer_not_an_error_page(support, template):
    for unknown in (template.pk + 1000, str(2**70)):
        response = post(support, {"template_id": unknown})
        assert response.status_code == 404
        assert response.json() == {
            "ok": False,
            "field": "template_id",
            "error": "No template has this number; it may have been deleted.",
        }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"context": ["not", "an", "object"]}, "context"),
        ({"context": "item_count=3"}, "context"),
        ({"locale": {"$ne": ""}}, "locale"),
        ({"locale": "x" * 36}, "locale"),
        ({"template_id": "1 OR 1=1"}, "template_id"),
        ({"template_id": True}, "template_id"),
        ({"template_id": None}, "template_id"),
    ],
)
def test_hostile_input_is_refused_naming_the_field(support, template, body, field):
    response = post(support, {"template_id": template.pk, **body})
    assert response.status_code == 400
    answer = response.json()
    assert answer["ok"] is False and answer["field"] == field and answer["error"]


def test_staff_without_the_view_permission_are_refused(client, template):
    nobody = User.objects.create_user("intern", password="pw-for-tests", is_staff=True)
    client.force_login(nobody)
    assert post(client, {"template_id": template.pk}).status_code == 403
    nobody.user_permissions.add(Permission.objects.get(codename="view_messagetemplate"))
    client.force_login(User.objects.get(pk=nobody.pk))  # permissions are cached on the user object
    assert post(client, {"template_id": template.pk}).json()["ok"] is True


def test_the_form_mode_offers_the_languages_being_edited(support):
    answer = post(
        support,
        {
            "title": "Hi",
            "body": "there",
            "default_locale": "en-GB",
            "translations": [{"locale": "de", "title": "Hallo", "body": "du"}, "not a row"],
        },
    ).json()
    assert answer["ok"] and answer["locales"] == ["en-GB", "de"]
    assert post(support, {"title": "Hi", "body": "x", "translations": "rows"}).json()["locales"] == ["en"]
