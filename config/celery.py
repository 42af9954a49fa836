"""The Celery application: one app, configured from Django settings (CELERY_*)."""

import gc
import os
import threading
from collections.abc import Sequence
from typing import Any

from amqp.exceptions import ChannelError
from celery import Celery, signals
from django.db.utils import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pushcart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# What Django raises while PostgreSQL is away (restarting, failing over, recovering from a crash): OperationalError
# (refused, terminated, "the database system is starting up") and InterfaceError (a connection already closed).
DATABASE_AWAY = (OperationalError, InterfaceError)

# The one retry policy of the tasks that carry work (a campaign's page and batch, notifications, deliveries,
# events): while PostgreSQL is away, the task is queued again after a backoff (full jitter under 1, 2, then
# RETRY_BACKOFF_MAX_SECONDS), for about two minutes. Without it the task failed, was acknowledged, and its work
# waited for a sweep, minutes later (issue 21). The backoff stays short: a retry costs one refused connection,
# and a longer one would hold the work back after PostgreSQL is up again. The tasks are idempotent (each takes
# only what still waits, under a lock), so running one again is safe. Past the last retry it fails and the sweeps
# find the work, as before. Beat's periodic tasks have none: their next run does the same work.
RETRY_BACKOFF_MAX_SECONDS = 4
RETRY_WHILE_DATABASE_AWAY: dict[str, Any] = {
    "autoretry_for": DATABASE_AWAY,
    "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": 60,
}


def enqueue(task_name: str, *, args: Sequence[Any], queue: str, **options: Any) -> None:
    """Queue a task by its name (each app's tasks.py names its tasks with its queues.py's constants).

    By name, so the modules that queue work need not import the tasks module, which imports them: an app's
    modules import downwards only (pyproject.toml's import-linter contracts).
    """
    # Through the registered task, not send_task: its options and the tests' eager mode apply, and an unknown name
    # fails here, loudly (KeyError).
    if task_name not in app.tasks:
        # Not where the task modules are imported already (a worker): there the loader's import would run Celery's
        # Django fixup, django.setup() again, whose logging setup wrote into the child's own redirected stderr, and
        # every line the child logged after its first enqueue was lost (task failures and retries too).
        _import_task_modules()
    app.tasks[task_name].apply_async(args=list(args), queue=queue, **options)


_importing = threading.Lock()
_imported = False


def _import_task_modules() -> None:
    """Every app's tasks module, as a worker imports them at start (a web process otherwise never would).

    Under a lock, once: a web process's threads take their first requests together, and one that went on while
    another was still importing found no task registered (NotRegistered: a 500 in `bench.api`'s first second).
    """
    global _imported
    if _imported:
        return
    with _importing:
        if not _imported:
            app.loader.import_default_modules()
            _imported = True


def waiting_messages(queue: str) -> int:
    """Messages waiting in a broker queue (Redis or RabbitMQ)."""
    with app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # never declared: nothing was ever sent to it
            return 0


@signals.task_prerun.connect
def close_old_database_connections(**kwargs: Any) -> None:
    """What Django does at the start of each request: drop a connection that broke or is past CONN_MAX_AGE.

    Celery would otherwise close the connection around every task (see CELERY_DB_REUSE_MAX); this keeps
    one connection per worker process while a restarted PostgreSQL still costs at most one failed task.
    """
    from django.db import close_old_connections

    close_old_connections()


# A batch of 500 deliveries makes tens of thousands of short-lived objects (rows, payloads, outcomes),
# so Python's default of a young collection every 700 new objects ran about 25 times per batch and
# promoted what was still in use to the older generations, to be walked again there.
YOUNG_COLLECTION_THRESHOLD = 20_000


@signals.worker_process_init.connect
def tune_garbage_collection(**kwargs: Any) -> None:
    """Tune garbage collection for a worker process's life of batches.

    What it loaded at start (Django, the apps, their modules) lives as long as the process, yet every full
    collection walked all of it again: frozen, it is left alone. Young collections run less often.
    Measured in `bench.pipeline_cpu` (30,000 deliveries): collections cost 0.74 s of CPU, now 0.21 s.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
