"""APNs: token-based (ES256 .p8 key) HTTP/2 through aioapns, one client per worker process."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from aioapns import APNs, NotificationRequest, PushType
from aioapns.connection import APNsTLSClientProtocol
from h2.config import H2Configuration
from h2.connection import H2Connection
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

from providers.base import Outcome, OutcomeKind, OutcomeReport, PushProvider, SendRequest, each
from providers.payloads import PayloadTooLargeError, PerMessage, apns_push

TOKEN_INVALID_REASONS = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}
# The provider token (our JWT) or the key behind it was refused: every push
# would fail the same way until the configuration is fixed.
PROVIDER_ERROR_REASONS = {"InvalidProviderToken", "ExpiredProviderToken", "MissingProviderToken", "BadCertificate"}
RETRY_REASONS = {
    "TooManyRequests",
    "InternalServerError",
    "ServiceUnavailable",
    "Shutdown",
    "TooManyProviderTokenUpdates",
}


def classify(status: int, reason: str) -> Outcome:
    def outcome(kind: OutcomeKind) -> Outcome:
        return Outcome(kind, code=reason or str(status), text=reason, status=status)

    if status == 410 or reason in TOKEN_INVALID_REASONS:
        return outcome(OutcomeKind.TOKEN_INVALID)
    if status == 429 or status >= 500 or reason in RETRY_REASONS:
        return outcome(OutcomeKind.RETRY)
    if reason in PROVIDER_ERROR_REASONS or status == 403:
        return outcome(OutcomeKind.PROVIDER_ERROR)
    return outcome(OutcomeKind.PERMANENT)


class LiteralHeaderEncoder:
    """HPACK (RFC 7541) without a dynamic table: every header a literal, its name indexed if the static table has it.

    hpack's own encoder searches and updates its dynamic table for each of a push's ten headers, a fifth of
    the APNs client's CPU (bench.providers). The headers that vary (path, apns-id, expiration) would never be
    found there anyway. The block starts by setting the peer's table to size 0, on the first block and after
    any change of the peer's limit, so it never refers to an entry. `authorization` goes never-indexed (§6.2.3).
    It leans on h2's `conn.encoder` and hpack's internals: tests/providers/test_library_contracts.py checks
    them, docs/SCALING.md ("Library internals we lean on") says what it saves.
    """

    _SENSITIVE = frozenset({b"authorization"})

    def __init__(self) -> None:
        self._names: dict[bytes, bytes] = {}
        self._announce_size = True
        self._table_size = 4096

    @property
    def header_table_size(self) -> int:
        return self._table_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:  # the peer's SETTINGS_HEADER_TABLE_SIZE (h2 sets it)
        self._table_size = value
        self._announce_size = True

    def encode(self, headers: Iterable[tuple[bytes | str, bytes | str]], huffman: bool = False) -> bytes:
        parts = []
        if self._announce_size:
            parts.append(b"\x20")  # dynamic table size update: 0
            self._announce_size = False
        for name, value in headers:
            name = name.encode() if isinstance(name, str) else name
            value = value.encode() if isinstance(value, str) else value
            prefix = self._names.get(name)
            if prefix is None:
                prefix = self._names[name] = self._name_prefix(name)
            parts.append(prefix)
            parts.append(_length(len(value)))
            parts.append(value)
        return b"".join(parts)

    def _name_prefix(self, name: bytes) -> bytes:
        flag = 0x10 if name in self._SENSITIVE else 0x00  # never indexed, or without indexing
        for index, (static_name, _) in enumerate(HeaderTable.STATIC_TABLE, start=1):
            if static_name == name:
                return bytes(_integer(index, 4, flag))
        return bytes([flag]) + _length(len(name)) + name


def _integer(value: int, prefix_bits: int, flags: int = 0) -> bytearray:
    encoded = encode_integer(value, prefix_bits)
    encoded[0] |= flags
    return encoded


def _length(value: int) -> bytes:
    return bytes((value,)) if value < 127 else bytes(encode_integer(value, 7))  # a string, not Huffman-coded


class LeanProtocol(APNsTLSClientProtocol):
    """aioapns' HTTP/2 connection with its per-push overheads taken out (docs/ARCHITECTURE.md, "Push providers").

    aioapns writes every push as its own TLS record and re-creates the inactivity timer each time; here
    the writes of one event-loop turn go out together and the timer is re-armed once per turn. h2 also
    validates and normalises the headers we build ourselves, and validates APNs' answers, of which we
    read only the status and apns-id: both switched off. Headers are encoded by LiteralHeaderEncoder.
    It leans on aioapns' internals: tests/providers/test_library_contracts.py checks them, docs/SCALING.md
    ("Library internals we lean on") says what it saves.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.conn = H2Connection(
            H2Configuration(
                client_side=True,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
                validate_inbound_headers=False,
            )
        )
        self.conn.encoder = LiteralHeaderEncoder()
        self._write_scheduled = False

    def flush(self) -> None:
        if not self._write_scheduled:
            self._write_scheduled = True
            self.loop.call_soon(self._write)

    def _write(self) -> None:
        self._write_scheduled = False
        if self.transport is not None and not self.transport.is_closing():
            self.refresh_inactivity_timer()
            self.transport.write(self.conn.data_to_send())


