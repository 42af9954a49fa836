"""How long a segment's audience size takes to count, as the admin form refreshes it.

    .venv/bin/python -m bench.audience [--devices 1000000] [--runs 5]

Builds a synthetic shop in the benchmark database with SQL (two devices per shopper: Android, iOS and
web; five locales and time zones; app versions; last seen over 90 days; 5% inactive) and attributes
for half the shoppers (city, lifetime orders, VIP flag, last order date), then counts segments of
each kind of condition through `audience.selectors.audience_size`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.stack import empty_tables, prepare_database

DEVICES_SQL = """
INSERT INTO devices_device (user_id, platform, provider, token, locale, timezone, app_id, app_version,
    web_push_p256dh, web_push_auth, last_seen_at, created_at, is_active, deactivated_at, deactivation_reason)
SELECT 'u' || lpad((g / 2)::text, 8, '0'), (ARRAY['android','ios','web'])[1 + mod(g, 3)],
       (ARRAY['fcm','apns','webpush'])[1 + mod(g, 3)], 'synthetic-' || g,
       (ARRAY['en-GB','de-DE','fr-FR','es-ES','de-AT'])[1 + mod(g, 5)],
       (ARRAY['Europe/London','Europe/Berlin','Europe/Paris','America/New_York','Asia/Tokyo'])[1 + mod(g, 5)],
       'shop', (ARRAY['4.1.0','4.2.3','4.12.0','3.9'])[1 + mod(g, 4)], '', '',
       now() - (mod(g, 90)) * interval '1 day', now(), mod(g, 20) <> 0,
       CASE WHEN mod(g, 20) = 0 THEN now() END, CASE WHEN mod(g, 20) = 0 THEN 'stale' ELSE '' END
FROM generate_series(0, %s - 1) AS g
"""
PROFILES_SQL = """
INSERT INTO audience_shopperprofile (user_id, attributes, updated_at)
SELECT 'u' || lpad(g::text, 8, '0'),
       jsonb_build_object('city', (ARRAY['Berlin','Hamburg','Paris','London','Madrid'])[1 + mod(g, 5)],
                          'lifetime_orders', mod(g, 40), 'vip', mod(g, 10) = 0,
                          'last_order_date', to_char(date '2026-01-01' + (mod(g, 330)), 'YYYY-MM-DD')), now()
FROM generate_series(0, %s / 4 - 1) AS g
"""

SEGMENTS = {
    "everyone": ("all", []),
    "iOS, app ≥ 4.2, seen in 30 days": (
        "all",
        [("platform", "", "eq", "ios"), ("app_version", "", "gte", "4.2"), ("last_seen_days", "", "within", "30")],
    ),
    "German-speaking Berliners or Hamburgers": (
        "all",
        [("locale", "", "in", "de"), ("attribute", "city", "in", "Berlin, Hamburg")],
    ),
    "VIPs or 30+ orders": ("any", [("attribute", "vip", "eq", "true"), ("attribute", "lifetime_orders", "gte", "30")]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    prepare_database()
    from django.db import connection

    from audience.models import Segment, SegmentCondition
    from audience.selectors import audience_size
    from devices.models import Device

    if Device.objects.filter(token__startswith="synthetic-").count() != args.devices:
        print(f"Building {args.devices:,} devices…", flush=True)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            empty_tables("devices_device", "audience_shopperprofile")
            cursor.execute(DEVICES_SQL, [args.devices])
            cursor.execute(PROFILES_SQL, [args.devices])
            cursor.execute("VACUUM ANALYZE devices_device" if connection.get_autocommit() else "ANALYZE devices_device")
            cursor.execute("ANALYZE audience_shopperprofile")
        print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)

    print(f"Audience size of a segment over {args.devices:,} devices ({args.runs} runs each):")
    for name, (match, rules) in SEGMENTS.items():
        segment = Segment(name=name, match=match)
        conditions = [SegmentCondition(field=f, attribute=a, operator=o, value=v) for f, a, o, v in rules]
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            size = audience_size(segment, conditions)
            timings.append(time.perf_counter() - started)
        print(
            f"  {name}: {size.users:,} shoppers, {size.devices:,} devices — "
            f"median {statistics.median(timings) * 1000:.0f} ms (best {min(timings) * 1000:.0f}, "
            f"worst {max(timings) * 1000:.0f})"
        )


if __name__ == "__main__":
    main()
