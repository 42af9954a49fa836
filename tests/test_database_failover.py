"""A PostgreSQL failover mid-campaign and mid-burst of order events (issue 21, item 4).

The test starts a PostgreSQL server of its own (bench.pgcluster), as the Kafka tests start Tansu, and runs the
benchmark's failover scenario on it at a small size (bench.failover): a throttled campaign to 2,000 devices with
the Procfile's processes (web, beat, the transactional and the marketing worker), PostgreSQL restarted while order
events are posted, then killed and kept down 5 s, then the marketing worker killed with SIGKILL and started
again. Nobody touches anything meanwhile: the campaign must complete by itself.

How we know nothing is lost: the simulator counts per token what it accepted, and every campaign device and
every order shopper got at least one push. Pushed twice: the pushes the simulator accepted from a batch whose
transaction then died with the database or the worker (the batch is sent again in full); bounded below.
"""

from __future__ import annotations

import pytest

from bench.failover import Plan, run

pytestmark = pytest.mark.slow

# Pages of 200 shoppers every 2 s: ten pages, about 20 s when nothing goes wrong.
PLAN = Plan(
    devices=2000,
    throttle_per_minute=6000,
    step_seconds=2,
    events=300,
    event_batch=10,
    restart_at=4,
    crash_at=9,
    down_seconds=5,
    kill_at=17,
    timeout=120,  # not a speed check (bench.failover measures it): liveness, three times what it takes now
)
FAULTS = 3  # the restart, the crash, the killed worker
MARKETING_CHILDREN = 2  # batches in flight at once (the Procfile's --concurrency 2)

# What the current code can promise: each fault can cut short the batches in flight, one per marketing child,
# and each such batch is sent again in full (a page of 200 here). The ledger of pushes the provider accepted
# (issue 21, item 1: a resent batch skips them) will tighten this to 0.1% of devices.
MAX_PUSHED_TWICE = FAULTS * MARKETING_CHILDREN * (PLAN.throttle_per_minute * PLAN.step_seconds // 60)
# Order updates sent by the event tasks the restart cut short (each takes every event waiting when it starts):
# 20 to 40 seen here. The same ledger will tighten this too.
MAX_ORDERS_PUSHED_TWICE = PLAN.events // 3
# The tasks that carry work: while PostgreSQL is away they are retried, never failed (and left to the sweeps).
WORK_TASKS = (
    "campaigns.tasks.fan_out_page",
    "campaigns.tasks.send_batch",
    "events.tasks.process_events",
    "notifications.tasks.process_notifications",
    "notifications.tasks.send_deliveries",
)


def test_a_failover_mid_campaign_loses_nobody_and_the_campaign_completes(simulator, django_db_blocker, tmp_path):
    with django_db_blocker.unblock():  # the scenario works on its own server, not on the test database
        outcome = run(simulator, PLAN, faults=True, logs=tmp_path)
    print(
        f"\n{outcome.devices} devices: {outcome.delivered} reached, {outcome.lost} lost, {outcome.pushed_twice} "
        f"pushed twice ({outcome.share_twice:.1%}), at most {outcome.most_to_one_device} to one device; "
        f"{outcome.events} order events: {outcome.orders_lost} lost, {outcome.orders_twice} twice; "
        f"{outcome.seconds} s to complete"
    )
    for second, what in outcome.timeline:
        print(f"  {second:6.1f} s  {what}")
    print(f"  stalls (s): {outcome.stalls}; task failures: {outcome.task_failures}; logs in {tmp_path}")

    assert outcome.completed, f"the campaign did not complete within {PLAN.timeout:g} s"
    assert not outcome.died, f"exited during the faults: {outcome.died}"
    dropped = {what: n for what, n in outcome.task_failures.items() if what.startswith(WORK_TASKS) and "raised" in what}
    assert not dropped, f"work tasks failed instead of being retried: {dropped}"
    assert outcome.lost == 0
    assert outcome.orders_lost == 0
    assert outcome.pushed_twice <= MAX_PUSHED_TWICE
    assert outcome.most_to_one_device <= 1 + FAULTS
    assert outcome.orders_twice <= MAX_ORDERS_PUSHED_TWICE
