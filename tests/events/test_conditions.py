from __future__ import annotations

import pytest

from events.conditions import ConditionError, matches_all, parse


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("status in cancelled, delayed", {"status": "delayed"}, True),
        ("status in cancelled, delayed", {"status": "shipped"}, False),
        ("status not in cancelled", {"status": "shipped"}, True),
        ("status = cancelled", {}, False),
        ("total >= 20", {"total": 20}, True),
        ("total >= 20", {"total": "19.99"}, False),
        ("total > 20", {"total": "not a number"}, False),
        ("order.channel = app", {"order": {"channel": "app"}}, True),
        ("express = true", {"express": True}, True),
        ("coupon exists", {"coupon": None}, True),
        ("coupon missing", {}, True),
        ("status = cancelled\ntotal < 100", {"status": "cancelled", "total": 150}, False),
        ("# a comment\n\n", {}, True),
    ],
)
def test_conditions_match_event_data(text: str, data: dict, expected: bool) -> None:
    assert matches_all(parse(text), data) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("statusin cancelled", "Line 1: 'statusin cancelled' is not a condition"),
        ("status = cancelled\ntotal >= lots", "Line 2: '>=' compares numbers, and 'lots' is not a number"),
        ("status =", "needs a value"),
        ("coupon exists yes", "'exists' takes no value"),
    ],
)
def test_a_wrong_condition_is_refused_with_its_line_and_reason(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse(text)
