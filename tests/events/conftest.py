from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.response import Response

from tests.engine.conftest import engine, shopper  # noqa: F401 - fixtures shared with the engine's tests


@pytest.fixture
def post_events(service_client) -> Callable[..., Response]:  # type: ignore[no-untyped-def]
    """POST one event (a dict) or a batch (a list) with an API key holding events:write."""
    client = service_client("events:write")

    def post(events: dict[str, Any] | list[dict[str, Any]]) -> Response:
        body = {"events": events} if isinstance(events, list) else events
        return client.post("/api/v1/events/", body, format="json")

    return post
