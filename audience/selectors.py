"""Reading audiences: a segment's size, and its shoppers streamed in pages for a campaign's fan-out.

Both are one SQL statement over active devices joined to shoppers' attributes (and, for an uploaded
list, its members). A shopper is in when any of their active devices matches; their devices are all
their active devices, since a notification goes to each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from audience import conditions
from audience.models import Segment, SegmentCondition, SegmentMember, ShopperProfile
from devices.models import Device

D = Device._meta.db_table
P = ShopperProfile._meta.db_table
M = SegmentMember._meta.db_table


@dataclass(frozen=True)
class AudienceSize:
    users: int
    devices: int


def _grouped(
    segment: Segment, rules: list[SegmentCondition] | None = None, *, after: str | None = None
) -> tuple[str, list[Any]]:
    """SELECT user_id, devices, a time zone … GROUP BY user_id HAVING (in the segment), with its parameters."""
    params: list[Any] = []
    member_join = ""
    if segment.kind == Segment.Kind.LIST:
        member_join = f"JOIN {M} AS m ON m.user_id = d.user_id AND m.segment_id = %s"
        params.append(segment.pk)
    page = ""
    if after is not None:
        page = "AND d.user_id > %s"
        params.append(after)
    if segment.kind == Segment.Kind.LIST:
        having, having_params = "TRUE", []
    else:
        rules = list(segment.conditions.all()) if rules is None else rules
        having, having_params = conditions.where(rules, segment.match)
    sql = f"""
        SELECT d.user_id, count(*) AS devices, max(nullif(d.timezone, '')) AS timezone
        FROM {D} AS d
        {member_join}
        LEFT JOIN {P} AS p ON p.user_id = d.user_id
        WHERE d.is_active {page}
        GROUP BY d.user_id
        HAVING bool_or({having})
    """  # noqa: S608 - table names only; every value is a parameter
    return sql, [*params, *having_params]


def audience_size(
    segment: Segment, rules: list[SegmentCondition] | None = None, *, after: str | None = None
) -> AudienceSize:
    """Shoppers in the segment who can be reached, and their active devices (`rules`: unsaved conditions;
    `after`: only the shoppers after this user id, those a fan-out stopped there has not reached yet)."""
    grouped, params = _grouped(segment, rules, after=after)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), coalesce(sum(devices), 0) FROM ({grouped}) AS s", params)  # noqa: S608
        users, devices = cursor.fetchone()
    return AudienceSize(users, int(devices))


@dataclass(frozen=True)
class Member:
    user_id: str
    devices: int
    timezone: str  # of one of their devices; empty when none says


def audience_page(segment: Segment, *, after: str, limit: int) -> list[Member]:
    """The next `limit` shoppers after `after` in user-id order (keyset pagination: constant cost per page)."""
    grouped, params = _grouped(segment, after=after)
    with connection.cursor() as cursor:
        cursor.execute(f"{grouped} ORDER BY d.user_id LIMIT %s", [*params, limit])
        return [Member(user_id, devices, timezone or "") for user_id, devices, timezone in cursor.fetchall()]


def devices_by_platform(segment: Segment) -> dict[str, int]:
    """The active devices of the segment's shoppers, per platform (android, ios, web): one statement."""
    grouped, params = _grouped(segment)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT d.platform, count(*) FROM {D} AS d
                WHERE d.is_active AND d.user_id IN (SELECT user_id FROM ({grouped}) AS s)
                GROUP BY d.platform ORDER BY d.platform""",  # noqa: S608 - table names only; values are parameters
            params,
        )
        return dict(cursor.fetchall())
