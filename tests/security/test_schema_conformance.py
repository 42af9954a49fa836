"""The OpenAPI document (`/api/schema/`) and the API's answers agree.

schemathesis reads the schema from a running web process and sends what it generates from it (valid and
invalid requests alike) to every operation, as the app and the business services would, with their real
credentials. Any 500, any answer whose status, content type or body the schema doesn't declare, fails the test.

Before issue 17 it found quiet-hours times answered as "21:00" where the schema declared `format: time`,
integers accepted as strings for `app_version`, `replaces` and `idempotency_key`, and HTML 404 pages under
/api/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from accounts.jwt_tokens import mint_app_token
from accounts.services import create_api_key
from bench.processes import database_environment, web_process
from preferences.api.serializers import CLOCK_TIME_PATTERN

pytestmark = [pytest.mark.django_db(transaction=True)]

# Per operation; with the coverage phase's boundary cases, the whole run stays well under two minutes on 2 cores.
MAX_EXAMPLES = "50"
# Every check but two: positive_data_acceptance and negative_data_rejection hold the API's input rules to the
# schema, and some of those can't be said in OpenAPI 3.0 (an IANA time zone, a platform's providers, send_at not
# in the past) or are leniencies clients rely on (a user_id 42 taken as "42", `"enabled": 0` as false).
EXCLUDED_CHECKS = "positive_data_acceptance,negative_data_rejection"
TOKEN = "fMEP0vJqS0yq3Lc1:APA91bHqL-example"

# Credentials per security scheme of the schema (accounts/authentication.py names them); the values come from the
# environment so they don't end up in a file.
CONFIG = """
[auth.openapi.appUserJWT]
bearer = "${SCHEMA_TEST_JWT}"

[auth.openapi.serviceApiKey]
api_key = "${SCHEMA_TEST_API_KEY}"
"""


def test_every_answer_conforms_to_the_schema(tmp_path: Path) -> None:
    _, key = create_api_key(name="schemathesis", scopes=list(settings.API_KEY_SCOPES))
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = database_environment()
    with web_process(env) as base:
        run = subprocess.run(
            [
                *(str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config)),
                *("run", f"{base}/api/schema/", "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS),
                *("--max-examples", MAX_EXAMPLES),
                *("--generation-deterministic", "--workers", "1", "--request-timeout", "10", "--no-color"),
            ],
            cwd=tmp_path,  # schemathesis and Hypothesis keep caches in the working directory
            env={
                **env,
                "SCHEMA_TEST_JWT": mint_app_token("schemathesis-shopper"),
                "SCHEMA_TEST_API_KEY": f"Api-Key {key}",
            },
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/v1/nothing-here/", "/api/v1/notifications/abc/opened/"])
def test_an_unknown_api_path_answers_json_in_the_error_shape(client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found.", "code": "not_found"}


def test_outside_the_api_a_404_stays_a_page(client) -> None:
    answer = client.get("/nothing-here")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("url", "scope", "body", "field"),
    [
        ("/api/v1/devices/", None, {"platform": "android", "token": TOKEN, "app_version": 41200}, "app_version"),
        ("/api/v1/devices/", None, {"platform": "android", "token": TOKEN, "replaces": 123456789}, "replaces"),
        (
            "/api/v1/events/",
            "events:write",
            {"type": "order_placed", "user_id": "u1", "idempotency_key": 1042},
            "idempotency_key",
        ),
        (
            "/api/v1/notifications/",
            "notifications:write",
            {"user_id": "u1", "title": "t", "body": "b", "category": "order_updates", "idempotency_key": 7.5},
            "idempotency_key",
        ),
    ],
)
def test_a_number_is_not_taken_for_a_string_identifier(app_client, service_client, url, scope, body, field) -> None:
    """42 used to be stored as "42": a client sending the wrong type never learned, and a later "42.0" differed."""
    client = service_client(scope) if scope else app_client("u1")
    answer = client.post(url, body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"] == {field: ["Must be a string, not a number."]}


def test_quiet_hours_are_answered_as_the_schema_declares_them(app_client, client) -> None:
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    for name in ("QuietHours", "QuietHoursRequest"):
        start = schema["components"]["schemas"][name]["properties"]["start"]
        assert "format" not in start  # `format: time` is RFC 3339's 21:00:00Z, never what the API answered
        assert start["pattern"] == CLOCK_TIME_PATTERN
    shopper = app_client("u1")
    sent = {"quiet_hours": {"enabled": True, "start": "21:00:30", "end": "07:30"}}
    quiet = shopper.put("/api/v1/preferences/", sent, format="json").json()["quiet_hours"]
    assert quiet == {"enabled": True, "start": "21:00", "end": "07:30"}  # HH:MM, as always
    assert all(re.match(CLOCK_TIME_PATTERN, quiet[end]) for end in ("start", "end"))
