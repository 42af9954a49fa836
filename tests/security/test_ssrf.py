"""Issue 17, item 2: a Web Push subscription's endpoint must not make the workers POST inside the network.

Registration refuses endpoints that are not https, carry userinfo, are not a known push service, or are
internal addresses; a device stored with such an endpoint anyway (before the rules, or by hand) gets no
request at send time; a host name that resolves to an internal address is refused when connecting.
"""

from __future__ import annotations

import pytest

from devices.models import Device
from notifications.models import Delivery, DeliveryStatus, FailedDelivery
from providers.runtime import runtime
from tests.engine.conftest import engine, shopper  # noqa: F401 - fixtures
from tests.providers.conftest import browser_subscription

from .hostile_endpoints import answer, serving

P256DH, AUTH = browser_subscription()
# What production runs with: the real browser push services only, https, public addresses.
PRODUCTION = {
    "WEB_PUSH_ALLOWED_ORIGINS": [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.notify.windows.com",
        "web.push.apple.com",
    ],
    "WEB_PUSH_ALLOW_HTTP_ENDPOINTS": False,
    "WEB_PUSH_ALLOW_PRIVATE_ADDRESSES": False,
}


@pytest.fixture
def production(settings):  # type: ignore[no-untyped-def]
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    return settings


def register_web(app_client, user: str, endpoint: str):  # type: ignore[no-untyped-def]
    body = {"platform": "web", "web_push": {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}}}
    return app_client(user).post("/api/v1/devices/", body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://127.0.0.1:6379/",
        "https://10.0.0.1:8443/admin/shutdown?now=1",
        "https://[::1]:5432/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://user:pw@fcm.googleapis.com/x",
        "https://fcm.googleapis.com@169.254.169.254/x",
        "http://fcm.googleapis.com/x",
        "https://fcm.googleapis.com:6379/x",
        "https://fcm.googleapis.com.attacker.example/x",
        "https://attacker.example/wp/x",
        "https://2130706433/x",  # 127.0.0.1 written as one number
    ],
)
def test_registration_refuses_endpoints_that_are_not_public_push_services(production, app_client, endpoint):
    answer_ = register_web(app_client, "mallory", endpoint)
    assert answer_.status_code == 400, answer_.content
    assert answer_.json()["code"] == "invalid"
    assert "web_push.endpoint" in answer_.json()["errors"], answer_.json()
    assert not Device.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
    ],
)
def test_the_browsers_push_services_are_accepted(production, app_client, endpoint):
    answer_ = register_web(app_client, "alice", endpoint)
    assert answer_.status_code == 201, answer_.content
    assert Device.objects.get().token == endpoint


@pytest.mark.django_db
def test_a_shopper_has_a_bounded_number_of_active_devices(settings, app_client):
    settings.DEVICE_MAX_ACTIVE_PER_USER = 3

    def register(user: str, token: str, **extra: str):  # type: ignore[no-untyped-def]
        body = {"platform": "android", "token": token, **extra}
        return app_client(user).post("/api/v1/devices/", body, format="json")

    assert [register("mallory", f"t-{i}").status_code for i in range(3)] == [201] * 3
    refused = register("mallory", "t-3")
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "too_many_devices"
    assert "token" in refused.json()["errors"]
    assert not Device.objects.filter(token="t-3").exists()
    # Refreshing a device of theirs still works, and a new one that replaces an old one takes its place.
    assert register("mallory", "t-0").status_code == 200
    assert register("mallory", "t-3", replaces="t-0").status_code == 201
    assert Device.objects.filter(user_id="mallory", is_active=True).count() == 3
    # Nobody else is affected.
    assert register("alice", "a-1").status_code == 201


def stored_web_device(user: str, endpoint: str) -> None:
    """A device written straight to the database: registration's checks never saw it."""
    Device.objects.create(user_id=user, platform="web", provider="webpush", token=endpoint, **keys())


def keys() -> dict[str, str]:
    return {"web_push_p256dh": P256DH, "web_push_auth": AUTH}


def send_order_update(service_client, user: str) -> Delivery:  # type: ignore[no-untyped-def]
    body = {"user_id": user, "category": "order_updates", "title": "Order 7", "body": "On its way"}
    answer_ = service_client("notifications:write").post("/api/v1/notifications/", body, format="json")
    assert answer_.status_code == 202, answer_.content
    return Delivery.objects.get(notification_id=answer_.json()["notification_ids"][0])


@pytest.mark.django_db(transaction=True)
def test_a_stored_internal_endpoint_gets_no_request_and_fails_permanently(
    engine,  # noqa: F811
    production,
    service_client,
):
    production.WEB_PUSH_ALLOW_HTTP_ENDPOINTS = True  # so that only the address is what refuses it
    runtime.reset()  # the provider is built again from these settings
    with serving(answer(200, b"internal secrets")) as internal:
        stored_web_device("mallory", internal.url("/admin/shutdown?now=1"))
        delivery = send_order_update(service_client, "mallory")
        assert internal.requests == []
    assert (delivery.status, delivery.attempts, delivery.last_error_code) == (
        DeliveryStatus.FAILED,
        1,
        "forbidden_endpoint",
    )
    assert "private, loopback or reserved address" in delivery.last_error_text
    assert FailedDelivery.objects.get(delivery=delivery).provider_code == "forbidden_endpoint"


@pytest.mark.django_db(transaction=True)
def test_an_allowed_host_name_that_resolves_inside_is_refused_when_connecting(
    engine,  # noqa: F811
    production,
    service_client,
):
    """DNS can change after registration: the address connected to is judged, not only the name."""
    production.WEB_PUSH_ALLOW_HTTP_ENDPOINTS = True
    production.WEB_PUSH_ALLOWED_ORIGINS = ["localhost:*"]  # an allowed name that resolves to 127.0.0.1
    runtime.reset()
    with serving(answer(201)) as internal:
        stored_web_device("mallory", f"http://localhost:{internal.port}/wp/x")
        delivery = send_order_update(service_client, "mallory")
        assert internal.requests == []
    assert (delivery.status, delivery.attempts, delivery.last_error_code) == (
        DeliveryStatus.FAILED,
        1,
        "forbidden_endpoint",
    )
    assert "resolves to an address not allowed" in delivery.last_error_text


@pytest.mark.django_db(transaction=True)
def test_http_endpoints_are_refused_at_send_time_without_the_development_setting(
    engine,  # noqa: F811
    production,
    service_client,
):
    production.WEB_PUSH_ALLOW_PRIVATE_ADDRESSES = True  # only the scheme refuses it
    runtime.reset()
    with serving(answer(201)) as endpoint:
        stored_web_device("mallory", endpoint.url())
        delivery = send_order_update(service_client, "mallory")
        assert endpoint.requests == []
    assert (delivery.status, delivery.last_error_code) == (DeliveryStatus.FAILED, "forbidden_endpoint")
    assert "https://" in delivery.last_error_text


@pytest.mark.django_db(transaction=True)
def test_the_simulator_is_reached_under_the_development_settings(engine, shopper, service_client):  # noqa: F811
    """The test settings (like bench workers and the dev .env) allow http and 127.0.0.1: pushsim still works."""
    shopper("alice", web="ok-web-ssrf-dev")
    assert send_order_update(service_client, "alice").status == DeliveryStatus.DELIVERED
