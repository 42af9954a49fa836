"""Writing what Pushcart knows of shoppers, and uploaded segment lists."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from audience.models import Segment, SegmentMember, ShopperProfile
from config import bulk_sql

MAX_USER_ID = 255


def set_attributes(user_id: str, attributes: dict[str, Any]) -> ShopperProfile:
    """Replace a shopper's attributes (PUT semantics)."""
    profile, _ = ShopperProfile.objects.update_or_create(
        user_id=user_id, defaults={"attributes": attributes, "updated_at": timezone.now()}
    )
    return profile


_MERGE = f"""
INSERT INTO {ShopperProfile._meta.db_table} (user_id, attributes, updated_at)
SELECT u, a, now() FROM unnest(%b::text[], %b::jsonb[]) AS v(u, a)
ON CONFLICT (user_id) DO UPDATE
SET attributes = {ShopperProfile._meta.db_table}.attributes || EXCLUDED.attributes, updated_at = now()
"""  # noqa: S608 - the table name only


def merge_attributes(changes: Mapping[str, dict[str, Any]]) -> None:
    """Merge attributes carried by events into shoppers' profiles (one statement; later keys win)."""
    if not changes:
        return
    users = list(changes)
    bulk_sql.execute(_MERGE, [users, [json.dumps(changes[u]) for u in users]])


@dataclass
class ParsedList:
    user_ids: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    duplicates: int = 0


def parse_member_csv(content: bytes) -> ParsedList:
    """User ids from a CSV (first column; a header row `user_id` is skipped); bad rows with their line numbers."""
    parsed = ParsedList()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        parsed.errors.append((1, f"The file is not UTF-8 text ({exc.reason})."))
        return parsed
    seen: set[str] = set()
    # strict: a quote left open or a stray one is an error at its line, instead of swallowing the lines after it.
    reader = csv.reader(io.StringIO(text), strict=True)
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            # E.g. a field over csv's limit (128 KiB) or an open quote: the rest of the file can't be read reliably.
            parsed.errors.append(
                (reader.line_num, f"The file is not valid CSV here ({exc}): nothing after it is read.")
            )
            break
        if row is None:
            break
        number = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        user_id = row[0].strip()
        if number == 1 and user_id.lower() in {"user_id", "user id", "userid"}:
            continue
        if not user_id:
            parsed.errors.append((number, "The first column (the user id) is empty."))
        elif len(user_id) > MAX_USER_ID:
            parsed.errors.append((number, f"The user id is {len(user_id)} characters; at most {MAX_USER_ID}."))
        elif any(ch.isspace() for ch in user_id):
            parsed.errors.append((number, f"{user_id[:40]!r} contains spaces."))
        elif not user_id.isprintable():  # NUL (PostgreSQL can't store it) and other control characters
            parsed.errors.append((number, f"{user_id[:40]!r} contains a control character."))
        elif user_id in seen:
            parsed.duplicates += 1
        else:
            seen.add(user_id)
            parsed.user_ids.append(user_id)
    return parsed


def replace_members(segment: Segment, user_ids: list[str]) -> int:
    """The segment's list becomes exactly these user ids (in one transaction)."""
    with transaction.atomic():
        segment.members.all().delete()
        SegmentMember.objects.bulk_create(
            (SegmentMember(segment=segment, user_id=u) for u in user_ids), batch_size=5000
        )
        segment.kind = Segment.Kind.LIST
        segment.save(update_fields=["kind", "updated_at"])
    return len(user_ids)
