"""Map one provider-neutral PushMessage to each provider's wire format.

Each builder returns the exact bytes that will be sent, so the size check
before sending measures what the provider will measure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from providers.base import Priority, PushMessage

FCM_MAX_BYTES = 4096  # FCM: the whole message payload
APNS_MAX_BYTES = 4096  # APNs: the JSON payload of a regular push
# Web Push: a 4096-byte record minus the aes128gcm header (86 bytes with the
# key id), the padding delimiter and the AEAD tag.
WEBPUSH_MAX_BYTES = 3993
APNS_COLLAPSE_ID_MAX_BYTES = 64
WEBPUSH_TOPIC_MAX = 32  # RFC 8030 5.4: at most 32 characters of the URL- and filename-safe base64 alphabet
WEBPUSH_TOPIC_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
# Where the app finds the notification's id, to report the open (POST /api/v1/notifications/<id>/opened/):
# a key of the app data on every platform (FCM `data`, a top-level key of the APNs payload, Web Push `data`).
# Ours alone: a message's own data can't set it.
NOTIFICATION_ID_KEY = "pushcart_notification_id"
# The longest id a notification can have (a bigint): size checks made before the id exists reserve its room.
LONGEST_NOTIFICATION_ID = str(2**63 - 1)


def collapse_identity(collapse_key: str, notification_id: str) -> str:
    """What a push is shown under on the device, so that a second copy replaces the first instead of stacking
    (a batch sent again after a failover sends its notifications again, under the same ids).

    The message's own collapse key when it has one (a template's, e.g. an order's updates replacing each
    other), else one per notification: "n" and its id. Short (at most 20 characters), stable (a notification
    keeps its id, and so does a resent batch), fit as it is for every provider (ASCII letters and digits:
    APNs' 64 bytes, Web Push's Topic alphabet), and never a bare number, so that a message's own key such
    as an order number can't name another notification. "" for a push of no notification (a test push).

    Each provider carries it as FCM's `android.notification.tag`, APNs' `apns-collapse-id`, Web Push's
    `Topic` header and the payload's `tag` (the service worker shows the notification under it).
    """
    if collapse_key:
        return collapse_key
    return f"n{notification_id}" if notification_id else ""


def apns_collapse_id(identity: str) -> str | None:
    """The identity as APNs' `apns-collapse-id` (at most 64 bytes), or None for none."""
    if not identity:
        return None
    return identity if len(identity.encode()) <= APNS_COLLAPSE_ID_MAX_BYTES else _digest(identity)


def webpush_topic(identity: str) -> str:
    """The identity as a Web Push `Topic` (RFC 8030: 32 characters of URL-safe base64), or "" for none."""
    if len(identity) <= WEBPUSH_TOPIC_MAX and WEBPUSH_TOPIC_ALPHABET.issuperset(identity):
        return identity
    return _digest(identity)


def _digest(identity: str) -> str:
    """A stable stand-in for an identity a provider can't take as it is: 32 characters of the URL-safe base64 of
    its SHA-256 (192 bits). Cutting or filtering the key instead would make two keys that differ only past the
    cut, or in the characters dropped, replace each other's pushes."""
    return base64.urlsafe_b64encode(hashlib.sha256(identity.encode()).digest())[:WEBPUSH_TOPIC_MAX].decode()


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


def _app_data(message: PushMessage, notification_id: str = "") -> dict[str, str]:
    """The data the app receives: the message's own, its deep link and category, and the notification's id
    (last, so that the id can be spliced into an encoding shared by a batch's requests)."""
    data = dict(message.data)
    data.pop(NOTIFICATION_ID_KEY, None)
    if message.deep_link:
        data.setdefault("deep_link", message.deep_link)
    if message.category:
        data.setdefault("category", message.category)
    if notification_id:
        data[NOTIFICATION_ID_KEY] = notification_id
    return data


