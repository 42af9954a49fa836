"""Shopper attributes from services and events; the progress WebSocket lets only campaign viewers in."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from accounts import roles
from audience.models import ShopperProfile
from campaigns.consumers import CampaignProgressConsumer
from campaigns.models import Campaign
from events import triggers
from events.ingest import IncomingEvent, ingest_events
from tests.staff import staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_service_replaces_a_shoppers_attributes(service_client):
    client = service_client("attributes:write")
    url = "/api/v1/users/anna/attributes/"
    assert client.put(url, {"attributes": {"city": "Berlin", "orders": 3}}, format="json").status_code == 200
    answer = client.put(url, {"attributes": {"city": "Hamburg"}}, format="json")
    assert answer.json()["attributes"] == {"city": "Hamburg"}
    assert ShopperProfile.objects.get(user_id="anna").attributes == {"city": "Hamburg"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attributes": ["Berlin"]}, "attributes"),
        ({"attributes": {"bad name": 1}}, "attributes"),
        ({"attributes": {"blob": "x" * 9000}}, "attributes"),
        ({"attrs": {}}, "attrs"),
    ],
)
def test_bad_attributes_are_refused_naming_the_field(service_client, body, field):
    answer = service_client("attributes:write").put("/api/v1/users/anna/attributes/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["errors"]
    assert not ShopperProfile.objects.exists()


def test_attributes_need_their_scope(service_client):
    answer = service_client("devices:read").put("/api/v1/users/anna/attributes/", {"attributes": {}}, format="json")
    assert answer.status_code == 403


def test_events_merge_the_attributes_they_carry_later_ones_winning():
    ShopperProfile.objects.create(user_id="anna", attributes={"city": "Berlin", "orders": 3})
    accepted = ingest_events(
        [
            IncomingEvent(
                "checkout_completed", "anna", "e1", {}, attributes={"orders": 4, "last_order_date": "2026-11-25"}
            ),
            IncomingEvent("checkout_completed", "anna", "e2", {}, attributes={"orders": 5}),
            IncomingEvent("checkout_completed", "ben", "e3", {}, attributes={"city": "Paris"}),
        ],
        producer="test",
    )
    triggers.process_events([a.id for a in accepted])
    assert ShopperProfile.objects.get(user_id="anna").attributes == {
        "city": "Berlin",
        "orders": 5,
        "last_order_date": "2026-11-25",
    }
    assert ShopperProfile.objects.get(user_id="ben").attributes == {"city": "Paris"}


def connect(user, campaign_id: int):  # type: ignore[no-untyped-def]
    """The WebSocket handshake as an ASGI server does it (asgiref's communicator; channels' needs daphne)."""

    async def run() -> tuple[bool, object]:
        path = f"/ws/campaigns/{campaign_id}/progress/"
        scope = {
            "type": "websocket",
            "path": path,
            "headers": [],
            "subprotocols": [],
            "user": user,
            "url_route": {"kwargs": {"campaign_id": campaign_id}},
        }
        communicator = ApplicationCommunicator(CampaignProgressConsumer.as_asgi(), scope)
        await communicator.send_input({"type": "websocket.connect"})
        answer = await communicator.receive_output(timeout=5)
        first = None
        if answer["type"] == "websocket.accept":
            first = json.loads((await communicator.receive_output(timeout=5))["text"])
            await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return answer["type"] == "websocket.accept", first

    return async_to_sync(run)()


def test_the_progress_socket_admits_campaign_viewers_only(settings):
    # Who may connect is what this checks; the Redis channel layer itself is exercised end to end by
    # tests/browser (a real uvicorn, worker and browser). In-process, the in-memory layer avoids
    # cancelling a blocking Redis read when the socket closes.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    campaign = Campaign.objects.create(name="Live")
    assert connect(AnonymousUser(), campaign.pk) == (False, None)
    connected, first = connect(staff(roles.SUPPORT), campaign.pk)
    assert connected and first["campaign_id"] == campaign.pk and first["status"] == "draft"
    assert cache.get(f"campaign-progress-watched:{campaign.pk}")  # the beat counts it while a page is open
    assert connect(staff(roles.SUPPORT), campaign.pk + 999)[0] is False  # no such campaign
