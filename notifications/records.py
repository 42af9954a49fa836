"""What the engine passes around: a notification as written once, and a delivery while it is being sent.

A notification's columns are these dataclasses' fields: `Content` (what is said, often shared by a whole
campaign: a NotificationContent row, but for the fields each notification row keeps, ON_NOTIFICATION),
`NewNotification` (to whom, from where, when) and `Settled` (the state it is written in). The SQL that writes
and reads notifications and their contents (notifications.store, notifications.delivery) takes its column lists
and array types from `dataclasses.fields` and the models, so a new field is one edit here (and one on a model);
tests/engine/test_records.py fails if the models and these disagree.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifications.localization import pick_translation
from notifications.models import DeliveryStatus, Notification, NotificationContent
from providers.base import Priority, PushMessage, PushTarget, SendRequest


def _not_a_column() -> dict[str, Any]:
    return {"column": None}


@dataclass(frozen=True)
class Content:
    """What a notification says and how it is sent: the same for every shopper of a campaign's variant."""

    title: str
    body: str
    category: str
    image: str = ""
    deep_link: str = ""
    data: dict[str, str] = field(default_factory=dict)
    priority: str = "high"
    ttl_seconds: int = 24 * 3600
    collapse_key: str = ""
    # Per locale (lower case): {"title", "body", "image", "deep_link"}; a device's locale picks one.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    template_key: str = ""
    dedup_key: str = ""  # with dedup_seconds: sent at most once per user within the window
    dedup_seconds: int = 0
    frequency_caps: tuple[tuple[int, int], ...] = ()  # stricter caps for this send: (seconds, max)

    def push_message(self, locale: str = "") -> PushMessage:
        return localized_message(self, locale)


def localized_message(source: Content, locale: str = "") -> PushMessage:
    """The push a device with this locale gets: its translation's texts, or the default ones."""
    texts = pick_translation(source.translations, locale) or {}
    return PushMessage(
        title=texts.get("title", source.title),
        body=texts.get("body", source.body),
        image=texts.get("image", source.image),
        deep_link=texts.get("deep_link", source.deep_link),
        data={str(k): str(v) for k, v in (source.data or {}).items()},
        category=source.category,
        priority=Priority(source.priority),
        ttl_seconds=source.ttl_seconds,
        collapse_key=source.collapse_key,
    )


@dataclass(frozen=True)
class NewNotification:
    """One notification to write: `content` to `user_id`."""

    user_id: str
    content: Content = field(metadata={"column": "*"})  # its fields are columns of their own
    source: str = ""
    source_ref: str = ""
    send_at: datetime | None = None
    # Lets a later event cancel it while it waits (see events.triggers).
    trigger_key: str = ""
    # Set when it could not be made (a template lacked data): stored as failed, with this reason.
    failure: str = field(default="", metadata=_not_a_column())
    variant: str = ""  # a campaign's A/B variant
    target_device_id: int | None = None  # only this device (a test send to one token)
    # What was left of the content's TTL when shopper protection deferred it (send_at moved): the content, which a
    # campaign's shoppers share, keeps its own.
    ttl_left_seconds: int | None = None

    @property
    def ttl_seconds(self) -> int:
        """Its TTL, counted from when it is due."""
        return self.content.ttl_seconds if self.ttl_left_seconds is None else self.ttl_left_seconds


@dataclass(frozen=True, slots=True)
class Settled:
    """The state a notification is written in: as it arrives (pending, scheduled, failed), or as it ended when it
    was judged and sent before being written (a campaign batch)."""

    status: str
    policy: str = ""
    status_reason: str = ""


@dataclass(frozen=True, slots=True)
class Stored:
    """A notification as store_notifications wrote it."""

    pk: int
    item: NewNotification
    state: Settled