async def _outcome_is_enough(request: NotificationRequest, result: object) -> None:
    """aioapns logs every refused push unless given this; the Outcome records it instead."""


class ApnsProvider(PushProvider):
    name = "apns"

    def __init__(
        self,
        *,
        key_file: str,
        key_id: str,
        team_id: str,
        topic: str,
        endpoint: str,
        ca_file: str = "",
        max_connections: int = 8,
        max_concurrency: int = 256,
        timeout_seconds: float = 10.0,
    ) -> None:
        ssl_context = ssl.create_default_context(cafile=ca_file or None)
        self.client = APNs(
            key=Path(key_file).read_text(),
            key_id=key_id,
            team_id=team_id,
            topic=topic,
            max_connections=max_connections,
            ssl_context=ssl_context,
            err_func=_outcome_is_enough,
        )
        # aioapns takes the host and port from its protocol class; a subclass
        # per provider points it at APNS_ENDPOINT (production, sandbox, simulator).
        address = urlsplit(endpoint)
        self.client.pool.protocol_class = type(
            "PushcartAPNsProtocol",
            (LeanProtocol,),
            {"APNS_SERVER": address.hostname, "APNS_PORT": address.port or 443},
        )
        self._max_concurrency = max_concurrency
        self._timeout = timeout_seconds

    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        limit = asyncio.Semaphore(self._max_concurrency)
        pushes = PerMessage(apns_push)

        async def send(request: SendRequest) -> Outcome:
            try:
                push = pushes(request.message)
                payload = push.payload_for(request.notification_id)
            except PayloadTooLargeError as exc:
                return Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
            notification = NotificationRequest(
                device_token=request.target.token,
                message=payload,
                notification_id=request.delivery_id or None,
                time_to_live=request.message.ttl_seconds,
                priority=push.priority,
                collapse_key=push.collapse_id(request.notification_id),
                push_type=PushType.ALERT,
            )
            async with limit:
                try:
                    # asyncio.timeout, not wait_for: no extra task per push.
                    async with asyncio.timeout(self._timeout):
                        result = await self.client.send_notification(notification)
                except (TimeoutError, ConnectionError, OSError) as exc:
                    return Outcome(OutcomeKind.RETRY, code="network", text=f"{type(exc).__name__}: {exc}")
                except Exception as exc:  # aioapns raises bare exceptions when it can't connect
                    return Outcome(OutcomeKind.RETRY, code="network", text=f"{type(exc).__name__}: {exc}")
            status = int(result.status)
            if status == 200:
                return Outcome.delivered(result.notification_id)
            return classify(status, result.description or "")

        return await each(requests, send, report)

    async def close(self) -> None:
        for connection in list(getattr(self.client.pool, "connections", [])):
            connection.close()
