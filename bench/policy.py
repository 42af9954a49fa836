"""What shopper protection costs per notification, in a batch of 1,000 (as prepare_deliveries calls it).

    .venv/bin/python -m bench.policy [--batch 1000] [--runs 7]

On the benchmark's database and Redis. Each run judges a batch of marketing notifications to a batch of
new shoppers with one device each; a third of them have stored preferences. The check is everything
`protection.policy.judge` does: one query for the preferences, one for the caps, the quiet-hours
arithmetic and one pipelined Redis round trip running the caps/de-duplication script for every user.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.stack import prepare_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    prepare_database()

    from devices.models import Device
    from devices.token_cache import tokens_for_users
    from notifications.models import Notification, NotificationStatus
    from preferences.models import Preference
    from protection import policy

    Notification.objects.all().delete()
    Device.objects.filter(user_id__startswith="policy-").delete()
    Preference.objects.filter(user_id__startswith="policy-").delete()
    timings = []
    verdicts: dict[str, int] = {}
    for run in range(args.runs + 1):  # the first warms up connections, the script cache and imports
        users = [f"policy-{run}-{i}" for i in range(args.batch)]
        Device.objects.bulk_create(
            Device(user_id=u, platform="android", provider="fcm", token=f"policy-{run}-{i}", timezone="Europe/Berlin")
            for i, u in enumerate(users)
        )
        Preference.objects.bulk_create(
            Preference(user_id=u, disabled_categories=["price_drops"], quiet_hours_enabled=False) for u in users[::3]
        )
        notifications = Notification.objects.bulk_create(
            Notification(
                user_id=u,
                title="Weekend deals",
                body="-20% on fruit",
                category="promotions",
                source="api",
                status=NotificationStatus.PENDING,
                template_key="weekend_deals",
                dedup_key="weekend_deals:week-48",
                dedup_seconds=3600,
            )
            for u in users
        )
        notifications = list(Notification.objects.filter(pk__in=[n.pk for n in notifications]))
        devices = tokens_for_users(users)
        started = time.perf_counter()
        judged = policy.judge(notifications, devices)
        elapsed = time.perf_counter() - started
        if run:
            timings.append(elapsed / len(notifications) * 1e6)
            for verdict in judged.values():
                verdicts[verdict.action] = verdicts.get(verdict.action, 0) + 1
    print(f"Shopper protection, batches of {args.batch} notifications, {args.runs} runs:")
    print(
        f"  median {statistics.median(timings):.1f} µs per notification "
        f"(best {min(timings):.1f}, worst {max(timings):.1f}); verdicts {verdicts}"
    )


if __name__ == "__main__":
    main()