def fcm_message(token: str, message: PushMessage, notification_id: str = "") -> dict:
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
        # FCM keeps only the last undelivered message of a collapse key for an offline device. Not set for a
        # per-notification identity: FCM keeps at most four collapse keys per device, which one per
        # notification would overrun (and a copy already delivered is replaced by the tag below anyway).
        android["collapse_key"] = message.collapse_key
    identity = collapse_identity(message.collapse_key, notification_id)
    if identity:
        android["notification"] = {"tag": identity}  # what the Android system tray replaces a notification by
        apns_headers["apns-collapse-id"] = apns_collapse_id(identity)
    fcm: dict = {"token": token, "notification": notification, "android": android, "apns": {"headers": apns_headers}}
    if message.image:
        fcm["apns"]["payload"] = {"aps": {"mutable-content": 1}}
        fcm["apns"]["fcm_options"] = {"image": message.image}
    data = _app_data(message, notification_id)
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
# Where a notification's id goes, inside an encoded JSON string: its data value, and its collapse identity when
# the message has no key of its own ("n" and the id). No message holds it: the API, templates and events
# refuse NUL characters.
_ID_MARK = "\x00id\x00"
_ID_GAP = _dumps(_ID_MARK)[1:-1]
_FCM_WRAPPER = len(b'{"message":}')


def _split_at_ids(encoded: bytes) -> tuple[bytes, ...]:
    return tuple(encoded.split(_ID_GAP))


def _join_at_ids(parts: tuple[bytes, ...], notification_id: str) -> bytes:
    return _dumps(notification_id)[1:-1].join(parts)


@dataclass(frozen=True, slots=True)
class FcmBodyTemplate:
    """A message's messages:send body, encoded once, with gaps where each device's token and each
    notification's id go.

    A campaign batch sends one message to hundreds of tokens: encoding it once and splicing each
    token and id in costs a fraction of encoding every body whole (the same bytes come out).
    """

    before: bytes  # ... the token ...
    after: tuple[bytes, ...]  # the rest, split where the notification's id goes
    plain_after: bytes  # after the token, for a request without a notification id (a test push)

    @classmethod
    def of(cls, message: PushMessage) -> FcmBodyTemplate:
        encoded = b'{"message":' + _dumps(fcm_message(_TOKEN_MARK, message, _ID_MARK)) + b"}"
        before, rest = encoded.split(_dumps(_TOKEN_MARK), 1)
        plain = b'{"message":' + _dumps(fcm_message(_TOKEN_MARK, message)) + b"}"
        return cls(before, _split_at_ids(rest), plain.split(_dumps(_TOKEN_MARK), 1)[1])

    def body(self, token: str, notification_id: str = "") -> bytes:
        """The body for one token, refused if its `message` object is over FCM's limit."""
        rest = _join_at_ids(self.after, notification_id) if notification_id else self.plain_after
        body = b"".join((self.before, _dumps(token), rest))
        if len(body) - _FCM_WRAPPER > FCM_MAX_BYTES:
            raise PayloadTooLargeError("FCM", len(body) - _FCM_WRAPPER, FCM_MAX_BYTES)
        return body


@dataclass(frozen=True, slots=True)
class ApnsPush:
    payload: dict
    priority: int
    expiration: int
    collapse_key: str  # the message's own, if any
    push_type: str = "alert"
    size: int = 0  # of the encoded payload, without a notification id

    def collapse_id(self, notification_id: str) -> str | None:
        """The `apns-collapse-id` of one notification's push."""
        return apns_collapse_id(collapse_identity(self.collapse_key, notification_id))

    def payload_for(self, notification_id: str) -> dict:
        """The payload of one notification: the shared one, with its id as a custom key beside `aps`;
        refused if that makes it larger than APNs takes."""
        if not notification_id:
            return self.payload
        size = self.size + len(_dumps(NOTIFICATION_ID_KEY)) + len(_dumps(notification_id)) + 2  # `,` and `:`
        if size > APNS_MAX_BYTES:
            raise PayloadTooLargeError("APNs", size, APNS_MAX_BYTES)
        return {**self.payload, NOTIFICATION_ID_KEY: notification_id}


