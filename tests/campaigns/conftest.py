from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audience.models import Segment, SegmentCondition, ShopperProfile
from devices.models import Device
from tests.engine.conftest import engine, shopper  # noqa: F401 - fixtures shared with the engine's tests


def device(user_id: str, *, platform: str = "android", **fields: object) -> Device:
    provider = {"android": "fcm", "ios": "apns", "web": "webpush"}[platform]
    fields.setdefault("token", f"ok-{user_id}-{platform}-{Device.objects.count()}")
    return Device.objects.create(user_id=user_id, platform=platform, provider=provider, **fields)


def segment(name: str, *rules: tuple[str, str, str, str], match: str = "all") -> Segment:
    made = Segment.objects.create(name=name, match=match)
    for field, attribute, operator, value in rules:
        SegmentCondition.objects.create(segment=made, field=field, attribute=attribute, operator=operator, value=value)
    return made


@pytest.fixture
def shop(db):  # type: ignore[no-untyped-def]
    """Eight shoppers with known devices and attributes."""
    old = timezone.now() - timedelta(days=60)
    device("anna", platform="ios", locale="de-DE", app_version="4.12.0")
    device("anna", platform="android", locale="de-DE", app_version="4.1.0")
    device("ben", platform="ios", locale="en-GB", app_version="4.2.0")
    device("chloe", platform="android", locale="fr-FR", app_version="5.0")
    device("dev", platform="web", locale="de-AT")
    device("emil", platform="ios", locale="de-DE", app_version="3.9")
    device("fay", platform="android", locale="en-GB", app_version="4.2.1", last_seen_at=old)
    device("gus", platform="ios", locale="de-DE", app_version="4.3", is_active=False, deactivated_at=old)
    ShopperProfile.objects.create(user_id="anna", attributes={"city": "Berlin", "lifetime_orders": 12, "vip": True})
    ShopperProfile.objects.create(user_id="ben", attributes={"city": "London", "lifetime_orders": 3})
    ShopperProfile.objects.create(user_id="chloe", attributes={"city": "Paris", "last_order_date": "2026-11-20"})
    ShopperProfile.objects.create(user_id="dev", attributes={"city": "Vienna", "lifetime_orders": "40"})
    ShopperProfile.objects.create(user_id="gus", attributes={"city": "Berlin"})
