"""Template bombs: a render has a budget of steps and characters, and a template over it fails with the reason.

Before the fix, `{{ ""|ljust:"200000000" }}` built a 200 MB string (and passed the length check, the output
being stripped), and nested loops over a padded string rendered for about an hour, holding a worker.
"""

from __future__ import annotations

import tracemalloc

import pytest

from events.ingest import IncomingEvent, ingest_events
from events.models import TriggerRule
from events.triggers import process_events
from notifications.models import Notification, NotificationStatus
from templates.models import MessageTemplate
from templates.preview import preview
from templates.rendering import RenderError, render_text
from templates.safe_library import MAX_CHARS, MAX_STEPS
from tests.events.test_admin import TEMPLATE_FORM, form_errors, marketer, save_template  # noqa: F401 - fixture

LIMITS = "the template exceeds its render limits"
PADDED = '{% with s=""|ljust:"1000" %}'  # a 1,000-character string, within the limits

BOMBS = {
    "ljust": ('{{ ""|ljust:"200000000" }}', "ljust to a width of 200,000,000 characters"),
    "rjust": ('{{ "x"|rjust:"200000000" }}', "rjust to a width of 200,000,000 characters"),
    "center": ("{{ name|center:200000000 }}", "center to a width of 200,000,000 characters"),
    "stringformat": ('{{ 1|stringformat:"0200000000d" }}', "stringformat with a width or precision of 0200000000"),
    "floatformat digits": ('{{ 1|floatformat:"200000000" }}', "floatformat to 200000000 decimal places"),
    "floatformat of a huge number": ('{{ "1e200000000"|floatformat }}', "floatformat of a number with 200,000,000"),
    "join": (PADDED + "{{ s|make_list|join:s }}{% endwith %}", "join makes 1,001,000 characters"),
    "doubling with add": (
        PADDED + "{% with a=s|add:s %}{% with b=a|add:a %}{% with c=b|add:b %}{% with d=c|add:c %}{% with e=d|add:d %}"
        "{{ e }}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}",
        f"the filter add makes more than {MAX_CHARS:,} characters",
    ),
    "two nested loops over a padded string": (
        PADDED + "{% for a in s %}{% for b in s %}x{% endfor %}{% endfor %}{% endwith %}",
        f"more than {MAX_STEPS:,} steps",
    ),
    "three nested empty loops": (
        PADDED + "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}{% endwith %}",
        f"more than {MAX_STEPS:,} steps",
    ),
    "a loop printing the padded string": (
        PADDED + "{% for a in s %}{{ s }}{% endfor %}{% endwith %}",
        f"produces more than {MAX_CHARS:,} characters",
    ),
    "a bomb inside an if condition": (
        '{% if name|ljust:"200000000" == "x" %}yes{% endif %}',  # {% if %}'s operators swallow exceptions
        "ljust to a width of 200,000,000 characters",
    ),
}


@pytest.mark.parametrize("name", BOMBS)
def test_a_template_bomb_fails_with_the_limit_it_crossed_without_using_much_memory(name: str) -> None:
    source, reason = BOMBS[name]
    tracemalloc.start()
    try:
        with pytest.raises(RenderError) as caught:
            render_text(source, {"name": "Ana"}, field="body")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.field == "body"
    assert caught.value.message.startswith(LIMITS) and reason in caught.value.message, caught.value.message
    assert peak < 10 * 1024 * 1024, f"{name}: {peak:,} bytes at the peak"  # the attack built hundreds of MB


def test_templates_within_the_limits_still_render() -> None:
    source = "{% for item in items %}{{ item|upper }}{% if not forloop.last %}, {% endif %}{% endfor %}"
    assert render_text(source, {"items": ["oat milk", "bread"]}, field="body") == "OAT MILK, BREAD"
    assert render_text('{{ price|floatformat:2 }} {{ name|ljust:"6" }}|', {"price": 2.5, "name": "Ana"}, field="t") == (
        "2.50 Ana   |"
    )
    # Each field has a budget of its own: a render that stopped at a limit doesn't spend the next one's.
    with pytest.raises(RenderError):
        render_text(BOMBS["two nested loops over a padded string"][0], {}, field="body")
    assert render_text("{% for c in name %}{{ c }}{% endfor %}", {"name": "Ana"}, field="title") == "Ana"


@pytest.mark.django_db
def test_a_template_bomb_is_refused_at_save_naming_the_field(marketer):  # type: ignore[no-untyped-def] # noqa: F811
    response = save_template(marketer, body='Only this weekend{{ ""|ljust:"200000000" }}')
    assert response.status_code == 200
    [error] = form_errors(response)["body"]
    assert error.startswith(f"With the sample context, {LIMITS}: ljust to a width of 200,000,000"), error
    loops = BOMBS["two nested loops over a padded string"][0]
    [error] = form_errors(save_template(marketer, **{"translations-0-body": loops}))["translations.0.body"]
    assert f"more than {MAX_STEPS:,} steps" in error, error
    assert not MessageTemplate.objects.filter(key=TEMPLATE_FORM["key"]).exists()


def test_the_preview_shows_the_limit_crossed() -> None:
    answer = preview({"title": "Deals", "body": BOMBS["two nested loops over a padded string"][0]})
    assert answer["ok"] is False and answer["field"] == "body"
    assert answer["error"].startswith(LIMITS) and f"more than {MAX_STEPS:,} steps" in answer["error"]


@pytest.mark.django_db
def test_in_the_worker_the_notification_fails_with_the_reason() -> None:
    """The width comes from the event's data: the sample context passed at save, the event is the bomb."""
    template = MessageTemplate.objects.create(
        key="padded",
        name="Padded",
        category="order_updates",
        title="Order {{ order_id }}",
        body="{{ note|ljust:width }}",
    )
    TriggerRule.objects.create(name="Padded notes", event_type="order_noted", template=template)
    data = {"order_id": "1042", "note": "Sorry", "width": "200000000"}
    [accepted] = ingest_events([IncomingEvent("order_noted", "shopper-9", "note-1", data)], producer="test")

    process_events([accepted.id])

    notification = Notification.objects.get(source_ref=str(accepted.id))
    assert notification.status == NotificationStatus.FAILED
    assert LIMITS in notification.status_reason and "ljust to a width of 200,000,000" in notification.status_reason
