"""Small real HTTP servers on 127.0.0.1 that act as hostile Web Push endpoints (or internal services).

Each serves keep-alive connections in threads, counts the requests it gets, and answers as told: a status
with a body, a huge body, nothing at all (stalling), or a body one byte at a time.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Behaviour = Callable[[socket.socket, "Endpoint"], None]


@dataclass
class Endpoint:
    port: int
    requests: list[bytes] = field(default_factory=list)  # each request's head
    sent_bytes: int = 0  # what the server managed to write before the client went away
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/wp/sub") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _read_request(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head


@contextmanager
def serving(behaviour: Behaviour) -> Iterator[Endpoint]:
    endpoint = Endpoint(port=0)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            try:
                while (head := _read_request(sock)) is not None:
                    endpoint.requests.append(head)
                    behaviour(sock, endpoint)
            except OSError:
                pass  # the client went away, as it should from a hostile server

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.stop.set()
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes = b"") -> Behaviour:
    def behave(sock: socket.socket, endpoint: Endpoint) -> None:
        sock.sendall(b"HTTP/1.1 %d Whatever\r\nContent-Length: %d\r\n\r\n%b" % (status, len(body), body))

    return behave


def huge_body(status: int, size: int) -> Behaviour:
    """Declares and sends `size` bytes of body, 1 MB at a time, as long as the client reads."""
    chunk = b"x" * (1 << 20)

    def behave(sock: socket.socket, endpoint: Endpoint) -> None:
        sock.sendall(b"HTTP/1.1 %d Whatever\r\nContent-Length: %d\r\n\r\n" % (status, size))
        while endpoint.sent_bytes < size:
            sock.sendall(chunk)
            endpoint.sent_bytes += len(chunk)

    return behave


def stalling(sock: socket.socket, endpoint: Endpoint) -> None:
    """Reads the request and never answers (until the test ends)."""
    endpoint.stop.wait(30)


def dripping(sock: socket.socket, endpoint: Endpoint) -> None:
    """Answers its headers, then a body one byte every 50 ms, never finishing (until the test ends)."""
    sock.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 1000000\r\n\r\n")
    while not endpoint.stop.wait(0.05):
        sock.sendall(b"x")
        endpoint.sent_bytes += 1