def _apns_payload(message: PushMessage, notification_id: str = "") -> dict:
    aps: dict = {"alert": {"title": message.title, "body": message.body}, "sound": "default"}
    if message.image:
        aps["mutable-content"] = 1
    if message.category:
        aps["thread-id"] = message.category
    payload: dict = {"aps": aps, **_app_data(message, notification_id)}
    if message.image:
        payload.setdefault("image", message.image)
    return payload


def apns_push(message: PushMessage) -> ApnsPush:
    payload = _apns_payload(message)
    size = len(_dumps(payload))
    if size > APNS_MAX_BYTES:
        raise PayloadTooLargeError("APNs", size, APNS_MAX_BYTES)
    return ApnsPush(
        payload=payload,
        priority=10 if message.priority is Priority.HIGH else 5,
        expiration=int(time.time()) + message.ttl_seconds,
        collapse_key=message.collapse_key,
        size=size,
    )


def _webpush_body(message: PushMessage, notification_id: str = "") -> dict:
    body: dict = {"title": message.title, "body": message.body}
    if message.image:
        body["image"] = message.image
    if message.deep_link:
        body["url"] = message.deep_link
    identity = collapse_identity(message.collapse_key, notification_id)
    if identity:
        body["tag"] = identity  # for the service worker's showNotification: a second copy replaces the first
    data = _app_data(message, notification_id)
    if data:
        body["data"] = data
    return body


@dataclass(frozen=True, slots=True)
class WebPushTemplate:
    """What the service worker receives (it shows the notification itself): a message's payload, encoded once
    per batch, with gaps where each notification's id goes."""

    parts: tuple[bytes, ...]  # split where the notification's id goes
    plain: bytes  # for a request without a notification id (a test push)
    collapse_key: str  # the message's own, if any

    @classmethod
    def of(cls, message: PushMessage) -> WebPushTemplate:
        parts = _split_at_ids(_dumps(_webpush_body(message, _ID_MARK)))
        return cls(parts, _dumps(_webpush_body(message)), message.collapse_key)

    def payload(self, notification_id: str = "") -> bytes:
        """The payload of one notification, refused if over what one Web Push record holds."""
        encoded = _join_at_ids(self.parts, notification_id) if notification_id else self.plain
        if len(encoded) > WEBPUSH_MAX_BYTES:
            raise PayloadTooLargeError("Web Push", len(encoded), WEBPUSH_MAX_BYTES)
        return encoded

    def topic(self, notification_id: str = "") -> str:
        """The `Topic` header of one notification's push ("" for none): a push service keeps only the last
        undelivered push of a topic."""
        return webpush_topic(collapse_identity(self.collapse_key, notification_id))


def payload_sizes(message: PushMessage, token: str = "x" * 200) -> dict[str, tuple[int, int]]:
    """Each provider's measured payload size and its limit, in bytes (with a long FCM token and the longest
    notification id, which every push carries)."""
    nid = LONGEST_NOTIFICATION_ID
    return {
        "FCM": (len(_dumps(fcm_message(token, message, nid))), FCM_MAX_BYTES),
        "APNs": (len(_dumps(_apns_payload(message, nid))), APNS_MAX_BYTES),
        "Web Push": (len(_dumps(_webpush_body(message, nid))), WEBPUSH_MAX_BYTES),
    }


def check_size(message: PushMessage) -> None:
    """Raise PayloadTooLargeError if any provider would refuse the message."""
    for provider, (size, limit) in payload_sizes(message).items():
        if size > limit:
            raise PayloadTooLargeError(provider, size, limit)


def webpush_headers(message: PushMessage) -> dict[str, str]:
    """The headers all of a message's pushes share (each notification's Topic: WebPushTemplate.topic)."""
    return {"TTL": str(message.ttl_seconds), "Urgency": "high" if message.priority is Priority.HIGH else "normal"}
