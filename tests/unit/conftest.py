"""The fast unit layer: pure decisions, table by table. No database (pytest-django refuses it unmarked), no
Redis, no network: the whole directory runs in about a second (`pytest tests/unit`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[None]:
    """Replaces tests/conftest.py's Redis flush for this directory: these tests never touch Redis."""
    yield None


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test that reaches for a socket fails here, instead of growing slow and flaky unnoticed."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test opened a network connection; it belongs outside tests/unit")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
