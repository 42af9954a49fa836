"""Shared fixtures: the real PostgreSQL (pytest-django's test database), the
real Redis (database 15, emptied before each test) and the provider simulator."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts.jwt_tokens import mint_app_token
from accounts.services import create_api_key
from providers.runtime import runtime
from pushsim import credentials
from pushsim.control import Simulator, running


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


# What data migrations create (shipped templates and rules, default caps): a transactional test's flush
# empties every table, so it is created again before each database test.
MIGRATION_DATA = (
    "templates.migrations.0002_shipped_templates",
    "events.migrations.0002_shipped_rules",
    "preferences.migrations.0002_default_caps",
)


@pytest.fixture(autouse=True)
def migration_data(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from django.apps import apps

    for module in MIGRATION_DATA:
        importlib.import_module(module).create(apps, None)


@pytest.fixture
def app_client() -> Callable[[str], APIClient]:
    """An API client signed in as a shopper (a JWT minted like the shop's auth server would)."""

    def make(user_id: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_app_token(user_id)}")
        return client

    return make


@pytest.fixture
def service_client(db: None) -> Callable[..., APIClient]:
    """An API client of a business service holding an API key with the given scopes."""

    def make(*scopes: str) -> APIClient:
        _, key = create_api_key(name="test-service", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One pushsim process for the session, on free ports, with its own credentials."""
    with running(tmp_path_factory.mktemp("pushsim")) as sim:
        yield sim


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    """The simulator with counters, stored messages and faults reset."""
    simulator.reset()
    return simulator


@pytest.fixture
def provider_settings(settings, simulator: Simulator):  # type: ignore[no-untyped-def]
    """Settings for all three providers against the simulator; provider clients rebuilt per test."""
    paths = simulator.paths
    apns = json.loads(paths.apns_meta.read_text())
    settings.PUSH_PROVIDERS = ["fcm", "apns", "webpush"]
    settings.FCM_CREDENTIALS_FILE = str(paths.service_account)
    settings.FCM_ENDPOINT = simulator.base_url
    settings.FCM_TRANSPORT = "http"
    settings.APNS_KEY_FILE = str(paths.apns_key)
    settings.APNS_KEY_ID = apns["key_id"]
    settings.APNS_TEAM_ID = apns["team_id"]
    settings.APNS_TOPIC = apns["topic"]
    settings.APNS_ENDPOINT = simulator.apns_endpoint
    settings.APNS_CA_FILE = str(paths.ca_cert)
    settings.VAPID_PRIVATE_KEY = str(paths.vapid_private)
    runtime.reset()
    yield settings
    runtime.reset()


@pytest.fixture
def foreign_service_account(tmp_path: Path, simulator: Simulator) -> Path:
    """A well-formed service account the simulated Google has never heard of."""
    path = tmp_path / "foreign-service-account.json"
    account = credentials.service_account(simulator.base_url)
    account["client_email"] = "stranger@elsewhere.iam.gserviceaccount.com"
    path.write_text(json.dumps(account))
    return path
