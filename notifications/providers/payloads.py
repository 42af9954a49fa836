"""Map one provider-neutral PushMessage to each provider's wire format.

Each builder returns the exact bytes that will be sent, so the size check
before sending measures what the provider will measure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from notifications.providers.base import Priority, PushMessage

FCM_MAX_BYTES = 4096  # FCM: the whole message payload
APNS_MAX_BYTES = 4096  # APNs: the JSON payload of a regular push
# Web Push: a 4096-byte record minus the aes128gcm header (86 bytes with the
# key id), the padding delimiter and the AEAD tag.
WEBPUSH_MAX_BYTES = 3993
APNS_COLLAPSE_ID_MAX_BYTES = 64
WEBPUSH_TOPIC_MAX = 32


class PayloadTooLargeError(ValueError):
    def __init__(self, provider: str, size: int, limit: int) -> None:
        super().__init__(f"{provider} payload is {size} bytes; the provider's limit is {limit} bytes.")
        self.size, self.limit = size, limit


T = TypeVar("T")


class PerMessage(Generic[T]):
    """What a provider builds from a message, built once per batch: a batch's requests mostly share one
    message (a campaign's content in one language). A message too large is remembered as its error.

    Keyed by the message's identity: the batch's requests hold every message for as long as this lives.
    """

    def __init__(self, build: Callable[[PushMessage], T]) -> None:
        self._build = build
        self._built: dict[int, T | PayloadTooLargeError] = {}

    def __call__(self, message: PushMessage) -> T:
        """The message's build; raises its PayloadTooLargeError."""
        built = self._built.get(id(message))
        if built is None:
            try:
                built = self._build(message)
            except PayloadTooLargeError as exc:
                built = exc
            self._built[id(message)] = built
        if isinstance(built, PayloadTooLargeError):
            raise built
        return built


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _app_data(message: PushMessage) -> dict[str, str]:
    """The data the app receives: the message's own, plus its deep link and category."""
    data = dict(message.data)
    if message.deep_link:
        data.setdefault("deep_link", message.deep_link)
    if message.category:
        data.setdefault("category", message.category)
    return data


def fcm_message(token: str, message: PushMessage) -> dict:
    """The `message` object of the FCM HTTP v1 API."""
    notification = {"title": message.title, "body": message.body}
    if message.image:
        notification["image"] = message.image
    high = message.priority is Priority.HIGH
    android: dict = {"priority": "HIGH" if high else "NORMAL", "ttl": f"{message.ttl_seconds}s"}
    apns_headers = {
        "apns-priority": "10" if high else "5",
        "apns-expiration": str(int(time.time()) + message.ttl_seconds),
        "apns-push-type": "alert",
    }
    if message.collapse_key:
        android["collapse_key"] = message.collapse_key
        apns_headers["apns-collapse-id"] = message.collapse_key[:APNS_COLLAPSE_ID_MAX_BYTES]
    fcm: dict = {"token": token, "notification": notification, "android": android, "apns": {"headers": apns_headers}}
    if message.image:
        fcm["apns"]["payload"] = {"aps": {"mutable-content": 1}}
        fcm["apns"]["fcm_options"] = {"image": message.image}
    data = _app_data(message)
    if data:
        fcm["data"] = data
    return fcm


def encode_fcm_message(wire: dict) -> bytes:
    """The encoded `message` object, refused if over FCM's limit."""
    encoded = _dumps(wire)
    if len(encoded) > FCM_MAX_BYTES:
        raise PayloadTooLargeError("FCM", len(encoded), FCM_MAX_BYTES)
    return encoded


_TOKEN_MARK = "\x00token\x00"


@dataclass(frozen=True, slots=True)
class FcmBodyTemplate:
    """A message's messages:send body, encoded once, with a gap where each device's token goes.

    A campaign batch sends one message to hundreds of tokens: encoding it once and splicing each
    token in costs a fraction of encoding every body whole (the same bytes come out).
    """

    before: bytes
    after: bytes

    @classmethod
    def of(cls, message: PushMessage) -> FcmBodyTemplate:
        encoded = b'{"message":' + _dumps(fcm_message(_TOKEN_MARK, message)) + b"}"
        before, after = encoded.split(_dumps(_TOKEN_MARK), 1)
        return cls(before, after)

    def body(self, token: str) -> bytes:
        """The body for one token, refused if its `message` object is over FCM's limit."""
        token_json = _dumps(token)
        size = len(self.before) + len(token_json) + len(self.after) - len(b'{"message":}')
        if size > FCM_MAX_BYTES:
            raise PayloadTooLargeError("FCM", size, FCM_MAX_BYTES)
        return self.before + token_json + self.after


@dataclass(frozen=True, slots=True)
class ApnsPush:
    payload: dict
    priority: int
    expiration: int
    collapse_id: str | None
    push_type: str = "alert"


def _apns_payload(message: PushMessage) -> dict:
    aps: dict = {"alert": {"title": message.title, "body": message.body}, "sound": "default"}
    if message.image:
        aps["mutable-content"] = 1
    if message.category:
        aps["thread-id"] = message.category
    payload: dict = {"aps": aps, **_app_data(message)}
    if message.image:
        payload.setdefault("image", message.image)
    return payload


def apns_push(message: PushMessage) -> ApnsPush:
    payload = _apns_payload(message)
    size = len(_dumps(payload))
    if size > APNS_MAX_BYTES:
        raise PayloadTooLargeError("APNs", size, APNS_MAX_BYTES)
    collapse = message.collapse_key.encode()[:APNS_COLLAPSE_ID_MAX_BYTES].decode(errors="ignore") or None
    return ApnsPush(
        payload=payload,
        priority=10 if message.priority is Priority.HIGH else 5,
        expiration=int(time.time()) + message.ttl_seconds,
        collapse_id=collapse,
    )


def _webpush_body(message: PushMessage) -> dict:
    body: dict = {"title": message.title, "body": message.body}
    if message.image:
        body["image"] = message.image
    if message.deep_link:
        body["url"] = message.deep_link
    if message.collapse_key:
        body["tag"] = message.collapse_key
    data = _app_data(message)
    if data:
        body["data"] = data
    return body


def webpush_payload(message: PushMessage) -> bytes:
    """What the service worker receives (it shows the notification itself)."""
    encoded = _dumps(_webpush_body(message))
    if len(encoded) > WEBPUSH_MAX_BYTES:
        raise PayloadTooLargeError("Web Push", len(encoded), WEBPUSH_MAX_BYTES)
    return encoded


def payload_sizes(message: PushMessage, token: str = "x" * 200) -> dict[str, tuple[int, int]]:
    """Each provider's measured payload size and its limit, in bytes (with a long FCM token)."""
    return {
        "FCM": (len(_dumps(fcm_message(token, message))), FCM_MAX_BYTES),
        "APNs": (len(_dumps(_apns_payload(message))), APNS_MAX_BYTES),
        "Web Push": (len(_dumps(_webpush_body(message))), WEBPUSH_MAX_BYTES),
    }


def check_size(message: PushMessage) -> None:
    """Raise PayloadTooLargeError if any provider would refuse the message."""
    for provider, (size, limit) in payload_sizes(message).items():
        if size > limit:
            raise PayloadTooLargeError(provider, size, limit)


def webpush_headers(message: PushMessage) -> dict[str, str]:
    headers = {"TTL": str(message.ttl_seconds), "Urgency": "high" if message.priority is Priority.HIGH else "normal"}
    topic = "".join(c for c in message.collapse_key if c.isalnum() or c in "-_")[:WEBPUSH_TOPIC_MAX]
    if topic:
        headers["Topic"] = topic
    return headers
