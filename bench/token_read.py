"""Reading the live tokens of 1,000 users: Redis cache (one pipelined round trip) vs PostgreSQL.

    .venv/bin/python -m bench.token_read [--users 1000] [--devices-per-user 2] [--runs 50]

Uses the development database and Redis (DATABASE_URL, REDIS_URL) with its own
user ids (`bench-tr-*`), removed again at the end. Prints medians and p95s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--devices-per-user", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from devices import token_cache
    from devices.models import Device

    users = [f"bench-tr-{i}" for i in range(args.users)]
    Device.objects.filter(user_id__startswith="bench-tr-").delete()
    Device.objects.bulk_create(
        Device(
            user_id=user,
            platform="android" if d % 2 == 0 else "ios",
            provider="fcm" if d % 2 == 0 else "apns",
            token=f"bench-tr-{user}-{d}",
            locale="en-GB",
            timezone="Europe/London",
        )
        for user in users
        for d in range(args.devices_per_user)
    )
    connection.ensure_connection()
    try:
        token_cache.refresh_users(users)  # warm, as after registrations

        def timed(read) -> list[float]:  # type: ignore[no-untyped-def]
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = read()
                samples.append((time.perf_counter() - start) * 1000)
                assert sum(len(v) for v in result.values()) == args.users * args.devices_per_user
            return samples

        redis_ms = timed(lambda: token_cache.tokens_for_users(users))
        postgres_ms = timed(lambda: token_cache._load_from_database(users))
    finally:
        Device.objects.filter(user_id__startswith="bench-tr-").delete()
        token_cache.refresh_users(users)

    def line(name: str, samples: list[float]) -> str:
        p95 = statistics.quantiles(samples, n=20)[-1]
        return f"{name:<28} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms"

    print(f"tokens of {args.users} users x {args.devices_per_user} devices, {args.runs} runs each")
    print(line("Redis (tokens_for_users)", redis_ms))
    print(line("PostgreSQL (one query)", postgres_ms))


if __name__ == "__main__":
    main()
