"""Segments select exactly the right shoppers, counted and streamed by the same SQL."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience import conditions
from audience.selectors import audience_page, audience_size

from .conftest import segment

pytestmark = pytest.mark.django_db


def members(seg) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.user_id for m in audience_page(seg, after="", limit=1000)}


@pytest.mark.parametrize(
    ("rules", "match", "expected"),
    [
        ([], "all", {"anna", "ben", "chloe", "dev", "emil", "fay"}),  # gus has no active device
        ([("platform", "", "eq", "ios")], "all", {"anna", "ben", "emil"}),
        ([("platform", "", "in", "web, android")], "all", {"anna", "chloe", "dev", "fay"}),
        ([("locale", "", "in", "de")], "all", {"anna", "dev", "emil"}),  # a language: de-DE and de-AT
        ([("locale", "", "eq", "de-AT")], "all", {"dev"}),
        ([("app_version", "", "gte", "4.2")], "all", {"anna", "ben", "chloe", "fay"}),  # 4.12 > 4.2 > 4.1
        ([("app_version", "", "lte", "4.1")], "all", {"anna", "emil"}),
        ([("last_seen_days", "", "within", "30")], "all", {"anna", "ben", "chloe", "dev", "emil"}),
        ([("attribute", "city", "eq", "Berlin")], "all", {"anna"}),
        ([("attribute", "city", "in", "London, Paris")], "all", {"ben", "chloe"}),
        ([("attribute", "lifetime_orders", "gte", "10")], "all", {"anna"}),  # "40" is text, not a number
        ([("attribute", "lifetime_orders", "eq", "40")], "all", {"dev"}),  # but equals compares either
        ([("attribute", "vip", "eq", "true")], "all", {"anna"}),
        ([("attribute", "last_order_date", "gte", "2026-11-01")], "all", {"chloe"}),
        ([("attribute", "vip", "exists", "")], "all", {"anna"}),
        ([("platform", "", "eq", "ios"), ("locale", "", "in", "de")], "all", {"anna", "emil"}),
        ([("platform", "", "eq", "web"), ("attribute", "city", "eq", "London")], "any", {"ben", "dev"}),
    ],
)
def test_conditions_select_exactly_the_right_shoppers(shop, rules, match, expected):
    seg = segment("s", *rules, match=match)
    assert members(seg) == expected
    size = audience_size(seg)
    assert size.users == len(expected)


def test_the_size_counts_every_active_device_of_the_shoppers_in_it(shop):
    seg = segment("German iOS", ("platform", "", "eq", "ios"), ("locale", "", "in", "de"))
    size = audience_size(seg)
    assert (size.users, size.devices) == (2, 3)  # anna's Android phone gets the push too


def test_pages_follow_user_ids_without_gaps_or_repeats(shop):
    seg = segment("everyone")
    seen, after = [], ""
    while page := audience_page(seg, after=after, limit=2):
        seen.extend(m.user_id for m in page)
        after = page[-1].user_id
    assert seen == ["anna", "ben", "chloe", "dev", "emil", "fay"]


@pytest.mark.parametrize(
    ("field", "operator", "value", "attribute", "message"),
    [
        ("favourite_colour", "eq", "red", "", "Unknown field"),
        ("platform", "gte", "ios", "", "can be compared with"),
        ("platform", "eq", "windows", "", "Unknown platform"),
        ("locale", "in", "english", "", "not a locale"),
        ("app_version", "gte", "four", "", "not a version"),
        ("last_seen_days", "within", "a week", "", "whole number"),
        ("attribute", "eq", "x", "bad name!", "attribute name"),
        ("attribute", "gte", "many", "orders", "compare numbers or dates"),
        ("attribute", "eq", "", "city", "A value"),
    ],
)
def test_a_wrong_condition_is_refused_with_the_reason(field, operator, value, attribute, message):
    with pytest.raises(ValidationError) as caught:
        conditions.validate(field, operator, value, attribute)
    assert message in str(caught.value)
