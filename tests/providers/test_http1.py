"""The keep-alive pool against small real servers that misbehave the ways real ones do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from providers.http1 import HttpError, KeepAlivePool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's body (None when the client closed the connection)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


def answer(body: bytes, *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body)


async def serve(handler: Handler, run: Callable[[str], Awaitable[None]]) -> list[int]:
    """Run `run(url)` against a server on a free port; returns how many connections the server accepted."""
    connections: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await run(f"http://127.0.0.1:{port}/v1/send")
    return connections


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (body := await read_request(reader)) is not None:
        await asyncio.sleep(0.001 * (body[-1] % 3))  # answers come back out of the order asked
        writer.write(answer(body, extra=b"Retry-After: 7\r\nX-Other: skipped\r\n"))


def test_concurrent_posts_get_their_own_answers_over_at_most_the_pool_size_of_connections() -> None:
    async def run(url: str) -> None:
        pool = KeepAlivePool(url, max_connections=8, timeout_seconds=5)
        bodies = [f"message {i}".encode() for i in range(400)]
        responses = await asyncio.gather(*(pool.post(body, b"Content-Type: text/plain\r\n") for body in bodies))
        assert [r.body for r in responses] == bodies
        assert {r.status for r in responses} == {200}
        assert responses[0].headers == {"retry-after": "7"}  # only the headers a provider reads
        await pool.close()

    connections = asyncio.run(serve(echo, run))
    assert 1 <= len(connections) <= 8


def test_a_connection_the_server_closes_is_replaced() -> None:
    async def one_request_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await read_request(reader)
        writer.write(answer(body or b"", extra=b"Connection: close\r\n"))
        await writer.drain()

    async def idle_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await read_request(reader)
        writer.write(answer(body or b""))
        await writer.drain()  # then closes without a word, like an idle keep-alive timeout

    async def run(url: str) -> None:
        pool = KeepAlivePool(url, max_connections=2, timeout_seconds=5)
        for i in range(5):
            response = await pool.post(b"%d" % i, b"")
            assert response.body == b"%d" % i
            await asyncio.sleep(0.05)  # let the close arrive before the next request
        await pool.close()

    assert len(asyncio.run(serve(one_request_per_connection, run))) == 5
    assert len(asyncio.run(serve(idle_then_close, run))) == 5


def test_no_answer_in_time_is_an_error_and_the_connection_is_not_reused() -> None:
    async def silent_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await read_request(reader)
        if body == b"hang":
            await asyncio.sleep(1)  # answers too late: this answer must not reach the next request
        writer.write(answer(body or b""))
        while (body := await read_request(reader)) is not None:
            writer.write(answer(body))

    async def run(url: str) -> None:
        pool = KeepAlivePool(url, max_connections=1, timeout_seconds=0.2)
        with pytest.raises(HttpError, match=r"No answer within 0\.2 s"):
            await pool.post(b"hang", b"")
        assert (await pool.post(b"next", b"")).body == b"next"
        await pool.close()

    assert len(asyncio.run(serve(silent_first, run))) == 2


def test_chunked_answers_are_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b'5\r\n{"a":\r\n')
            await writer.drain()
            writer.write(b"3\r\n 1}\r\n0\r\n\r\n")

    async def run(url: str) -> None:
        pool = KeepAlivePool(url, max_connections=1, timeout_seconds=5)
        for _ in range(2):
            response = await pool.post(b"{}", b"")
            assert (response.status, response.body) == (404, b'{"a": 1}')
        await pool.close()

    assert len(asyncio.run(serve(chunked, run))) == 1


def test_nothing_listening_is_an_error() -> None:
    async def run() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pool = KeepAlivePool(f"http://127.0.0.1:{port}/", max_connections=1, timeout_seconds=1)
        with pytest.raises(HttpError, match="Cannot connect"):
            await pool.post(b"x", b"")

    asyncio.run(run())
