"""JWTs of the shop's auth server for the app; hashed, scoped API keys for services."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ServiceApiKey
from accounts.services import create_api_key

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def claims(settings, **overrides):
    now = int(time.time())
    base = {"sub": "alice", "iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_missing_credentials_is_401_with_challenge():
    answer = APIClient().get("/api/v1/devices/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("label", "overrides", "key"),
    [
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, None),
        ("wrong audience", {"aud": "someone-else"}, None),
        ("wrong issuer", {"iss": "https://evil.example"}, None),
        ("no sub", {"sub": None}, None),
        ("numeric sub", {"sub": 42}, None),
        ("no exp", {"exp": None}, None),
        ("badly signed", {}, "another-secret-of-at-least-32-characters!!"),
    ],
)
def test_bad_jwts_are_refused_with_401(settings, label, overrides, key):
    token = jwt.encode(claims(settings, **overrides), key or settings.JWT_SECRET, algorithm="HS256")
    answer = bearer(token).get("/api/v1/devices/")
    assert answer.status_code == 401, label
    assert answer.json()["code"] == "authentication_failed"


def test_algorithm_none_is_refused(settings):
    token = jwt.encode(claims(settings), None, algorithm="none")
    assert bearer(token).get("/api/v1/devices/").status_code == 401


def test_es256_tokens_verify_against_the_configured_public_key(settings):
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings.JWT_ALGORITHM = "ES256"
    settings.JWT_PUBLIC_KEY = public_pem
    good = jwt.encode(claims(settings), private, algorithm="ES256")
    assert bearer(good).get("/api/v1/devices/").status_code == 200
    # An HS256 token signed with the public key text must not pass (algorithm confusion).
    forged = jwt.encode(claims(settings), settings.JWT_SECRET, algorithm="HS256")
    assert bearer(forged).get("/api/v1/devices/").status_code == 401


def test_api_key_cannot_call_app_endpoints(service_client):
    # App endpoints only read JWTs: an API key is no credential there.
    assert service_client("devices:read").get("/api/v1/devices/").status_code == 401


def test_app_jwt_cannot_call_service_endpoints(app_client):
    assert app_client("alice").get("/api/v1/users/alice/devices/").status_code == 401


def test_api_key_is_stored_hashed_and_works():
    key_object, key = create_api_key(name="orders", scopes=["devices:read"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashed_key, id FROM accounts_serviceapikey")
        stored = cursor.fetchall()
    secret_part = key.split(".", 1)[1]
    assert all(secret_part not in value for row in stored for value in row)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/users/u1/devices/").status_code == 200
    key_object.refresh_from_db()
    assert key_object.last_used_at is not None


@pytest.mark.parametrize("state", ["revoked", "expired", "tampered", "unknown"])
def test_unusable_api_keys_are_refused_with_401(state):
    key_object, key = create_api_key(name="orders", scopes=["devices:read"])
    if state == "revoked":
        key_object.revoked = True
        key_object.save()
    elif state == "expired":
        key_object.expiry_date = timezone.now() - timedelta(minutes=1)
        key_object.save()
    elif state == "tampered":
        key = key[:-1] + ("A" if key[-1] != "A" else "B")
    else:
        key = "NoSuchKy.whatever"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/users/u1/devices/").status_code == 401


def test_key_without_the_scope_is_403(service_client):
    answer = service_client("events:write").get("/api/v1/users/u1/devices/")
    assert answer.status_code == 403
    assert "devices:read" in answer.json()["detail"]


def test_create_api_key_command_prints_the_key_once():
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key", "order-service", "--scopes", "events:write,notifications:write", stdout=out, stderr=err
    )
    key = out.getvalue().strip()
    stored = ServiceApiKey.objects.get(name="order-service")
    assert stored.scopes == ["events:write", "notifications:write"]
    assert ServiceApiKey.objects.get_from_key(key) == stored
    assert "cannot be shown again" in err.getvalue()


def test_create_api_key_command_refuses_unknown_scopes():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_key", "x", "--scopes", "everything:write", stdout=StringIO(), stderr=StringIO())
    assert not ServiceApiKey.objects.exists()


def test_mint_jwt_command_gives_a_token_the_api_accepts():
    out = StringIO()
    call_command("mint_jwt", "shopper-9", stdout=out)
    assert bearer(out.getvalue().strip()).get("/api/v1/devices/").status_code == 200
