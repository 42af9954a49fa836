"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import pytest

from .conftest import run_until_settled

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok", "broker": "ok"}


def test_readyz_names_what_is_down(client, settings):
    from config import redis_client

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    redis_client.client.cache_clear()
    try:
        answer = client.get("/readyz")
    finally:
        redis_client.client.cache_clear()  # rebuilt from the restored settings on next use
    assert answer.status_code == 503
    assert answer.json()["checks"]["postgresql"] == "ok"
    assert answer.json()["checks"]["redis"].startswith("unavailable")


def test_metrics_count_deliveries_by_provider_category_and_outcome(client, engine, shopper, service_client):
    shopper("mia", "ok-mia", "unregistered-mia")
    body = {"user_id": "mia", "title": "t", "body": "b", "category": "restocks"}
    service_client("notifications:write").post("/api/v1/notifications/", body, format="json")
    run_until_settled()
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'pushcart_deliveries_total{category="restocks",outcome="delivered",provider="fcm"}' in text
    assert 'pushcart_deliveries_total{category="restocks",outcome="token_invalid",provider="fcm"}' in text
    assert "pushcart_time_to_provider_seconds_bucket" in text
    assert 'pushcart_queue_depth{queue="marketing"}' in text
    assert 'pushcart_partition_days_ahead{table="notifications_delivery"} 7.0' in text  # the migration made a week


def test_metrics_need_the_token_off_loopback(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.METRICS_TOKEN = "scrape-secret-for-tests"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-secret-for-tests")
    assert ok.status_code == 200
