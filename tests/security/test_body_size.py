"""Huge request bodies are refused with 413 before the web process reads them (a real uvicorn process).

Before the fix the 413 came from Django (config.middleware) once the request was in, and uvicorn, keeping the
connection alive, then read and dropped the whole refused body: an unauthenticated 300 MiB POST was received
in full. A chunked body (no Content-Length) was drained the same way, whatever its size. Here the client
streams its body from a generator while a second thread reads the answer: the answer must be a 413, and the
server must close the connection long before the generator is exhausted.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from accounts.services import create_api_key
from bench.processes import database_environment, web_process

API_LIMIT = 64 * 1024
ADMIN_LIMIT = 1024 * 1024
CHUNK = 64 * 1024
# What the client may get into the kernel's socket buffers (both ends) before the server stops reading:
# a few MB on loopback. A server reading the whole body takes everything the generator has.
MOST_SENT = 32 * 1024 * 1024
HUGE = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def web(django_db_setup: None) -> Iterator[str]:
    env = database_environment(
        PUSHCART_API_MAX_BODY_BYTES=str(API_LIMIT), PUSHCART_ADMIN_MAX_BODY_BYTES=str(ADMIN_LIMIT)
    )
    with web_process(env) as base:
        yield base


class Body:
    """A body of `total` bytes made as it is sent, counting what was taken."""

    def __init__(self, total: int, *, chunked: bool) -> None:
        self.total = total
        self.chunked = chunked
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        piece = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK) if self.chunked else b"x" * CHUNK
        while self.taken < self.total:
            self.taken += CHUNK
            yield piece

    @property
    def exhausted(self) -> bool:
        return self.taken >= self.total


class Answer(threading.Thread):
    """Reads what the server says while the client is still sending, until the server closes the connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.raw = b""
        self.closed_by_server = False

    def run(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self.raw += data
        except TimeoutError:
            return  # still open: not closed by the server
        except OSError:
            pass  # reset: the server closed with some of our body unread
        self.closed_by_server = True

    @property
    def status(self) -> int:
        return int(self.raw.split(b" ", 2)[1]) if self.raw else 0

    @property
    def json(self) -> dict:
        return json.loads(self.raw.split(b"\r\n\r\n", 1)[1])


def post_streaming(base: str, path: str, body: Body, headers: dict[str, str]) -> Answer:
    """POST `body` over a raw connection, sending until the server stops taking it; the server's answer."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = Answer(sock)
    answer.start()
    try:
        for piece in body:
            sock.sendall(piece)
    except TimeoutError:
        pytest.fail("the server stopped reading the body without answering and closing")
    except OSError:
        pass  # broken pipe or reset: the server closed the connection, as it should
    answer.join(10)
    sock.close()
    return answer


def test_a_declared_300_mib_body_is_refused_at_once_and_not_read(web):
    body = Body(HUGE, chunked=False)
    answer = post_streaming(web, "/api/v1/events/", body, {"Content-Length": str(HUGE)})  # no credentials
    assert answer.status == 413, answer.raw[:300]  # before authentication (which would say 401)
    assert answer.closed_by_server  # and did not read on to keep the connection
    assert not body.exhausted
    assert body.taken < MOST_SENT
    assert answer.json["code"] == "payload_too_large"


def test_a_chunked_body_is_refused_once_it_passes_the_limit_and_not_read_further(web):
    body = Body(HUGE, chunked=True)
    answer = post_streaming(web, "/api/v1/events/", body, {"Transfer-Encoding": "chunked"})
    assert answer.status == 413, answer.raw[:300]
    assert answer.closed_by_server  # and did not read on to keep the connection
    assert not body.exhausted
    assert body.taken < MOST_SENT
    assert answer.json["code"] == "payload_too_large"


def test_admin_uploads_have_their_own_larger_limit(web):
    body = Body(HUGE, chunked=False)
    answer = post_streaming(web, "/admin/audience/segment/1/upload/", body, {"Content-Length": str(2 * ADMIN_LIMIT)})
    assert answer.status == 413
    assert not body.exhausted
    # Between the API's limit and the admin's, an admin form goes on to Django (which wants a CSRF token).
    within = httpx.post(f"{web}/admin/login/", content=b"x" * (4 * API_LIMIT), headers={"Content-Type": "text/plain"})
    assert within.status_code == 403
    # A chunked body is held in memory to be read: the API's limit, whatever the path.
    answer = post_streaming(web, "/admin/login/", Body(HUGE, chunked=True), {"Transfer-Encoding": "chunked"})
    assert answer.status == 413


@pytest.mark.django_db(transaction=True)  # the web process must see the key
def test_a_chunked_body_within_the_limit_is_served(web):
    _, key = create_api_key(name="chunked", scopes=["events:write"])
    event = {"type": "order_status_changed", "user_id": "u1", "idempotency_key": "chunked-1", "data": {}}

    def pieces() -> Iterator[bytes]:
        text = json.dumps(event).encode()
        yield text[:10]
        yield text[10:]

    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    answer = httpx.post(f"{web}/api/v1/events/", content=pieces(), headers=headers)
    assert answer.status_code == 202, answer.text  # before: Django saw no body at all (no Content-Length)
