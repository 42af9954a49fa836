"""The simulated APNs: HTTP/2 over TLS, built directly on the `h2` library.

Each response ends its stream on its last frame (headers-only for 200, one
DATA frame for errors): aioapns parses every DATA frame as JSON, so a server
that ends streams with an empty DATA frame (as hypercorn does) breaks it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import jwt
from cryptography.hazmat.primitives import serialization

from pushsim.behaviour import Behaviour
from pushsim.store import MessageStore

MAX_PAYLOAD_BYTES = 4096
PROVIDER_TOKEN_MAX_AGE = 3600
# outcome -> (status, reason)
ERRORS = {
    "unregistered": (410, "Unregistered"),
    "invalid": (400, "BadDeviceToken"),
    "mismatch": (400, "BadDeviceToken"),
    "unavailable": (503, "ServiceUnavailable"),
    "quota": (429, "TooManyRequests"),
    "rate_limited": (429, "TooManyRequests"),
    "internal": (500, "InternalServerError"),
}


def load_apns_keys(state_dir: Path) -> dict[str, tuple[str, object]]:
    """key id -> (team id, public key) of every APNs key (x.p8 with x.json) in the state dir."""
    keys = {}
    for path in state_dir.glob("*.p8"):
        meta_path = path.with_suffix(".json")
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            keys[meta["key_id"]] = (meta["team_id"], private.public_key())
    return keys


class ApnsService:
    def __init__(self, behaviour: Behaviour, store: MessageStore, state_dir: Path) -> None:
        self.behaviour = behaviour
        self.store = store
        self.keys = load_apns_keys(state_dir)
        self.verified: dict[str, float] = {}  # provider token -> issued at

    def check_provider_token(self, authorization: str) -> tuple[int, str] | None:
        if not authorization.lower().startswith("bearer "):
            return 403, "MissingProviderToken"
        token = authorization[7:]
        issued = self.verified.get(token)
        if issued is None:
            try:
                header = jwt.get_unverified_header(token)
                team, public_key = self.keys[header.get("kid", "")]
                claims = jwt.decode(token, public_key, algorithms=["ES256"], options={"verify_aud": False})
                if claims.get("iss") != team:
                    return 403, "InvalidProviderToken"
                issued = float(claims["iat"])
            except (KeyError, ValueError, jwt.InvalidTokenError):
                return 403, "InvalidProviderToken"
            self.verified[token] = issued
        if time.time() - issued > PROVIDER_TOKEN_MAX_AGE:
            return 403, "ExpiredProviderToken"
        return None

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], dict | None]:
        """(status, response headers, error JSON or None) for one request."""
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        path = headers.get(":path", "")
        if headers.get(":method") != "POST" or not path.startswith("/3/device/"):
            return 404, {"apns-id": apns_id}, {"reason": "BadPath"}
        token = path[len("/3/device/") :]
        refusal = self.check_provider_token(headers.get("authorization", ""))
        if refusal is None and not headers.get("apns-topic"):
            refusal = 400, "MissingTopic"
        if refusal is None and headers.get("apns-priority", "10") not in ("5", "10", "1"):
            refusal = 400, "BadPriority"
        if refusal is None and len(headers.get("apns-collapse-id", "").encode()) > 64:
            refusal = 400, "BadCollapseId"
        if refusal is None and not headers.get("apns-expiration", "0").isdigit():
            refusal = 400, "BadExpirationDate"
        if refusal is None and len(body) > MAX_PAYLOAD_BYTES:
            refusal = 413, "PayloadTooLarge"
        payload = None
        if refusal is None:
            try:
                payload = json.loads(body)
                assert isinstance(payload, dict) and isinstance(payload.get("aps"), dict)
            except (ValueError, AssertionError):
                refusal = 400, "PayloadEmpty"
        if refusal is not None:
            self.behaviour.count("apns", refusal[1])
            return refusal[0], {"apns-id": apns_id}, {"reason": refusal[1]}
        outcome = self.behaviour.decide(token)
        self.behaviour.count("apns", outcome)
        kept = ("apns-priority", "apns-expiration", "apns-collapse-id", "apns-push-type", "apns-topic", "apns-id")
        self.store.add("apns", token, payload, {k: headers[k] for k in kept if k in headers}, outcome)
        if outcome == "ok":
            return 200, {"apns-id": apns_id}, None
        status, reason = ERRORS[outcome]
        error: dict = {"reason": reason}
        if status == 410:
            error["timestamp"] = int(time.time() * 1000)
        return status, {"apns-id": apns_id}, error


class ApnsProtocol(asyncio.Protocol):
    def __init__(self, service: ApnsService) -> None:
        self.service = service
        self.connection = h2.connection.H2Connection(
            # Our own answers need no validation; what clients send is validated as APNs would.
            h2.config.H2Configuration(
                client_side=False,
                header_encoding="utf-8",
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self.requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connection.initiate_connection()
        self.transport.write(self.connection.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self.connection.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.write(self.connection.data_to_send())
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id] = (dict(event.headers), bytearray())
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.requests:
                    self.requests[event.stream_id][1].extend(event.data)
                self.connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = self.requests.pop(event.stream_id, ({}, bytearray()))
                delay = self.service.behaviour.latency()
                if delay:
                    asyncio.get_running_loop().call_later(delay, self.respond, event.stream_id, headers, bytes(body))
                else:  # written with the rest of this read's answers, below
                    self.respond(event.stream_id, headers, bytes(body), write=False)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
        self.transport.write(self.connection.data_to_send())

    def respond(self, stream_id: int, headers: dict[str, str], body: bytes, *, write: bool = True) -> None:
        status, response_headers, error = self.service.answer(headers, body)
        try:
            out = [(":status", str(status)), *response_headers.items()]
            if error is None:
                self.connection.send_headers(stream_id, out, end_stream=True)
            else:
                data = json.dumps(error).encode()
                out.append(("content-type", "application/json"))
                out.append(("content-length", str(len(data))))
                self.connection.send_headers(stream_id, out)
                self.connection.send_data(stream_id, data, end_stream=True)
        except h2.exceptions.StreamClosedError:
            return
        if write and self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.connection.data_to_send())


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    return context