@dataclass(slots=True)
class Pending:
    """A stored notification on its way to the devices (read as tuples: 7 times faster than as models)."""

    pk: int
    item: NewNotification
    created_at: datetime

    @property
    def content(self) -> Content:
        return self.item.content

    @property
    def user_id(self) -> str:
        return self.item.user_id

    @property
    def category(self) -> str:
        return self.item.content.category

    @property
    def ttl_seconds(self) -> int:
        return self.item.ttl_seconds

    @property
    def dedup_key(self) -> str:
        return self.item.content.dedup_key

    @property
    def dedup_seconds(self) -> int:
        return self.item.content.dedup_seconds

    @property
    def frequency_caps(self) -> tuple[tuple[int, int], ...]:
        return self.item.content.frequency_caps

    @property
    def due_at(self) -> datetime:
        return self.item.send_at or self.created_at


@dataclass(slots=True)
class Claimed:
    """A delivery being sent: what the provider gets, and the state its outcome is written into."""

    pk: int
    notification_id: int
    device_id: int
    provider: str
    token: str
    attempts: int
    category: str
    due_at: datetime
    ttl_seconds: int
    target: PushTarget
    message: PushMessage
    status: str = DeliveryStatus.SENDING
    next_attempt_at: datetime | None = None
    provider_message_id: str = ""
    last_error_code: str = ""
    last_error_text: str = ""
    updated_at: datetime | None = None

    @property
    def request(self) -> SendRequest:
        return SendRequest(
            self.target,
            self.message,
            delivery_id=apns_id(self.pk),
            notification_id=str(self.notification_id),
        )


def apns_id(delivery_id: int) -> str:
    """apns-id must be a UUID; the delivery's id as one lets Apple's logs be matched to ours (and is not stored)."""
    return str(uuid.UUID(int=delivery_id))


# --- Columns, derived from the dataclasses above ------------------------------------------------------


def _columns(cls: type) -> list[str]:
    names: list[str] = []
    for f in dataclasses.fields(cls):
        column = f.metadata.get("column", f.name)
        if column == "*":
            names.extend([*ON_NOTIFICATION, "content_id"])
        elif column is not None:
            names.append(column)
    return names


# Content's fields kept on each notification, not in its content row: the engine takes pending work by category
# (delivery._LOCK_WAITING, dispatch), opt-outs withdraw by it, the admin filters by it. (The template's key, a rollup
# dimension only, is in the content: 21 bytes less a campaign row; the rollups join the content for it.)
ON_NOTIFICATION: tuple[str, ...] = ("category",)
# NotificationContent's columns (and its id, content_id, is the notification's).
CONTENT_COLUMNS: list[str] = [f.name for f in dataclasses.fields(Content) if f.name not in ON_NOTIFICATION]
# Content's fields stored as JSON: decoded once per distinct content (a campaign's rows share theirs).
JSON_COLUMNS = frozenset(
    name for name in CONTENT_COLUMNS if NotificationContent._meta.get_field(name).get_internal_type() == "JSONField"
)
ITEM_COLUMNS: list[str] = _columns(NewNotification)  # the notification's, its content's id among them
STATE_COLUMNS: list[str] = _columns(Settled)

# An array parameter's type in `unnest(%b::<type>[])`, from the model field's type.
_ARRAY_TYPES = {
    "JSONField": "jsonb",
    "PositiveIntegerField": "int",
    "IntegerField": "int",
    "DateTimeField": "timestamptz",
    "ForeignKey": "bigint",
    "BigAutoField": "bigint",
}


def array_type(column: str, model: type[Notification | NotificationContent] = Notification) -> str:
    return _ARRAY_TYPES.get(model._meta.get_field(column).get_internal_type(), "text")


def content_from_row(row: dict[str, Any]) -> Content:
    """A Content from a notification's row joined to its content's (CONTENT_COLUMNS and ON_NOTIFICATION by name)."""
    return Content(**{name: row[name] for name in (*CONTENT_COLUMNS, *ON_NOTIFICATION)})


def item_from_row(row: dict[str, Any], content: Content) -> NewNotification:
    """A NewNotification from a row read by column name (ITEM_COLUMNS), with its content already made."""
    said = {*ON_NOTIFICATION, "content_id"}
    return NewNotification(**{name: row[name] for name in ITEM_COLUMNS if name not in said}, content=content)
