"""Which A/B variant each shopper gets: stable per campaign and shopper, in proportion to the weights."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    name: str
    weight: int


def assign(campaign_id: int, user_id: str, arms: Sequence[Arm]) -> str:
    """The same shopper always lands in the same arm of a campaign (a hash, not a coin toss)."""
    total = sum(arm.weight for arm in arms)
    digest = hashlib.blake2b(f"{campaign_id}:{user_id}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") % total
    for arm in arms:
        if point < arm.weight:
            return arm.name
        point -= arm.weight
    raise AssertionError("unreachable: the weights sum to total")
