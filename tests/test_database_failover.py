"""A PostgreSQL failover mid-campaign and mid-burst of order events (issue 21, item 4).

The test starts a PostgreSQL server of its own (bench.pgcluster), as the Kafka tests start Tansu, and runs the
benchmark's failover scenario on it at a small size (bench.failover): a throttled campaign to 2,000 devices with
the Procfile's processes (web, beat, the transactional and the marketing worker), PostgreSQL restarted while order
events are posted, then killed and kept down 5 s, then the marketing worker killed with SIGKILL and started
again. Nobody touches anything meanwhile: the campaign must complete by itself.

How we know nothing is lost: the simulator counts per token what it accepted, and every campaign device and
every order shopper got at least one push. How we know nothing went twice: no token was accepted twice, though
the faults struck batches with pushes accepted and their transactions open (the timeline says so).
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
# The restart and the crash each strike while a campaign batch is going out (its transaction dies with pushes
# accepted); the kill strikes between two batches (Plan.kill_mid_batch: a kill while one is on the wire resends
# the pushes whose answers had not come back, tests/campaigns/test_end_to_end.py bounds those). Every push the
# providers accepted was told to the ledger (notifications.ledger): nobody is pushed twice, order or campaign.
MAX_PUSHED_TWICE = 0
MAX_ORDERS_PUSHED_TWICE = 0
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
    struck = [what for _, what in outcome.timeline].count("a batch going out")
    assert struck >= 1, "no fault struck a batch with pushes out: the window this test is about was missed"
    assert outcome.pushed_twice <= MAX_PUSHED_TWICE
    assert outcome.orders_twice <= MAX_ORDERS_PUSHED_TWICE
