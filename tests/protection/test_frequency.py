"""Caps and de-duplication decided in Redis: one script call per batch, or per user (Redis Cluster)."""

from __future__ import annotations

import pytest

from protection import frequency
from protection.frequency import Candidate

DAY = 86400


@pytest.mark.parametrize("per_user", [False, True], ids=["one call per batch", "one call per user"])
def test_verdicts_are_the_same_whether_a_batch_is_one_call_or_one_per_user(clean_redis, per_user):
    candidates = [
        Candidate(1, "ana", caps=[(DAY, 2)]),
        Candidate(2, "ana", caps=[(DAY, 2)]),
        Candidate(3, "ana", caps=[(DAY, 2)]),  # a third marketing push in a day
        Candidate(4, "ben", caps=[(DAY, 2)], dedup_key="restock:42", dedup_seconds=3600),
        Candidate(5, "ben", caps=[], dedup_key="restock:42", dedup_seconds=3600),  # the same push again
        Candidate(6, "cy", caps=[]),  # transactional: not counted
    ]
    decisions = frequency.decide(candidates, per_user=per_user)
    assert [decisions[n].allowed for n in range(1, 7)] == [True, True, False, True, False, True]
    assert decisions[3].cap == (DAY, 2)
    assert decisions[5].duplicate_of == 4
    assert frequency.counts("ana", [DAY]) == {DAY: 2}
    assert frequency.counts("cy", [DAY]) == {DAY: 0}

    # The same batch again (a worker died before its commit): counted already, so allowed, and not twice.
    again = frequency.decide(candidates[:2] + candidates[3:4], per_user=per_user)
    assert all(decision.allowed for decision in again.values())
    assert frequency.counts("ana", [DAY]) == {DAY: 2}
