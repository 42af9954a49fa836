"""The project around the features: preflight, deploy checks, API schema, rate limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("service", "variable", "url"),
    [
        ("PostgreSQL", "DATABASE_URL", "postgresql://postgres@127.0.0.1:{port}/pushcart"),
        ("Redis", "REDIS_URL", "redis://127.0.0.1:{port}/0"),
    ],
)
def test_preflight_names_the_unreachable_service_its_url_and_how_to_start_it(service, variable, url):
    url = url.format(port=free_port())
    env = {**os.environ, variable: url}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "preflight.py")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert f"{service} is not reachable at {url}" in result.stderr
    assert "Start it with:" in result.stderr


def test_preflight_passes_when_both_services_answer():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "preflight.py"), "--test"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_deploy_checks_are_clean_with_https_on():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PUSHCART_HTTPS": "1", "DJANGO_DEBUG": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PUSHCART_ENV_FILE=os.devnull)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "The environment variable DJANGO_SECRET_KEY must be set" in result.stderr


def test_openapi_schema_documents_every_endpoint_with_its_errors(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    import yaml

    schema = yaml.safe_load(out.read_text())
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert {op["operationId"] for op in operations} >= {
        "devices_list",
        "devices_register",
        "devices_update",
        "devices_unregister",
        "users_devices_list",
    }
    for operation in operations:
        assert "401" in operation["responses"], operation["operationId"]
        assert operation.get("security"), operation["operationId"]


@pytest.mark.django_db
def test_docs_and_schema_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # assets are local: no internet needed


@pytest.mark.django_db
def test_public_endpoints_are_rate_limited(monkeypatch, app_client):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})
    cache.clear()
    client = app_client("alice")
    assert [client.get("/api/v1/devices/").status_code for _ in range(6)] == [200] * 5 + [429]
    assert app_client("bob").get("/api/v1/devices/").status_code == 200  # limits are per user

    # Refused authentications count per address, so guessing credentials is throttled too.
    assert [APIClient().get("/api/v1/devices/").status_code for _ in range(4)] == [401] * 3 + [429]
    cache.clear()
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    answers = [guesser.get("/api/v1/devices/") for _ in range(4)]
    assert [a.status_code for a in answers] == [401] * 3 + [429]
    assert int(answers[-1]["Retry-After"]) > 0


@pytest.mark.django_db
def test_database_sessions_run_without_jit() -> None:
    """Statements over the day partitions are estimated costly enough for JIT, which then spends seconds compiling
    what runs in milliseconds (config/settings.py): every session has it off."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
