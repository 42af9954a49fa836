"""Message templates render safely: no reach into settings, files or the database; no "Hello ,"."""

from __future__ import annotations

import pytest

from notifications.records import Content
from templates.models import MessageTemplate, TemplateTranslation
from templates.rendering import RenderError, render_content, render_text


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x' %}",
        "{% debug %}",
        '{% include "/etc/passwd" %}',
        '{% extends "admin/base.html" %}',
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
    ],
)
def test_tags_that_reach_files_settings_or_modules_do_not_exist(source: str) -> None:
    with pytest.raises(RenderError, match="template syntax error"):
        render_text(source, {}, field="body")


def test_private_attributes_are_refused() -> None:
    with pytest.raises(RenderError, match="may not begin with underscores"):
        render_text("{{ name.__class__.__mro__ }}", {"name": "x"}, field="title")


def test_text_is_not_html_escaped_for_a_push() -> None:
    assert render_text("{{ name }} & co", {"name": "Ben & Jerry's <3"}, field="title") == "Ben & Jerry's <3 & co"


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("Hello {{ first_name }},", "first_name"),
        ("Order {{ order.number }}", "order.number"),
        ("{{ product_name|upper }} is back", "product_name"),
        ("Item {{ items.4 }}", "items.4"),
        ("Hi {{ user.first_name }}", "user.first_name"),
    ],
)
def test_a_missing_variable_is_an_error_naming_it(source: str, missing: str) -> None:
    context = {"order": {"id": 1}, "items": ["a"], "user": {"id": "u1"}}
    with pytest.raises(RenderError) as caught:
        render_text(source, context, field="body")
    assert caught.value.field == "body"
    assert missing in caught.value.message


def test_defaults_and_conditions_may_use_absent_variables() -> None:
    source = "Hello {{ first_name|default:'there' }}{% if coupon %}, use {{ coupon }}{% endif %}!"
    assert render_text(source, {}, field="body") == "Hello there!"
    assert render_text(source, {"first_name": "Ana", "coupon": "FRUIT5"}, field="body") == "Hello Ana, use FRUIT5!"


def _template(**fields: object) -> MessageTemplate:
    defaults = {"key": "t", "name": "t", "category": "promotions", "title": "{{ name }}", "body": "Hi"}
    return MessageTemplate(**{**defaults, **fields})


def test_each_locale_is_rendered_and_a_device_gets_its_own_language() -> None:
    template = _template(title="{{ name }} is back", body="Grab it", deep_link="shop://p/{{ id }}")
    translations = [
        TemplateTranslation(template=template, locale="de", title="{{ name }} ist wieder da", body="Zugreifen"),
        TemplateTranslation(template=template, locale="pt-BR", title="{{ name }} voltou", body="Corra"),
    ]
    content = render_content(template, {"name": "Brot", "id": "7"}, user_id="u1", translations=translations)
    assert isinstance(content, Content)
    assert content.push_message("de-AT").title == "Brot ist wieder da"  # language match
    assert content.push_message("pt-BR").title == "Brot voltou"
    assert content.push_message("pt-PT").title == "Brot voltou"  # another region of the language
    assert content.push_message("en-GB").title == "Brot is back"  # no translation: the default
    assert content.push_message("de").deep_link == "shop://p/7"  # the default deep link when not translated


def test_a_payload_over_the_provider_limit_is_refused() -> None:
    template = _template(data={"blob": "{{ blob }}"})
    with pytest.raises(RenderError, match="limit is"):
        render_content(template, {"name": "x", "blob": "y" * 4000}, user_id="u1", translations=[])


def test_a_rendered_title_over_the_stored_length_is_refused() -> None:
    with pytest.raises(RenderError, match="at most 200"):
        render_content(_template(), {"name": "x" * 300}, user_id="u1", translations=[])


@pytest.mark.django_db
def test_every_shipped_template_renders_its_sample_in_every_language() -> None:
    templates = MessageTemplate.objects.prefetch_related("translations")
    assert {t.key for t in templates} == {
        "abandoned_cart",
        "order_cancelled",
        "order_delayed",
        "product_restocked",
        "favourite_discounted",
    }
    for template in templates:
        content = render_content(template, template.sample_context, user_id="u1")
        assert set(content.translations) == {"de", "fr"}, template.key
        for locale in ("", "de", "fr"):
            message = content.push_message(locale)
            assert message.title and message.body and "{" not in message.title + message.body, (template.key, locale)
