"""Issue 18, bugs 4 and 5, in a real browser (Playwright, Debian's Chromium) against uvicorn: the template page as
Support (view only) and a marketer use it. Support sees the saved template previewed in each of its languages and
as Android, iOS and the web show it; the page fits a 1400 px window with long translations and the preview covers
no section header; a new template shows no error before anything is typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from accounts import roles
from bench.processes import database_environment, web_process
from templates.models import MessageTemplate, TemplateTranslation
from tests.browser.session import signed_in_page, staff_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TITLE = "Oat milk is waiting in your basket"
LONG = "Fresh {{ product_name }} from the farm down the road, picked this morning and packed without plastic. " * 3


@pytest.fixture(scope="module")
def base(django_db_setup: None) -> Iterator[str]:
    """One web server for the module (each test's rows are its own: the database is flushed between tests)."""
    with web_process(database_environment()) as url:
        yield url


@pytest.fixture
def template() -> MessageTemplate:
    template = MessageTemplate.objects.create(
        key="basket_waiting",
        name="Basket waiting",
        category="cart_reminders",
        title="{{ product_name }} is waiting in your basket",
        body="Finish your order before {{ cutoff }} for delivery today.",
        image="https://cdn.example.com/{{ product_id }}.jpg",
        deep_link="shop://cart/{{ cart_id }}",
        sample_context={"product_name": "Oat milk", "cutoff": "14:00", "product_id": "p1", "cart_id": "c-7"},
    )
    TemplateTranslation.objects.create(
        template=template,
        locale="de",
        title="{{ product_name }} wartet im Warenkorb",
        body="Bestelle bis {{ cutoff }} für die Lieferung heute.",
    )
    return template


def template_page(playwright: Any, base: str, username: str, template: MessageTemplate | None = None) -> Any:
    page = signed_in_page(playwright, base, username)
    path = f"{template.pk}/change" if template else "add"
    page.goto(f"{base}/admin/message_templates/messagetemplate/{path}/")
    return page


def test_support_sees_the_saved_template_in_each_language_and_platform(base, template):
    from playwright.sync_api import expect, sync_playwright

    staff_member("sam", roles.SUPPORT)
    with sync_playwright() as playwright:  # after the rows are written: its event loop makes the ORM refuse to run
        page = template_page(playwright, base, "sam", template)
        panel = page.locator("#push-preview")
        expect(page.locator("#id_title")).to_have_count(0)  # view only: nothing to type into
        expect(panel.locator("[data-preview=title]")).to_have_text(TITLE)
        expect(panel.locator("[data-preview=body]")).to_have_text("Finish your order before 14:00 for delivery today.")
        expect(panel.locator("[data-preview=deep_link]")).to_have_text("shop://cart/c-7")
        expect(panel.locator("[data-preview=error]")).to_be_hidden()

        picker = panel.locator("[data-preview-control=locale]")
        expect(picker.locator("option")).to_have_text(["en (default)", "de"])
        picker.select_option("de")
        expect(panel.locator("[data-preview=title]")).to_have_text("Oat milk wartet im Warenkorb")
        expect(panel.locator("[data-preview=body]")).to_have_text("Bestelle bis 14:00 für die Lieferung heute.")
        expect(panel.locator("[data-preview=locale]")).to_have_text("de")

        card, image = panel.locator("[data-preview=card]"), panel.locator("[data-preview=image]")
        expect(panel).to_have_attribute("data-platform", "android")
        expect(card).to_have_class(shown_as("android"))
        expect(image).to_have_attribute("src", "https://cdn.example.com/p1.jpg")
        thumbnail = image.bounding_box()
        panel.get_by_text("iOS", exact=True).click()
        expect(panel).to_have_attribute("data-platform", "ios")
        expect(panel.get_by_role("radio", name="iOS")).to_be_checked()
        expect(card).to_have_class(shown_as("ios"))
        expect(card.locator(".push-app")).to_have_text("Shop")
        panel.get_by_text("Web", exact=True).click()
        expect(card).to_have_class(shown_as("web"))
        expect(card.locator(".push-app")).to_have_text("Shop · via Chrome")
        # Android and iOS show the image as a thumbnail beside the text; Chrome shows it large, under the text.
        large, texts = image.bounding_box(), card.locator(".push-texts").bounding_box()
        assert thumbnail["width"] <= 48 < large["width"], (thumbnail, large)
        assert large["y"] >= texts["y"] + texts["height"], (large, texts)

        page.reload()  # the platform is remembered for this page
        expect(page.locator("#push-preview")).to_have_attribute("data-platform", "web")
        expect(page.locator("#push-preview [data-preview=title]")).to_have_text(TITLE)
        page.context.browser.close()


def test_a_marketer_edits_the_title_and_the_preview_follows(base, template):
    from playwright.sync_api import expect, sync_playwright

    staff_member("mara", roles.MARKETERS)
    with sync_playwright() as playwright:
        page = template_page(playwright, base, "mara", template)
        title = page.locator("#push-preview [data-preview=title]")
        expect(title).to_have_text(TITLE)
        page.fill("#id_title", "Still hungry for {{ product_name }}?")
        expect(title).to_have_text("Still hungry for Oat milk?")
        page.locator("#push-preview [data-preview-control=locale]").select_option("de")
        page.fill("#id_translations-0-title", "Noch Hunger auf {{ product_name }}?")
        expect(title).to_have_text("Noch Hunger auf Oat milk?")
        page.fill("#id_title", "Hello {{ first_name }}")
        expect(page.locator("#push-preview [data-preview=error]")).to_contain_text("first_name")
        page.context.browser.close()


def test_the_page_fits_the_window_and_the_preview_covers_no_header(base, template):
    from playwright.sync_api import expect, sync_playwright

    staff_member("mara", roles.MARKETERS)
    staff_member("sam", roles.SUPPORT)
    for locale in ("fr", "nl", "pt-BR"):
        TemplateTranslation.objects.create(
            template=template,
            locale=locale,
            title="{{ product_name }} " + "attend toujours dans votre panier " * 5,
            body=LONG,
            image="https://cdn.example.com/images/very/long/path/to/the/{{ product_id }}/large-picture.jpg",
            deep_link="shop://cart/{{ cart_id }}?utm_source=push&utm_medium=reminder&utm_campaign=basket",
        )
    with sync_playwright() as playwright:
        for username in ("mara", "sam"):  # the form, and the read-only page Support sees
            page = template_page(playwright, base, username, template)
            panel = page.locator("#push-preview")
            expect(panel.locator("[data-preview=title]")).to_have_text(TITLE)
            width = page.evaluate("innerWidth")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, username
            rows = page.locator(".inline-group .tabular tr.has_original")
            expect(rows).to_have_count(4)
            for row in rows.all():  # every cell of every translation, Delete included, is within the window
                for cell in row.locator("td:not(.original)").all():
                    box = cell.bounding_box()
                    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (username, box)

            headers = page.locator("fieldset h2, .inline-group h2")
            assert headers.count() >= 5, username
            for header in headers.all():  # scrolled to each header in turn, the sticky preview stays clear of it
                header.scroll_into_view_if_needed()
                for each in headers.all():
                    assert not overlaps(panel.bounding_box(), each.bounding_box()), (username, each.inner_text())
            page.context.browser.close()


def test_a_new_template_shows_no_error_until_the_marketer_types_one(base):
    from playwright.sync_api import expect, sync_playwright

    staff_member("mara", roles.MARKETERS)
    with sync_playwright() as playwright:
        page = template_page(playwright, base, "mara")
        error = page.locator("#push-preview [data-preview=error]")
        page.fill("#id_name", "Back in stock")  # typing elsewhere while title and body are empty: still no error
        page.fill("#id_sample_context", '{"product_name": "Oat milk"}')
        # The preview has shown the empty form (its language line is filled in) and no error with it.
        expect(page.locator("#push-preview [data-preview=locale]")).to_have_text("default (en)")
        expect(error).to_be_hidden()
        expect(page.locator(".errorlist, .errornote")).to_have_count(0)

        page.fill("#id_title", "{{ product_name }} is back")
        expect(page.locator("#push-preview [data-preview=title]")).to_have_text("Oat milk is back")
        expect(error).to_be_hidden()
        page.fill("#id_title", "{{ product_name }} for {{ price }}")
        expect(error).to_be_visible()
        expect(error).to_contain_text("price")
        expect(page.locator(".errorlist")).to_have_count(0)  # the preview's line, not the form's errors
        page.context.browser.close()


def shown_as(platform: str) -> re.Pattern[str]:
    """The card's class list names this platform (and no other: it has a single platform-… class)."""
    return re.compile(rf"^(?!.*platform-(?!{platform}\b)).*\bplatform-{platform}\b")


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and (b["y"] < a["y"] + a["height"])
    )
