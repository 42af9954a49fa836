"""A segment's conditions as SQL over active devices (d) and shoppers' attributes (p), and their validation.

Device conditions hold per device (platform is ios AND locale in de: a German iOS device); a shopper is in
the segment when any of their active devices matches. Values are always query parameters, and attribute
names are passed as parameters too (`p.attributes -> %s`), never formatted into the SQL.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from audience.models import OPERATORS_OF, Field, Operator, SegmentCondition
from devices.models import Platform
from devices.validation import APP_VERSION_PATTERN, normalize_locale

ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# 4.2 = 4.2.0 = 4.2.0.0: both sides padded to four numbers before comparing as arrays.
# No version (a web device): NULL, which no comparison matches.
VERSION_ARRAY = (
    "(CASE WHEN d.app_version ~ '^[0-9]' THEN (string_to_array(rtrim((regexp_match(d.app_version, '^[0-9.]+'))[1],"
    " '.'), '.')::int[] || '{0,0,0,0}'::int[])[1:4] END)"
)


def _values(raw: str) -> list[str]:
    return [v.strip() for v in raw.split(",") if v.strip()]


def _number(raw: str) -> Decimal | None:
    try:
        return Decimal(raw)
    except (InvalidOperation, ValueError):
        return None


def _is_date(raw: str) -> bool:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(raw)
            return True
        except ValueError:
            continue
    return False


def _json_value(raw: str) -> Any:
    """'5' → 5, 'true' → True, 'Berlin' → 'Berlin': what an attribute equal to the text would hold."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, (int, float, bool)) else raw


def validate(field: str, operator: str, value: str, attribute: str = "") -> None:
    """Refuse a condition that can't be evaluated, saying why (the admin form shows it)."""
    if field not in OPERATORS_OF:
        raise ValidationError({"field": f"Unknown field {field!r}."})
    if operator not in OPERATORS_OF[field]:
        allowed = ", ".join(Operator(o).label for o in OPERATORS_OF[field])
        raise ValidationError({"operator": f"{Field(field).label} can be compared with: {allowed}."})
    if field == Field.ATTRIBUTE and not ATTRIBUTE_NAME.match(attribute):
        raise ValidationError({"attribute": "An attribute name: letters, digits and _, starting with a letter."})
    if operator == Operator.EXISTS:
        return
    values = _values(value)
    if not values:
        raise ValidationError({"value": "A value to compare with."})
    if operator != Operator.IN and len(values) > 1:
        raise ValidationError({"value": "One value only; use 'is one of' for several."})
    if field == Field.PLATFORM and (bad := [v for v in values if v not in Platform.values]):
        raise ValidationError({"value": f"Unknown platform {bad[0]!r}; one of {', '.join(Platform.values)}."})
    if field == Field.LOCALE:
        for v in values:
            try:
                normalize_locale(v)
            except ValidationError as exc:
                raise ValidationError({"value": exc.messages}) from None
    if field == Field.APP_VERSION and not APP_VERSION_PATTERN.match(values[0]):
        raise ValidationError({"value": f"{values[0]!r} is not a version such as 4.2 or 4.12.1."})
    if field == Field.LAST_SEEN and not values[0].isdigit():
        raise ValidationError({"value": "A whole number of days."})
    comparing = field == Field.ATTRIBUTE and operator in (Operator.GTE, Operator.LTE)
    if comparing and _number(values[0]) is None and not _is_date(values[0]):
        raise ValidationError({"value": "≥ and ≤ compare numbers or dates (2026-11-01)."})


def to_sql(condition: SegmentCondition) -> tuple[str, list[Any]]:
    field, operator, values = condition.field, condition.operator, _values(condition.value)
    if field == Field.PLATFORM:
        return "d.platform = ANY(%s)", [values]
    if field == Field.LOCALE:
        # 'de' means any German device (de, de-DE, de-AT); 'de-AT' only that locale.
        clauses, params = [], []
        for value in (normalize_locale(v) for v in values):
            clauses.append("(d.locale = %s OR d.locale LIKE %s)" if "-" not in value else "d.locale = %s")
            params.extend([value, f"{value}-%"] if "-" not in value else [value])
        return f"({' OR '.join(clauses)})", params
    if field == Field.APP_VERSION:
        sign = {Operator.GTE: ">=", Operator.LTE: "<=", Operator.EQUALS: "="}[operator]
        wanted = [int(part) for part in re.match(r"^[0-9.]+", values[0])[0].strip(".").split(".")]
        wanted = [*wanted, 0, 0, 0, 0][:4]
        return f"{VERSION_ARRAY} {sign} %s::int[]", [wanted]
    if field == Field.LAST_SEEN:
        return "d.last_seen_at >= now() - make_interval(days => %s)", [int(values[0])]
    name = condition.attribute
    if operator == Operator.EXISTS:
        return "p.attributes ? %s", [name]
    if operator in (Operator.EQUALS, Operator.IN):
        wanted = [json.dumps({name: candidate}) for v in values for candidate in {v, _json_value(v)}]
        return "p.attributes @> ANY(%s::jsonb[])", [wanted]
    sign = ">=" if operator == Operator.GTE else "<="
    number = _number(values[0])
    if number is not None:
        return (
            f"(jsonb_typeof(p.attributes -> %s) = 'number' AND (p.attributes ->> %s)::numeric {sign} %s)",
            [name, name, number],
        )
    return f"(p.attributes ->> %s) {sign} %s", [name, values[0]]  # ISO dates compare as text


def where(conditions: list[SegmentCondition], match: str) -> tuple[str, list[Any]]:
    """The condition on one (device, profile) row; TRUE for a segment without conditions."""
    if not conditions:
        return "TRUE", []
    parts, params = [], []
    for condition in conditions:
        sql, args = to_sql(condition)
        parts.append(sql)
        params.extend(args)
    joiner = " AND " if match == "all" else " OR "
    return f"({joiner.join(parts)})", params
