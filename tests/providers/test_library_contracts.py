"""Contracts for the library internals the push transports lean on; each failure names the library and version.

- aioapns: providers.apns.LeanProtocol subclasses APNsTLSClientProtocol, replaces its `conn` and overrides
  `flush`, and ApnsProvider swaps the pool's `protocol_class`.
- h2: LiteralHeaderEncoder is put into H2Connection's `encoder`; h2 must keep encoding every header block
  through it and telling it the peer's table size.
- hpack: LiteralHeaderEncoder uses `hpack.hpack.encode_integer` and `HeaderTable.STATIC_TABLE`.
- firebase-admin: configure_sdk rewrites `messaging._MessagingService.FCM_URL` and remounts the adapter of
  `_get_messaging_service(app)._client.session`.

Whether each still pays for itself: `python -m bench.transport_internals`, docs/SCALING.md
("Library internals we lean on").
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

import firebase_admin
import hpack
import pytest
import requests
from aioapns.connection import APNsTLSClientProtocol
from firebase_admin import credentials, messaging
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes
from hpack.hpack import encode_integer
from hpack.table import HeaderTable
from hyperframe.frame import ContinuationFrame, Frame, HeadersFrame

from providers.apns import LeanProtocol, LiteralHeaderEncoder
from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from providers.fcm_sdk import configure_sdk
from providers.runtime import runtime

from .conftest import send_with

LEAN = "providers/apns.py LeanProtocol"
ENCODER = "providers/apns.py LiteralHeaderEncoder"
SDK = "providers/fcm_sdk.py configure_sdk"

# As aioapns builds them (str pairs); the authorization is longer than one length byte.
HEADERS = [
    (":method", "POST"),
    (":scheme", "https"),
    (":path", "/3/device/" + "ab" * 32),
    ("host", "api.push.apple.com"),
    ("apns-id", "00000000-0000-0000-0000-00000000002a"),
    ("apns-topic", "shop.pushcart.app"),
    ("authorization", "bearer " + "x" * 300),
]


@contextmanager
def contract(library: str, internal: str, relies_on: str, where: str) -> Iterator[None]:
    """Any failure inside (a failed assert, a missing attribute, a changed call) fails with one message."""
    try:
        yield
    except Exception as exc:
        pytest.fail(
            f"{library} {version(library)} changed {internal}: {relies_on}; see {where}; "
            f"re-measure with python -m bench.transport_internals and keep or drop it ({type(exc).__name__}: {exc})"
        )


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


# aioapns: the protocol class LeanProtocol overrides


def test_the_aioapns_methods_lean_protocol_overrides_or_calls_keep_their_parameters():
    expected = {
        # called by the pool as protocol_class(topic, loop, on_connection_lost, auth_provider)
        "__init__": ["self", "apns_topic", "loop", "on_connection_lost", "auth_provider"],
        "flush": ["self"],  # overridden: the one place every write goes through
        "refresh_inactivity_timer": ["self"],  # called once per loop turn instead of per push
        "connection_made": ["self", "transport"],
        "send_notification": ["self", "request"],
        "close": ["self"],
    }
    with contract(
        "aioapns",
        "APNsTLSClientProtocol's methods",
        f"LeanProtocol overrides or calls {', '.join(expected)} with these parameters",
        LEAN,
    ):
        assert {name: parameters(getattr(APNsTLSClientProtocol, name)) for name in expected} == expected
        assert parameters(LeanProtocol.flush) == parameters(APNsTLSClientProtocol.flush)
        # LeanProtocol's own names must not silently override something aioapns grows.
        assert not hasattr(APNsTLSClientProtocol, "_write")
        assert {"APNS_SERVER", "APNS_PORT"} <= set(dir(APNsTLSClientProtocol))


def test_aioapns_sets_up_the_attributes_lean_protocol_uses_and_sends_nothing_before_connecting():
    loop = asyncio.new_event_loop()
    try:
        with contract(
            "aioapns",
            "APNsTLSClientProtocol.__init__",
            "it sets conn (an idle H2Connection LeanProtocol replaces), loop, transport and inactivity_timer",
            LEAN,
        ):
            stock = APNsTLSClientProtocol("shop.pushcart.app", loop)
            assert isinstance(stock.conn, H2Connection)
            assert stock.conn.data_to_send() == b""  # replacing it loses nothing
            assert stock.loop is loop and stock.transport is None and stock.inactivity_timer is None
            assert not hasattr(stock, "_write_scheduled")
            lean = LeanProtocol("shop.pushcart.app", loop)
            assert isinstance(lean.conn.encoder, LiteralHeaderEncoder)
            assert lean.conn.config.validate_outbound_headers is False
    finally:
        loop.close()


def test_aioapns_writes_every_push_through_flush_and_the_pool_builds_our_protocol_class(sim):
    """Against pushsim over TLS: aioapns calls flush() per push; LeanProtocol turns them into a few writes."""
    runtime.reset()
    provider = runtime.provider("apns")
    pool = provider.client.pool
    counts = {"flush": 0, "write": 0}

    class Counting(pool.protocol_class):  # type: ignore[name-defined,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            write = transport.write

            def counted(data: bytes) -> None:
                counts["write"] += bool(data)  # TLS writes with frames in them
                write(data)

            transport.write = counted  # type: ignore[method-assign]
            super().connection_made(transport)

        def flush(self) -> None:
            counts["flush"] += 1
            super().flush()

    with contract(
        "aioapns",
        "APNsKeyConnectionPool.protocol_class / APNsBaseClientProtocol.send_notification",
        "the pool connects to protocol_class.APNS_SERVER:APNS_PORT with instances of protocol_class, and "
        "send_notification writes each push through self.flush()",
        LEAN,
    ):
        pool.protocol_class = Counting
        message = PushMessage(title="t", body="b")
        [first] = runtime.send("apns", [SendRequest(PushTarget("ok-contract-0"), message)], timeout=60)
        assert first.kind is OutcomeKind.DELIVERED, first
        counts.update(flush=0, write=0)
        requests_ = [SendRequest(PushTarget(f"ok-contract-{i}"), message) for i in range(1, 51)]
        outcomes = runtime.send("apns", requests_, timeout=60)
        assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
        assert pool.connections and all(isinstance(c, Counting) for c in pool.connections)
        assert counts["flush"] >= 50, counts  # each push reached our flush
        assert counts["write"] * 4 <= 50, counts  # and went out with others, a few TLS writes in all
    runtime.reset()


# h2: the encoder swapped into conn.encoder


def frames_of(data: bytes) -> list[Frame]:
    frames = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames


def header_block(conn: H2Connection, stream_id: int) -> bytes:
    conn.send_headers(stream_id, HEADERS, end_stream=True)
    frames = [f for f in frames_of(conn.data_to_send()) if isinstance(f, HeadersFrame | ContinuationFrame)]
    return b"".join(bytes(f.data) for f in frames)


def lean_connection() -> H2Connection:
    loop = asyncio.new_event_loop()
    try:
        conn = LeanProtocol("shop.pushcart.app", loop).conn
    finally:
        loop.close()
    conn.initiate_connection()
    conn.data_to_send()
    return conn


def test_h2_encodes_every_header_block_with_conn_encoder():
    with contract(
        "h2",
        "H2Connection.encoder",
        "send_headers encodes the block with conn.encoder.encode(headers) and sends its bytes as they are",
        ENCODER,
    ):
        conn, decoder = lean_connection(), hpack.Decoder()
        for stream_id in (1, 3):
            block = header_block(conn, stream_id)
            assert block[0] == 0x20 or stream_id == 3  # the table-size update only LiteralHeaderEncoder writes
            assert decoder.decode(block) == HEADERS
        assert len(decoder.header_table.dynamic_entries) == 0


def test_h2_tells_conn_encoder_the_peers_table_size():
    with contract(
        "h2",
        "H2Connection's SETTINGS_HEADER_TABLE_SIZE handling",
        "a peer's new header table size is set as conn.encoder.header_table_size",
        ENCODER,
    ):
        client = lean_connection()
        server = H2Connection(H2Configuration(client_side=False))
        server.initiate_connection()
        server.receive_data(client.data_to_send())
        header_block(client, 1)
        server.update_settings({SettingCodes.HEADER_TABLE_SIZE: 256})
        client.receive_data(server.data_to_send())
        assert client.encoder.header_table_size == 256
        assert header_block(client, 3)[0] == 0x20  # announced again after the change


# hpack: what LiteralHeaderEncoder borrows


def test_hpack_encode_integer_still_encodes_as_rfc_7541_into_a_bytearray():
    with contract(
        "hpack",
        "hpack.hpack.encode_integer",
        "encode_integer(integer, prefix_bits) returns the RFC 7541 §5.1 bytes as a mutable bytearray",
        ENCODER,
    ):
        assert parameters(encode_integer) == ["integer", "prefix_bits"]
        assert encode_integer(10, 5) == bytearray([0x0A])  # RFC 7541 C.1.1
        assert encode_integer(1337, 5) == bytearray([0x1F, 0x9A, 0x0A])  # C.1.2
        assert encode_integer(300, 7) == bytearray([0x7F, 0xAD, 0x01])
        assert type(encode_integer(42, 8)) is bytearray  # the encoder ORs flags into byte 0


def test_hpack_static_table_is_still_rfc_7541_appendix_a_as_bytes():
    with contract(
        "hpack",
        "hpack.table.HeaderTable.STATIC_TABLE",
        "a sequence of the 61 (name, value) byte pairs of RFC 7541 Appendix A, index 1 first",
        ENCODER,
    ):
        table = HeaderTable.STATIC_TABLE
        assert len(table) == 61
        assert all(isinstance(name, bytes) and isinstance(value, bytes) for name, value in table)
        assert table[0] == (b":authority", b"")
        assert table[1] == (b":method", b"GET")
        assert table[22] == (b"authorization", b"")
        assert table[60] == (b"www-authenticate", b"")


# firebase-admin: the FCM_URL patch and the adapter remount


def test_firebase_admin_fcm_url_is_still_a_class_attribute_with_the_project_placeholder():
    with contract(
        "firebase-admin",
        "messaging._MessagingService.FCM_URL",
        "a class attribute '<origin>/v1/projects/{0}/messages:send' formatted with the project id",
        SDK,
    ):
        url = messaging._MessagingService.FCM_URL  # possibly patched already by an earlier test: same shape
        assert isinstance(url, str) and url.endswith("/v1/projects/{0}/messages:send") and url.count("{") == 1
        assert parameters(messaging._get_messaging_service) == ["app"]


def test_firebase_admin_posts_to_the_patched_url_through_an_adapter_without_retries(sim, provider_settings):
    """Against pushsim: the service formats FCM_URL when made, sends there, and one 503 is one request."""
    provider_settings.FCM_TRANSPORT = "sdk"
    message = PushMessage(title="t", body="b")
    with contract(
        "firebase-admin",
        "messaging._MessagingService (FCM_URL, _fcm_url, _client.session)",
        "the service formats FCM_URL into the URL send_each posts to when it is created, through "
        "_client.session (a requests.Session) whose adapters configure_sdk replaces",
        SDK,
    ):
        [delivered] = send_with("fcm", [SendRequest(PushTarget("ok-contract-fcm"), message)])
        assert delivered.kind is OutcomeKind.DELIVERED, delivered
        service = messaging._get_messaging_service(runtime.provider("fcm").app)
        assert service._fcm_url == f"{sim.base_url}/v1/projects/{service._project_id}/messages:send"
        assert len(sim.messages("ok-contract-fcm")) == 1
        sim.reset()
        [refused] = runtime.send("fcm", [SendRequest(PushTarget("unavailable-contract"), message)], timeout=60)
        assert refused.kind is OutcomeKind.RETRY
        assert sim.stats()["requests"] == 1  # the engine retries, not the SDK
    runtime.reset()


@pytest.mark.parametrize("endpoint", ["simulator", "https://fcm.googleapis.com"])
def test_the_send_url_gets_pushcarts_adapter_in_production_too(endpoint, simulator):
    """firebase-admin mounts a retrying adapter on its own origin; ours must win there as well."""
    endpoint = simulator.base_url if endpoint == "simulator" else endpoint
    app = firebase_admin.initialize_app(
        credentials.Certificate(str(simulator.paths.service_account)), name=f"contract-{uuid.uuid4().hex[:8]}"
    )
    try:
        with contract(
            "firebase-admin",
            "messaging._MessagingService._client.session",
            "a requests.Session whose adapter for the send URL is the one configure_sdk mounts (no retries)",
            SDK,
        ):
            configure_sdk(app, endpoint, pool_size=7)
            service = messaging._get_messaging_service(app)
            assert service._fcm_url.startswith(endpoint)
            session = service._client.session
            assert isinstance(session, requests.Session)
            assert session.get_adapter(service._fcm_url).max_retries.total == 0
    finally:
        firebase_admin.delete_app(app)
