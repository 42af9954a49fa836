"""The conditions a marketer writes on a trigger rule, one per line; all must hold.

    status in cancelled, delayed
    total >= 20
    order.channel = app
    coupon exists

A field is a key of the event's data (dotted for nested objects). `=`, `!=`,
`in` and `not in` compare text (numbers and true/false as JSON writes them);
`<`, `<=`, `>`, `>=` compare numbers and are false when either side is not one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_LINE = re.compile(
    r"^(?P<field>[A-Za-z_][\w-]*(?:\.[\w-]+)*)"
    r"(?:\s*(?P<symbol>!=|<=|>=|=|<|>)|\s+(?P<word>not\s+in|in|exists|missing)\b)\s*(?P<value>.*)$"
)
ABSENT = object()  # a field the data does not have
SYNTAX_HELP = "Write one condition per line, e.g. 'status in cancelled, delayed', 'total >= 20' or 'coupon exists'."


class ConditionError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Line {line}: {message}")


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def lookup(data: Mapping[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ABSENT
        current = current[part]
    return current


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[str, ...]

    def matches(self, data: Mapping[str, Any]) -> bool:
        found = lookup(data, self.field)
        if self.op == "exists":
            return found is not ABSENT
        if self.op == "missing":
            return found is ABSENT
        if found is ABSENT:
            return False
        if self.op in ("=", "in"):
            return as_text(found) in self.values
        if self.op in ("!=", "not in"):
            return as_text(found) not in self.values
        left, right = _number(found), _number(self.values[0])
        if left is None or right is None:
            return False
        return _COMPARE[self.op](left, right)


_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": Decimal.__lt__,
    "<=": Decimal.__le__,
    ">": Decimal.__gt__,
    ">=": Decimal.__ge__,
}


def parse(text: str) -> list[Condition]:
    """The conditions in `text`; ConditionError names the line that is wrong and why."""
    conditions = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConditionError(number, f"{line!r} is not a condition. {SYNTAX_HELP}")
        field, op, value = match["field"], " ".join((match["symbol"] or match["word"]).split()), match["value"].strip()
        if op in ("exists", "missing"):
            if value:
                raise ConditionError(number, f"'{op}' takes no value (found {value!r}).")
            conditions.append(Condition(field, op, ()))
            continue
        if not value:
            raise ConditionError(number, f"'{field} {op}' needs a value to compare with.")
        listed = op in ("in", "not in")
        values = tuple(v.strip() for v in value.split(",") if v.strip()) if listed else (value,)
        if op in _COMPARE and _number(value) is None:
            raise ConditionError(number, f"'{op}' compares numbers, and {value!r} is not a number.")
        conditions.append(Condition(field, op, values))
    return conditions


def matches_all(conditions: list[Condition], data: Mapping[str, Any]) -> bool:
    return all(condition.matches(data) for condition in conditions)
