"""Health, readiness and Prometheus metrics endpoints (outside the versioned API)."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is alive (load balancers and supervisors)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Ready to serve: PostgreSQL, Redis and the Celery broker answer (config.overload adds: not overloaded)."""
    checks = {"postgresql": _check_postgresql, "redis": _check_redis, "broker": _check_broker}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            results[name] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503)


def _check_postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    from config.redis_client import client

    client().ping()


def _check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)


class QueueDepthCollector:
    """Messages waiting in each Celery queue (Redis lists), read at scrape time."""

    def collect(self):  # type: ignore[no-untyped-def]
        from config.celery import app

        gauge = GaugeMetricFamily("pushcart_queue_depth", "Messages waiting in each Celery queue", labels=["queue"])
        queues = ["default", settings.QUEUE_TRANSACTIONAL, settings.QUEUE_MARKETING]
        try:
            with app.connection_for_read() as broker:
                client = broker.default_channel.client
                for queue in queues:
                    gauge.add_metric([queue], float(client.llen(queue)))
        except Exception:  # noqa: S110 (a scrape must not fail because the broker is down; readyz says so)
            pass
        yield gauge


class PartitionsAheadCollector:
    """Days after today whose partitions are ready, per table partitioned by day (config.partitions).

    Beat keeps PARTITION_DAYS_AHEAD; an insert into a day without its partition fails, so alert well before 0.
    """

    def collect(self):  # type: ignore[no-untyped-def]
        from config import partitions

        gauge = GaugeMetricFamily(
            "pushcart_partition_days_ahead", "Days after today with their partition ready", labels=["table"]
        )
        try:
            for table in partitions.partitioned_tables():
                gauge.add_metric([table], float(partitions.days_ahead(table)))
        except Exception:  # noqa: S110 (a scrape must not fail because the database is down; readyz says so)
            pass
        yield gauge


# Collectors that read their figures when scraped, registered by the apps that own the figures (AppConfig.ready):
# config must not import the apps.
SCRAPE_COLLECTORS: list[Any] = [QueueDepthCollector(), PartitionsAheadCollector()]


def collect_at_scrape(collector: Any) -> None:
    SCRAPE_COLLECTORS.append(collector)


def _allowed(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        return request.headers.get("Authorization", "") == f"Bearer {settings.METRICS_TOKEN}"
    # Without a token, only scrapers on this host.
    return ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "0.0.0.0").is_loopback  # noqa: S104


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            {"detail": "Set METRICS_TOKEN and send it as a bearer token.", "code": "forbidden"}, status=403
        )
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # the samples of every web and worker process
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    extra = CollectorRegistry()
    for collector in SCRAPE_COLLECTORS:
        extra.register(collector)
    return HttpResponse(output + generate_latest(extra), content_type=CONTENT_TYPE_LATEST)
