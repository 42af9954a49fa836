"""The Redis token cache stays in step with PostgreSQL, and refills itself when Redis forgets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config import redis_client
from devices import services, token_cache
from devices.models import DeactivationReason, Device
from devices.tasks import deactivate_stale_devices
from devices.token_cache import tokens_for_users

pytestmark = pytest.mark.django_db(transaction=True)


def make_devices(users: int, per_user: int = 2) -> None:
    Device.objects.bulk_create(
        Device(user_id=f"u{u}", platform="android", provider="fcm", token=f"tok-{u}-{d}", locale="en-GB")
        for u in range(users)
        for d in range(per_user)
    )


def tokens_of(user_id: str) -> set[str]:
    return {t.token for t in tokens_for_users([user_id])[user_id]}


def test_reading_1000_warm_users_needs_no_database(django_assert_num_queries):
    make_devices(1000)
    users = [f"u{u}" for u in range(1000)]
    cold = tokens_for_users(users)  # fills the cache from the database, in one query
    with django_assert_num_queries(0):
        warm = tokens_for_users(users)
    assert warm == cold
    assert len(warm) == 1000
    assert {t.token for t in warm["u7"]} == {"tok-7-0", "tok-7-1"}
    assert warm["u7"][0].device_id == Device.objects.get(token=warm["u7"][0].token).pk


def test_a_cold_read_fills_the_cache_with_one_query(django_assert_num_queries):
    make_devices(200)
    with django_assert_num_queries(1):
        tokens_for_users([f"u{u}" for u in range(200)])


def test_a_bulk_read_reads_misses_without_caching_them(clean_redis, django_assert_num_queries):
    make_devices(50)
    users = [f"u{u}" for u in range(50)]
    tokens_for_users(users[:10])  # these ten are cached
    with django_assert_num_queries(1):
        bulk = tokens_for_users(users, fill=False)
    assert {t.token for t in bulk["u42"]} == {"tok-42-0", "tok-42-1"}
    assert bulk == tokens_for_users(users)  # the same as a normal read
    cached = {key.decode().rsplit(":", 1)[1] for key in clean_redis.scan_iter("*:u:*")}
    assert cached == set(users)  # the normal read filled what the bulk read left uncached
    clean_redis.flushdb()
    tokens_for_users(users, fill=False)
    assert not list(clean_redis.scan_iter("*:u:*"))


def test_users_without_devices_are_cached_as_empty(django_assert_num_queries):
    assert tokens_for_users(["nobody"]) == {"nobody": []}
    with django_assert_num_queries(0):
        assert tokens_for_users(["nobody"]) == {"nobody": []}


def test_flushdb_loses_nothing(clean_redis):
    make_devices(5)
    before = tokens_for_users([f"u{u}" for u in range(5)])
    clean_redis.flushdb()
    assert tokens_for_users([f"u{u}" for u in range(5)]) == before


def test_changes_are_visible_in_the_cache_at_once():
    services.register_device(user_id="alice", platform="android", token="a1")
    assert tokens_of("alice") == {"a1"}  # warm now
    services.register_device(user_id="alice", platform="ios", token="a2")
    assert tokens_of("alice") == {"a1", "a2"}
    services.register_device(user_id="bob", platform="ios", token="a2")  # moved
    assert tokens_of("alice") == {"a1"}
    assert tokens_of("bob") == {"a2"}
    services.update_device(user_id="alice", token="a1", timezone="Asia/Tokyo")
    assert tokens_for_users(["alice"])["alice"][0].timezone == "Asia/Tokyo"
    services.unregister_device(user_id="alice", token="a1")
    assert tokens_of("alice") == set()


def test_provider_unregistered_tokens_are_deactivated_in_database_and_cache():
    make_devices(3)
    tokens_for_users(["u0", "u1", "u2"])
    assert services.deactivate_tokens(["tok-0-0", "tok-1-1", "no-such-token"]) == 2
    assert tokens_of("u0") == {"tok-0-1"}
    assert tokens_of("u1") == {"tok-1-0"}
    assert tokens_of("u2") == {"tok-2-0", "tok-2-1"}
    device = Device.objects.get(token="tok-0-0")
    assert (device.is_active, device.deactivation_reason) == (False, DeactivationReason.PROVIDER_UNREGISTERED)
    assert device.deactivated_at is not None
    assert services.deactivate_tokens(["tok-0-0"]) == 0  # idempotent


def test_a_fill_that_raced_with_a_change_does_not_win(clean_redis):
    """A reader loads the database, a change commits and rewrites the cache, then the
    reader's (stale) fill arrives: it must not overwrite the fresher entry."""
    services.register_device(user_id="alice", platform="android", token="old")
    clean_redis.flushdb()
    stale_generation = ""  # what the reader saw before loading
    stale = token_cache._load_from_database(["alice"])
    services.register_device(user_id="alice", platform="android", token="new")
    pipe = redis_client.client().pipeline(transaction=False)
    token_cache._write(pipe, "alice", stale_generation, stale["alice"], mode="fill")
    assert pipe.execute() == [0]
    assert tokens_of("alice") == {"old", "new"}


def test_stale_devices_are_deactivated_by_the_beat_task():
    make_devices(3, per_user=1)
    Device.objects.filter(user_id__in=["u0", "u1"]).update(last_seen_at=timezone.now() - timedelta(days=61))
    Device.objects.filter(user_id="u1").update(last_seen_at=timezone.now() - timedelta(days=59))
    tokens_for_users(["u0", "u1", "u2"])

    assert deactivate_stale_devices.apply().get() == 1
    assert tokens_of("u0") == set()
    assert tokens_of("u1") == {"tok-1-0"}
    assert Device.objects.get(user_id="u0").deactivation_reason == DeactivationReason.STALE
    assert deactivate_stale_devices.apply().get() == 0


def test_stale_period_is_configurable(settings):
    settings.DEVICE_STALE_AFTER_DAYS = 7
    make_devices(1, per_user=1)
    Device.objects.update(last_seen_at=timezone.now() - timedelta(days=8))
    assert services.deactivate_stale_devices() == 1


def test_concurrent_registrations_of_one_token_make_one_device():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def register(user: str) -> str:
        try:
            return services.register_device(user_id=user, platform="android", token="contested").registration.value
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(register, [f"user{i}" for i in range(8)]))
    assert outcomes.count("created") == 1
    assert Device.objects.filter(token="contested").count() == 1
    owner = Device.objects.get(token="contested").user_id
    assert tokens_of(owner) == {"contested"}
    assert all(tokens_of(f"user{i}") == set() for i in range(8) if f"user{i}" != owner)
