"""Issue 21: PostgreSQL ends a batch's session before its commit (as a failover does) while its pushes are out.

The batch's transaction rolls back and the batch is sent again under the same notification ids. The pushes the
provider accepted were written to the ledger as their answers arrived (notifications.ledger), so the batch sent
again sends only what was never accepted. (tests/test_database_failover.py restarts a whole PostgreSQL server.)
"""

from __future__ import annotations

import pytest
from django.db import connection

from bench.processes import celery_worker, worker_environment
from campaigns import services
from campaigns.models import BatchStatus, Campaign, CampaignBatch
from campaigns.tasks import resume_lost_fan_outs
from notifications.models import Notification, NotificationStatus, Source
from tests.waiting import wait_for

from .conftest import segment
from .test_end_to_end import audience, delivered, promotion

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def end_open_transactions() -> int:
    """What a failover does to the sessions of the workers: the ones holding a transaction open end."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
        )
        return cursor.fetchone()[0]


def test_a_batch_whose_session_ends_before_the_commit_sends_nobody_twice(simulator, settings):
    """How we know the window was hit: at the cut, pushes the simulator accepted were not recorded (and the batch's
    transaction was open). How we know it is closed: every token received exactly once, everybody recorded
    delivered, nobody counted twice against the campaign's one-a-day cap."""
    simulator.reset()
    simulator.configure(latency_ms=100)
    settings.DELIVERY_STUCK_AFTER_SECONDS = 2
    settings.CAMPAIGN_PAGE_STUCK_AFTER_SECONDS = 2
    audience("cut", 3000)
    c = Campaign.objects.create(name="Cut", template=promotion(), segment=segment("all"), max_per_user_per_day=1)
    env = worker_environment(simulator)
    with celery_worker(env, "transactional,marketing,default", "cut"):
        services.launch(c)
        wait_for(lambda: len(simulator.received("ok-cut-")) - delivered() >= 100, 60, "a batch to be under way")
        ended = end_open_transactions()
        accepted = set(simulator.received("ok-cut-"))
        assert ended and len(accepted) > delivered(), "the cut missed the window it is meant to test"

        def rescued() -> bool:
            resume_lost_fan_outs()  # what beat runs every minute: lost pages and batches
            return CampaignBatch.objects.filter(status=BatchStatus.DONE).count() >= 3  # pages of 1,000

        wait_for(rescued, 60, "the rolled-back batch to be sent again", interval=0.5)

    assert delivered() == 3000
    received = simulator.received("ok-cut-")
    assert len(received) == 3000  # nobody lost
    assert {token: n for token, n in received.items() if n > 1} == {}  # nobody twice
    notifications = Notification.objects.filter(source=Source.CAMPAIGN)
    assert notifications.count() == 3000
    assert set(notifications.values_list("status", flat=True)) == {NotificationStatus.SENDING}  # none capped
