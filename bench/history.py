"""Pages and fan-out with a month of history in the database (issue 20, item 5): `python -m bench.history`.

    .venv/bin/python -m bench.history [--deliveries 10000000] [--days 30] [--reuse] [--skip-fanout]
                                      [--skip-retention] [--requests 20] [--fanout-devices 20000]

Seeds the benchmark database (bench.stack) with a shop's history, by set-based SQL (INSERT … SELECT over
generate_series: about 30 s a million rows here, where the engine's own path would take hours):
  shoppers      deliveries / 50 of them (at least 1,000), 1.3 devices each in the benchmark's platform mix (Android
                60%, iOS 30%, web 10%), FCM-length tokens (163 characters), 3% of devices deactivated
  campaigns     a few hundred (deliveries / 40,000, 20 to 300), half of them A/B, a quarter weekly; their runs
                fan out at 50,000 a minute, each notification carrying its variant's content as the engine renders
                it (campaigns.messages.render_for: title, body, image, deep link, data, translations)
  events        order updates, cart updates, checkouts (the campaigns' conversion event), restocks and price
                drops, processed as the shipped rules do; the notifications those rules make (order updates,
                abandoned-cart reminders, most of them cancelled by a checkout, restocks, price drops)
  API sends     direct order updates through the notifications API
  deliveries    one per active device of each notification sent; 95% delivered at once, 3% after 2-3 attempts,
                1.5% token invalid, 1% failed (permanently, or after 6 attempts) with their failed-delivery records;
                every attempt, with provider codes, message ids and latencies as the providers answer
  opens         5% of campaign pushes, 8% of the others
spread over the days with a daily and hourly shape (evenings high, nights low, weekends +25%), ending 20 minutes
ago. Then VACUUM ANALYZE, and the hourly rollups' catch-up over the whole history (analytics.rollup), timed.
With --reuse, the history in place is kept. $BENCH_DATABASE and $BENCH_REDIS put it on another database (bench.stack).

Then it measures, with that history in place:
  rollups    each rollup source's cost over the last 3 whole days, as the catch-up counts them (hour by hour), in a
             transaction rolled back: seconds a day of history, µs a delivery
  fanout     a 20,000-device campaign sent in this process as a marketing worker sends it (fan-out pages, then each
             batch: bench.pipeline_cpu's loop), three rounds, before the history is seeded and after: deliveries a
             minute and CPU per delivery of this process and of its PostgreSQL backend
  pages      each page support and marketers use, in-process through Django's test client, logged in as an
             Administrator (Support for the shopper page): p50, p95 and max of --requests requests after one
             warm-up; for each page over 200 ms, EXPLAIN ANALYZE of its slowest statement
  bytes      pg_total_relation_size (tables, indexes, TOAST; all partitions) of each table over its rows
  retention  dropping the oldest day as the retention job does (each table's day partition detached CONCURRENTLY
             and dropped) while another connection inserts: time, WAL, the inserts' slowest. It leaves the history
             a day shorter.
Results: bench/results/history-latest.{json,md}, and the table printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection

from bench.measure import cpu_seconds, percentile
from bench.sizes import relation_bytes
from config import partitions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# The tables the history fills; TRUNCATE … CASCADE empties them (and every table pointing at them) in one statement.
HISTORY_TABLES = (
    "notifications_deliveryattempt",
    "notifications_faileddelivery",
    "notifications_delivery",
    "notifications_notification",
    "notifications_notificationcontent",
    "campaigns_campaignbatch",
    "campaigns_campaignrun",
    "campaigns_campaignvariant",
    "campaigns_campaign",
    "events_event",
    "events_eventkey",
    "analytics_hourlyrollup",
    "analytics_rollupwatermark",
    "devices_device",
)
# Partitioned by day (config.partitions): the history's days get their partitions before it is seeded.
PARTITIONED_TABLES = (
    "notifications_notificationcontent",
    "notifications_notification",
    "notifications_delivery",
    "notifications_deliveryattempt",
    "events_event",
)
SIZED_TABLES = (
    "notifications_notification",
    "notifications_notificationcontent",
    "notifications_delivery",
    "notifications_deliveryattempt",
    "notifications_faileddelivery",
    "events_event",
    "analytics_hourlyrollup",
)
SHOPPER_PREFIX = "customer-"  # the history's shoppers; the fan-out's are bench.scenarios.SHOP_SQL's "shopper-…"
FANOUT_CAMPAIGN = "History: fan-out check"
PAGE_BOUND_MS = 200  # the bound on each page's p95

# Shares of the pushes sent (notifications with deliveries), by where they come from.
CAMPAIGN_SHARE, EVENT_SHARE, API_SHARE = 0.80, 0.13, 0.07
# Sent notifications per event, as the kinds below make them: orders 45% (12% cancelled or delayed), carts 25%
# (45% of the reminders sent, the rest cancelled by a checkout), restocks 5%, price drops 5% (70% ≥ 10% off).
EVENT_SENDS_PER_EVENT = 0.45 * 0.12 + 0.25 * 0.45 + 0.05 * 0.97 + 0.05 * 0.70 * 0.97
CAMPAIGN_SUPPRESSED = 0.04  # held back by shopper protection (caps 3%, opted out 1%)
# Traffic by UTC hour of the day (a European grocery shop): low at night, peaks at lunch and in the evening.
HOUR_WEIGHTS = [
    0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.5, 1.5, 1.4, 1.4,
    1.5, 1.4, 1.3, 1.4, 1.6, 1.9, 2.1, 2.0, 1.7, 1.2, 0.7, 0.4,
]  # fmt: skip
CAMPAIGN_SECONDS_PER_PUSH = 60 / 50_000  # a run fans out at 50,000 a minute


@dataclass(frozen=True)
class Plan:
    """What to seed: at least `deliveries` deliveries over the `days` days before `end`."""

    deliveries: int
    days: int
    end: datetime

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def shoppers(self) -> int:
        return max(1000, self.deliveries // 50)

    @property
    def campaigns(self) -> int:
        return max(20, min(300, self.deliveries // 40_000))

    def params(self, **more: object) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "shoppers": self.shoppers, **more}


def _hash(expression: str, modulo: int) -> str:
    """SQL: a stable pseudo-random 0 … modulo-1 from an integer expression (hashint4 can be negative)."""
    return f"mod(hashint4({expression})::bigint + 2147483648, {modulo})"


def _fcm_token(g: str) -> str:
    """SQL: an FCM registration token's shape and length (163 characters), unique per `g`."""
    parts = " || ".join(f"md5('{salt}' || {g})" for salt in ("fc", "fd", "fe", "ff", "fg"))
    return f"substr(md5('fa' || {g}), 1, 11) || substr(md5('fb' || {g}), 1, 11) || ':APA91b' || substr({parts}, 1, 134)"


# --- Seeding ----------------------------------------------------------------------------------------------------

_DEVICES = f"""
INSERT INTO devices_device (user_id, platform, provider, token, locale, timezone, app_id, app_version,
    web_push_p256dh, web_push_auth, last_seen_at, created_at, is_active, deactivated_at, deactivation_reason)
SELECT '{SHOPPER_PREFIX}' || lpad(s::text, 7, '0'), platform,
       CASE platform WHEN 'android' THEN 'fcm' WHEN 'ios' THEN 'apns' ELSE 'webpush' END,
       CASE platform WHEN 'android' THEN {_fcm_token("g")}
                     WHEN 'ios' THEN md5('apns' || g) || md5('apns2' || g)
                     ELSE 'https://fcm.googleapis.com/fcm/send/' || {_fcm_token("g")} END,
       (ARRAY['en-GB','de-DE','fr-FR','es-ES','de-AT'])[1 + mod(s, 5)],
       (ARRAY['Europe/London','Europe/Berlin','Europe/Paris','Europe/Madrid','Europe/Vienna'])[1 + mod(s, 5)],
       'shop', CASE WHEN platform = 'web' THEN '' ELSE (ARRAY['4.1.3','4.1.0','4.0.9','3.9.2'])[1 + mod(g, 4)] END,
       CASE WHEN platform = 'web' THEN 'B' || substr(md5('p' || g) || md5('q' || g) || md5('r' || g), 1, 86)
            ELSE '' END,
       CASE WHEN platform = 'web' THEN substr(md5('auth' || g), 1, 22) ELSE '' END,
       %(end)s - mod(g, 45) * interval '1 day', %(start)s - (30 + mod(g, 400)) * interval '1 day',
       NOT inactive, CASE WHEN inactive THEN %(start)s - interval '1 day' END,
       CASE WHEN inactive THEN 'provider_unregistered' ELSE '' END
FROM (
    SELECT s, g, {_hash("g + 17", 100)} < 3 AS inactive,
           CASE WHEN {_hash("g", 10)} < 6 THEN 'android' WHEN {_hash("g", 10)} < 9 THEN 'ios' ELSE 'web' END AS platform
    FROM (SELECT s, 2 * s + k AS g FROM generate_series(0, %(shoppers)s - 1) AS s, generate_series(0, 1) AS k
          WHERE k = 0 OR mod(s, 10) < 3) AS numbered
) AS x
"""

# The seeding's working tables (temporary, this connection only): shoppers by number, hours with their share of
# the traffic, the contents sent (one per campaign variant; one per kind of event or API send, "__REF__" standing for
# the order, cart or product), and the campaign runs.
_SHOPPERS = [
    f"""CREATE TEMP TABLE h_shopper AS
    SELECT substr(user_id, {len(SHOPPER_PREFIX) + 1})::int AS s, user_id, count(*) FILTER (WHERE is_active) AS active
    FROM devices_device WHERE starts_with(user_id, '{SHOPPER_PREFIX}') GROUP BY user_id""",
    "ALTER TABLE h_shopper ADD PRIMARY KEY (s)",
    "ANALYZE h_shopper",
]
_HOURS = """
CREATE TEMP TABLE h_hour AS
SELECT lo, hi, w * extract(epoch FROM hi - lo) / sum(w * extract(epoch FROM hi - lo)) OVER () AS share
FROM (
    SELECT greatest(at, %(start)s) AS lo, least(at + interval '1 hour', %(end)s) AS hi,
           (%(weights)s::float8[])[1 + extract(hour FROM at AT TIME ZONE 'UTC')::int]
           * CASE WHEN extract(isodow FROM at AT TIME ZONE 'UTC') >= 6 THEN 1.25 ELSE 1 END AS w
    FROM generate_series(date_trunc('hour', %(start)s::timestamptz, 'UTC'), %(end)s, interval '1 hour') AS at
) AS hours WHERE hi > lo
"""
_CONTENT_COLUMNS = (
    "title, body, image, deep_link, data, translations, template_key, category, priority, ttl_seconds, collapse_key, "
    "dedup_key, dedup_seconds, frequency_caps"
)
_CONTENTS = [
    """CREATE TEMP TABLE h_content (key text PRIMARY KEY, title text, body text, image text, deep_link text,
    data jsonb, translations jsonb, template_key text, category text, priority text, ttl_seconds int,
    collapse_key text, dedup_key text, dedup_seconds int, frequency_caps jsonb, content_id bigint)""",
    "CREATE TEMP TABLE h_run (run_id bigint, campaign_id bigint, ab boolean, started_at timestamptz, n int, first int)",
]


def _ref(column: str, ref: str) -> str:
    """SQL: a content column with its placeholder replaced by the row's reference (JSON columns re-parsed)."""
    if column in ("data", "translations"):
        return f"replace(c.{column}::text, '__REF__', {ref})::jsonb"
    return f"replace(c.{column}, '__REF__', {ref})"


# The content table's columns (notifications.records.CONTENT_COLUMNS); category is the notification's.
_STORED_CONTENT = _CONTENT_COLUMNS.replace("category, ", "")
_NOTIFICATION_COLUMNS = (
    "user_id, content_id, category, source, source_ref, send_at, trigger_key, status, status_reason, policy, "
    "variant, opened_at, created_at, updated_at"
)
_REF_CONTENT = ", ".join(
    _ref(name, "x.ref") if name in ("title", "body", "deep_link", "data", "translations", "collapse_key", "dedup_key")
    else f"c.{name}"
    for name in _STORED_CONTENT.split(", ")
)  # fmt: skip
# An event's or API send's own content row, its id the notification's (both from the notifications' sequence, so
# that no two collide; the contents' sequence is moved past them afterwards). A campaign variant's is shared.
_OWN_CONTENT = f"""
INSERT INTO notifications_notificationcontent (id, {_STORED_CONTENT}, created_at)
SELECT x.nid, {_REF_CONTENT}, x.at FROM {{rows}} AS x JOIN h_content AS c ON c.key = x.content
"""


# Seeded rows' ids carry their row's day, as the engine's do (config.partitions), in the upper half of the day's
# range: the engine's sequences stay far below 5 * 10^9, so `_seeded` tells the history's rows from the fan-out
# check's.
def _seeded(column: str) -> str:
    return f"mod({column}, {partitions.DAY_SPAN}) >= {partitions.DAY_SPAN // 2}"


def _seed_id(at: str, sequence: str) -> str:
    """SQL: an id for a row of the history written at `at`, from the sequence named by parameter `sequence`."""
    return (
        f"(floor(extract(epoch FROM {at}) / 86400)::bigint * {partitions.DAY_SPAN} + {partitions.DAY_SPAN // 2}"
        f" + nextval(%({sequence})s::regclass))"
    )


# The shipped rule that makes each content (events/migrations/0002_shipped_rules.py), as event outcomes name it.
RULE_NAMES = {
    "order_cancelled": "Order cancelled",
    "order_delayed": "Order delayed",
    "abandoned_cart": "Abandoned cart",
    "product_restocked": "Product restocked",
    "favourite_discounted": "Favourite discounted",
}
_RULE_NAME = "CASE x.content " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in RULE_NAMES.items()) + " END"

# Events and the notifications the shipped rules made of them, in one statement: the ids are taken first, so that
# each event's outcome names its notification, as events.triggers writes it.
_EVENTS = f"""
WITH src AS MATERIALIZED (
    SELECT x.*, CASE WHEN x.content <> '' THEN {_seed_id("x.at", "notification_seq")} END AS nid
    FROM (
        SELECT y.*, (1000000 + y.eid)::text AS ref, CASE
                WHEN y.type = 'order_status_changed' AND y.status = 'cancelled' THEN 'order_cancelled'
                WHEN y.type = 'order_status_changed' AND y.status = 'delayed' THEN 'order_delayed'
                WHEN y.type = 'cart_updated' THEN 'abandoned_cart'
                WHEN y.type = 'product_restocked' THEN 'product_restocked'
                WHEN y.type = 'price_dropped' AND y.discount >= 10 THEN 'favourite_discounted'
                ELSE '' END AS content
        FROM (
            SELECT {_seed_id("at", "event_seq")} AS eid, at, s, u3, u4, u5,
                   CASE WHEN u < 0.45 THEN 'order_status_changed' WHEN u < 0.70 THEN 'cart_updated'
                        WHEN u < 0.90 THEN 'checkout_completed' WHEN u < 0.95 THEN 'product_restocked'
                        ELSE 'price_dropped' END AS type,
                   CASE WHEN u2 < 0.04 THEN 'cancelled' WHEN u2 < 0.12 THEN 'delayed'
                        ELSE (ARRAY['confirmed','picking','out_for_delivery','delivered'])[1 + floor(u3 * 4)::int]
                        END AS status,
                   (ARRAY[5, 10, 15, 20, 25, 30])[1 + floor(u4 * 6)::int] AS discount
            FROM (
                SELECT h.lo + random() * (h.hi - h.lo) AS at, floor(random() * %(shoppers)s)::int AS s,
                       random() AS u, random() AS u2, random() AS u3, random() AS u4, random() AS u5
                FROM h_hour AS h CROSS JOIN LATERAL generate_series(1, round(%(n)s * h.share)::int) AS i
                ORDER BY 1
            ) AS drawn
        ) AS y
    ) AS x
), ev AS (
    INSERT INTO events_event (id, producer, idempotency_key, type, user_id, occurred_at, received_at, data,
        attributes, status, outcome, processed_at)
    SELECT x.eid, CASE WHEN x.type IN ('order_status_changed', 'checkout_completed') THEN 'key:ord3rsvc'
                       ELSE 'kafka:pushcart.events' END,
           CASE WHEN x.type IN ('order_status_changed', 'checkout_completed')
                THEN x.type || '-' || x.ref || '-' || x.status ELSE 'pushcart.events/' || mod(x.eid, 6) || '/' || x.eid
           END,
           x.type, sh.user_id, x.at - interval '150 ms', x.at,
           CASE x.type
               WHEN 'order_status_changed' THEN jsonb_build_object('order_id', x.ref, 'status', x.status)
                   || CASE x.status WHEN 'cancelled' THEN '{{"reason": "payment declined"}}'::jsonb
                                    WHEN 'delayed' THEN '{{"new_eta": "18:00-19:00"}}'::jsonb ELSE '{{}}'::jsonb END
               WHEN 'cart_updated' THEN jsonb_build_object('cart_id', x.ref, 'item_count', 1 + floor(x.u3 * 12)::int,
                   'first_item', (ARRAY['Oat milk','Sourdough loaf','Free-range eggs','Bananas','Greek yoghurt'])
                   [1 + mod(x.eid, 5)::int])
               WHEN 'checkout_completed' THEN jsonb_build_object('cart_id', x.ref, 'order_id', x.ref,
                   'total', round((12 + x.u3 * 90)::numeric, 2)::text, 'currency', 'EUR')
               WHEN 'product_restocked' THEN jsonb_build_object('product_id', 'sku-' || x.ref,
                   'product_name', 'Sourdough loaf')
               ELSE jsonb_build_object('product_id', 'sku-' || x.ref, 'product_name', 'Greek yoghurt',
                   'old_price', '3.49', 'new_price', '2.79', 'currency', 'EUR', 'discount_percent', x.discount)
           END,
           '{{}}'::jsonb,
           CASE WHEN x.nid IS NOT NULL OR x.type = 'checkout_completed' THEN 'processed' ELSE 'no_rule' END,
           CASE WHEN x.type = 'cart_updated'
                    THEN 'Abandoned cart: notification #' || x.nid || ' waits until '
                         || to_char((x.at + interval '30 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                         || ' UTC.'
                WHEN x.nid IS NOT NULL
                    THEN {_RULE_NAME} || ': notification #' || x.nid || ' sent to the workers.'
                WHEN x.type = 'checkout_completed'
                    THEN 'Abandoned cart: the waiting send for cart_id=' || x.ref || ' was cancelled.'
                ELSE 'No active rule matches this event.' END,
           x.at + interval '40 ms'
    FROM src AS x JOIN h_shopper AS sh USING (s)
    ORDER BY x.eid
), contents AS ({_OWN_CONTENT.format(rows="(SELECT * FROM src WHERE nid IS NOT NULL)")})
INSERT INTO notifications_notification (id, {_NOTIFICATION_COLUMNS})
SELECT x.nid, x.user_id, x.nid, c.category, 'event', x.eid::text, x.send_at,
       CASE WHEN x.content = 'abandoned_cart' THEN 'rule-' || %(cart_rule)s || ':cart_id=' || x.ref ELSE '' END,
       x.state, CASE x.state
           WHEN 'cancelled' THEN 'Cancelled by checkout_completed for cart_id=' || x.ref || '.'
           WHEN 'suppressed' THEN 'The shopper switched off ''' || c.category || ''' notifications.' ELSE '' END,
       CASE WHEN x.state = 'suppressed' THEN 'opted_out' ELSE '' END, '',
       CASE WHEN x.state = 'sending' AND x.u5 < 0.08
                 AND coalesce(x.send_at, x.at) + x.u4 * interval '2 hours' < %(end)s
            THEN coalesce(x.send_at, x.at) + x.u4 * interval '2 hours' END,
       x.at + interval '30 ms',
       CASE x.state WHEN 'sending' THEN coalesce(x.send_at, x.at) + interval '90 ms'
                    WHEN 'cancelled' THEN x.at + x.u3 * interval '30 minutes' ELSE x.at + interval '30 ms' END
FROM (
    SELECT src.*, sh.user_id, send_at, CASE
            WHEN src.content = 'abandoned_cart' AND src.u5 < 0.55 THEN 'cancelled'
            WHEN send_at > %(end)s THEN 'scheduled'
            WHEN sh.active = 0 THEN 'no_device'
            WHEN src.content IN ('product_restocked', 'favourite_discounted', 'abandoned_cart') AND src.u4 < 0.03
                THEN 'suppressed'
            ELSE 'sending' END AS state
    FROM src JOIN h_shopper AS sh USING (s)
    CROSS JOIN LATERAL (SELECT CASE WHEN src.content = 'abandoned_cart' THEN src.at + interval '30 minutes' END
                        AS send_at) AS later
    WHERE src.nid IS NOT NULL
) AS x JOIN h_content AS c ON c.key = x.content
ORDER BY x.at
"""

_CAMPAIGN_NOTIFICATIONS = f"""
INSERT INTO notifications_notification (id, {_NOTIFICATION_COLUMNS})
SELECT {_seed_id("x.at", "notification_seq")},
       x.user_id, c.content_id, c.category, 'campaign', x.run_id::text, NULL, '', x.state,
       CASE WHEN x.state <> 'suppressed' THEN ''
            WHEN x.u < 0.03 THEN 'Frequency cap reached: 3 marketing push(es) per 1 day.'
            ELSE 'The shopper switched off ''' || c.category || ''' notifications.' END,
       CASE WHEN x.state <> 'suppressed' THEN '' WHEN x.u < 0.03 THEN 'capped' ELSE 'opted_out' END,
       x.variant,
       CASE WHEN x.state = 'sending' AND x.u2 < 0.05 AND x.at + x.u3 * interval '6 hours' < %(end)s
            THEN x.at + x.u3 * interval '6 hours' END,
       x.at, x.at + interval '800 ms'
FROM (
    SELECT y.*, CASE WHEN y.active = 0 THEN 'no_device' WHEN y.u < {CAMPAIGN_SUPPRESSED} THEN 'suppressed'
                     ELSE 'sending' END AS state,
           CASE WHEN NOT y.ab THEN '' WHEN (hashtext(y.user_id || ':' || y.campaign_id) & 1) = 0 THEN 'A'
                ELSE 'B' END AS variant
    FROM (
        SELECT r.run_id, r.campaign_id, r.ab, sh.user_id, sh.active,
               r.started_at + i * %(step)s * interval '1 second' AS at, random() AS u, random() AS u2, random() AS u3
        FROM h_run AS r CROSS JOIN LATERAL generate_series(0, r.n - 1) AS i
        JOIN h_shopper AS sh ON sh.s = mod(r.first + i, %(shoppers)s)
    ) AS y
) AS x JOIN h_content AS c ON c.key = 'c' || x.campaign_id || ':' || x.variant
ORDER BY x.at
"""

_API_NOTIFICATIONS = f"""
WITH drawn AS MATERIALIZED (
    SELECT {_seed_id("d.at", "notification_seq")} AS nid, d.* FROM (
        SELECT h.lo + random() * (h.hi - h.lo) AS at, floor(random() * %(shoppers)s)::int AS s,
               (2000000 + floor(random() * 9000000))::bigint::text AS ref, random() AS u, random() AS u2,
               CASE WHEN random() < 0.5 THEN 'api_rider' ELSE 'api_slot' END AS content
        FROM h_hour AS h CROSS JOIN LATERAL generate_series(1, round(%(n)s * h.share)::int) AS i
    ) AS d
), contents AS ({_OWN_CONTENT.format(rows="drawn")})
INSERT INTO notifications_notification (id, {_NOTIFICATION_COLUMNS})
SELECT x.nid, sh.user_id, x.nid, c.category, 'api', 'api-key:' || (1 + mod(x.s, 3)), NULL, '',
       CASE WHEN sh.active = 0 THEN 'no_device' ELSE 'sending' END, '', '', '',
       CASE WHEN sh.active > 0 AND x.u < 0.08 AND x.at + x.u2 * interval '1 hour' < %(end)s
            THEN x.at + x.u2 * interval '1 hour' END,
       x.at, x.at + interval '60 ms'
FROM drawn AS x JOIN h_shopper AS sh USING (s) JOIN h_content AS c ON c.key = x.content
ORDER BY x.at
"""

# What each provider answers, as providers/*.py record it: (code, text) per kind of outcome.
ANSWERS = {
    "retry": {
        "fcm": ("UNAVAILABLE", "The service is currently unavailable."),
        "apns": ("TooManyRequests", "TooManyRequests"),
        "webpush": ("429", "Too Many Requests"),
    },
    "token_invalid": {
        "fcm": ("UNREGISTERED", "Requested entity was not found."),
        "apns": ("Unregistered", "Unregistered"),
        "webpush": ("410", "push subscription has unsubscribed or expired."),
    },
    "permanent": {
        "fcm": ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        "apns": ("DeviceTokenNotForTopic", "DeviceTokenNotForTopic"),
        "webpush": ("400", "Bad Request"),
    },
}


def _answer(kind: str, part: int, provider: str) -> str:
    """SQL: the provider's code (part 0) or text (part 1) for an outcome kind given in SQL."""
    cases = " ".join(
        f"WHEN {kind} = '{k}' AND {provider} = '{p}' THEN '{answer[part]}'"
        for k, by_provider in ANSWERS.items()
        for p, answer in by_provider.items()
    )
    return f"CASE {cases} ELSE '' END"


# A delivery's attempts: the first 50-500 ms after the delivery was made, each retry after the engine's backoff
# (5 s doubling: 5, 10, 20 … after the first); each answered in 20-200 ms.
def _attempt_at(delivery: str, number: str) -> str:
    return (
        f"{delivery}.created_at + (50 + mod({delivery}.id, 450)) * interval '1 millisecond'"
        f" + 5 * (2 ^ ({number} - 1) - 1) * interval '1 second'"
    )


def _latency(delivery: str, number: str) -> str:
    return f"(20 + mod({delivery}.id * 7 + {number}, 180))"


# How a delivery ended (by its draw): the kind of its last answer, and its attempts.
_DELIVERY_KIND = """CASE WHEN u < 0.015 THEN 'token_invalid' WHEN u < 0.022 THEN 'permanent'
                         WHEN u < 0.025 THEN 'gave_up' WHEN u < 0.055 THEN 'retried' ELSE 'delivered' END"""

_DELIVERIES = f"""
INSERT INTO notifications_delivery (id, notification_id, device_id, provider, status, attempts,
    next_attempt_at, provider_message_id, last_error_code, last_error_text, updated_at)
SELECT x.id, x.nid, x.did, x.provider,
       CASE x.kind WHEN 'token_invalid' THEN 'token_invalid' WHEN 'permanent' THEN 'failed'
                   WHEN 'gave_up' THEN 'failed' ELSE 'delivered' END,
       x.attempts, NULL,
       -- As notifications.settling stores them: APNs' apns-id is the delivery's own, FCM's id without its project.
       CASE WHEN x.kind IN ('delivered', 'retried') THEN CASE x.provider
           WHEN 'apns' THEN ''
           WHEN 'fcm' THEN '0:' || floor(extract(epoch FROM x.created_at) * 1e6)::bigint
                           || '%%' || substr(md5(x.id::text), 1, 16)
           ELSE 'https://fcm.googleapis.com/0:' || floor(extract(epoch FROM x.created_at) * 1e6)::bigint || '%%'
                || substr(md5(x.id::text), 1, 16) END
       ELSE '' END,
       {_answer("x.answer", 0, "x.provider")}, {_answer("x.answer", 1, "x.provider")},
       x.last_at
FROM (
    SELECT y.*, {_attempt_at("y", "y.attempts")} + {_latency("y", "y.attempts")} * interval '1 millisecond' AS last_at,
           CASE y.kind WHEN 'gave_up' THEN 'retry' WHEN 'token_invalid' THEN 'token_invalid'
                       WHEN 'permanent' THEN 'permanent' ELSE '' END AS answer
    FROM (
        SELECT z.*, CASE z.kind WHEN 'gave_up' THEN %(max_attempts)s WHEN 'retried' THEN 2 + floor(z.u2 * 2)::int
                                ELSE 1 END AS attempts
        FROM (
            SELECT w.*, {_DELIVERY_KIND} AS kind FROM (
                -- Ids taken in time order, as the engine's are (and the rows written so).
                SELECT {_seed_id("v.created_at", "delivery_seq")} AS id, v.* FROM (
                    SELECT n.id AS nid, d.id AS did, d.provider,
                           coalesce(n.send_at, n.created_at) AS created_at, random() AS u, random() AS u2
                    FROM notifications_notification AS n
                    JOIN devices_device AS d ON d.user_id = n.user_id AND d.is_active
                    WHERE n.status = 'sending' AND {_seeded("n.id")}
                    ORDER BY created_at  -- time order: the engine writes deliveries as it sends them
                ) AS v
            ) AS w
        ) AS z
    ) AS y
) AS x
"""

_ATTEMPTS = f"""
INSERT INTO notifications_deliveryattempt (id, delivery_id, number, sent_at, outcome, provider_code, provider_text,
    latency_ms)
SELECT {_seed_id("x.sent_at", "attempt_seq")}, x.id, x.k, x.sent_at, x.outcome,
       {_answer("x.outcome", 0, "x.provider")}, {_answer("x.outcome", 1, "x.provider")}, x.latency
FROM (
    SELECT d.id, d.provider, k, {_attempt_at("d", "k")} AS sent_at, {_latency("d", "k")} AS latency,
           CASE WHEN k < d.attempts THEN 'retry' WHEN d.status = 'delivered' THEN 'delivered'
                WHEN d.status = 'token_invalid' THEN 'token_invalid' WHEN d.attempts > 1 THEN 'retry'
                ELSE 'permanent' END AS outcome
    FROM (
        -- Made when its notification was due, as _DELIVERIES drew it (deliveries keep no created_at).
        SELECT d.*, coalesce(n.send_at, n.created_at) AS created_at
        FROM notifications_delivery AS d JOIN notifications_notification AS n ON n.id = d.notification_id
        -- A first-try success has no attempt row (notifications.attempts): its delivery is that attempt.
        WHERE {_seeded("d.id")} AND NOT (d.status = 'delivered' AND d.attempts = 1)
    ) AS d CROSS JOIN LATERAL generate_series(1, d.attempts) AS k
) AS x
ORDER BY x.sent_at
"""

# Each failed delivery's record, as notifications.settling writes it (the payload as it was sent); 10% were since
# discarded by Support.
_FAILURES = f"""
INSERT INTO notifications_faileddelivery (delivery_id, reason, provider_code, payload, status, created_at,
    resolved_at, resolved_by)
SELECT d.id,
       CASE WHEN d.attempts > 1 THEN 'Gave up after ' || d.attempts || ' attempts; last answer: ' || d.last_error_text
            ELSE d.last_error_text END,
       d.last_error_code,
       jsonb_build_object('token', v.token, 'provider', d.provider, 'title', c.title, 'body', c.body,
                          'image', c.image, 'deep_link', c.deep_link, 'data', c.data, 'category', n.category,
                          'priority', c.priority, 'ttl_seconds', c.ttl_seconds, 'collapse_key', c.collapse_key),
       CASE WHEN discarded THEN 'discarded' ELSE 'open' END, d.updated_at,
       CASE WHEN discarded THEN d.updated_at + interval '2 hours' END,
       CASE WHEN discarded THEN 'bench-support' ELSE '' END
FROM (SELECT d.*, mod(d.id, 10) = 0 AND d.updated_at + interval '2 hours' < %(end)s AS discarded
      FROM notifications_delivery AS d WHERE d.status = 'failed' AND {_seeded("d.id")}) AS d
JOIN notifications_notification AS n ON n.id = d.notification_id
JOIN notifications_notificationcontent AS c ON c.id = n.content_id
JOIN devices_device AS v ON v.id = d.device_id
"""


def reset_history() -> None:
    """Empty every table the history fills (the devices too) in one TRUNCATE … CASCADE."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(HISTORY_TABLES)} CASCADE")


def seed_devices(plan: Plan) -> int:
    """The history's shoppers and their devices; returns how many devices."""
    with connection.cursor() as cursor:
        cursor.execute(_DEVICES, plan.params())
        return cursor.rowcount


def seed_history(plan: Plan, *, log: Callable[[str], None] = print) -> dict[str, float]:
    """Campaigns, events, notifications, deliveries, attempts and failed records over the plan's days, on the
    devices seed_devices made. Returns the seconds each step took."""
    from django.conf import settings

    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        steps[name] = time.perf_counter() - started
        log(f"history: {name} {steps[name]:.1f} s")

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")  # as the marketing workers write; seeding is re-runnable
        cursor.execute("SELECT setseed(0.2020)")  # the same history for the same plan
        cursor.execute("DROP TABLE IF EXISTS h_shopper, h_hour, h_content, h_run")
        for statement in [*_SHOPPERS, *_CONTENTS]:
            cursor.execute(statement)
        cursor.execute(_HOURS, plan.params(weights=HOUR_WEIGHTS))
        cursor.execute("SELECT count(*) FILTER (WHERE active > 0), sum(active), count(*) FROM h_shopper")
        reachable, active_devices, shoppers = cursor.fetchone()
        for table in PARTITIONED_TABLES:  # the history's days, as beat would have made them
            partitions.create_partitions(table, plan.start.date(), plan.end.date())
        # Notifications sent for the deliveries asked (2% over: the draws are random), split by where they come from.
        sends = plan.deliveries * 1.02 / (int(active_devices) / reachable)
        reach = reachable / shoppers
        with step("campaigns and contents"):
            campaign_sends = sends * CAMPAIGN_SHARE / (reach * (1 - CAMPAIGN_SUPPRESSED))
            _seed_campaigns(plan, cursor, campaign_sends)
            _seed_contents(cursor)
        sequences = {
            "notification_seq": _sequence(cursor, "notifications_notification"),
            "event_seq": _sequence(cursor, "events_event"),
            "delivery_seq": _sequence(cursor, "notifications_delivery"),
            "attempt_seq": _sequence(cursor, "notifications_deliveryattempt"),
        }
        # Each campaign variant's content, stored once (the engine stores one per variant and batch of 1,000).
        # Their ids carry the history's last day: a content outlives the notifications that refer to it.
        cursor.execute(
            f"UPDATE h_content SET content_id = {_seed_id('%(end)s::timestamptz', 'notification_seq')} "
            "WHERE key LIKE 'c%%:%%'",
            plan.params(**sequences),
        )
        cursor.execute(
            f"INSERT INTO notifications_notificationcontent (id, {_STORED_CONTENT}, created_at) "
            f"SELECT content_id, {_STORED_CONTENT}, %(start)s FROM h_content WHERE content_id IS NOT NULL",
            plan.params(),
        )
        with step("events and their notifications"):
            cursor.execute(
                _EVENTS,
                plan.params(
                    n=sends * EVENT_SHARE / (reach * EVENT_SENDS_PER_EVENT), cart_rule=_cart_rule(), **sequences
                ),
            )
        with step("campaign notifications"):
            cursor.execute(_CAMPAIGN_NOTIFICATIONS, plan.params(step=CAMPAIGN_SECONDS_PER_PUSH, **sequences))
        with step("API notifications"):
            cursor.execute(_API_NOTIFICATIONS, plan.params(n=sends * API_SHARE / reach, **sequences))
        with step("deliveries"):
            cursor.execute(_DELIVERIES, plan.params(max_attempts=settings.DELIVERY_MAX_ATTEMPTS, **sequences))
        with step("attempts"):
            cursor.execute(_ATTEMPTS, sequences)
        with step("failed-delivery records"):
            cursor.execute(_FAILURES, plan.params())
        cursor.execute("DROP TABLE h_shopper, h_hour, h_content, h_run")
        cursor.execute("SET synchronous_commit = DEFAULT")
    with step("VACUUM ANALYZE"):
        vacuum_analyze()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM notifications_delivery WHERE {_seeded('id')}")
        seeded = cursor.fetchone()[0]
    log(f"history: {seeded:,} deliveries")
    if seeded < plan.deliveries:
        # Another benchmark sharing the database (bench.stack's) emptied the tables meanwhile: nothing measured
        # from here on would be of this history.
        raise RuntimeError(f"{seeded:,} deliveries seeded, {plan.deliveries:,} asked: was the database emptied?")
    return steps


def vacuum_analyze() -> None:
    """What autovacuum would have done by now: visibility maps set, statistics current; then a checkpoint, so that
    the seeding's writes are not flushed during the measurements."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(HISTORY_TABLES)}")
        cursor.execute("CHECKPOINT")


def _sequence(cursor: Any, table: str) -> str:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return cursor.fetchone()[0]


def _cart_rule() -> int:
    from events.models import TriggerRule

    rule = TriggerRule.objects.filter(event_type="cart_updated").order_by("pk").first()
    return rule.pk if rule else 0


PROMOTIONS = [
    # key, title, body (Django templates, as marketers write them), translations
    (
        "history_weekend_deal",
        "{{ discount }} off {{ category }} this weekend",
        "Fresh, ripe and cheaper until Sunday night. Order before 20:00 for delivery tomorrow morning.",
        {
            "de": ("{{ discount }} Rabatt auf {{ category }} am Wochenende", "Frisch, reif und günstiger bis Sonntag."),
            "fr": ("-{{ discount }} sur {{ category }} ce week-end", "Frais et moins chers jusqu'à dimanche."),
            "es": ("{{ discount }} en {{ category }} este fin de semana", "Más baratos hasta el domingo."),
        },
    ),
    (
        "history_weekend_treat",
        "Weekend treat: {{ category }} at {{ discount }} off",
        "Stock up on {{ category }} while the offer lasts. Free delivery on orders over 40 EUR this weekend.",
        {
            "de": ("Wochenend-Angebot: {{ category }} mit {{ discount }} Rabatt", "Jetzt zugreifen!"),
            "fr": ("Plaisir du week-end : {{ category }} à -{{ discount }}", "Faites le plein tant que l'offre dure."),
            "es": ("Capricho de fin de semana: {{ category }} con {{ discount }}", "¡Aprovecha la oferta!"),
        },
    ),
    (
        "history_new_range",
        "New in: {{ category }} from local farms",
        "Our new {{ category }} range is in. Try it this week with {{ discount }} off your first basket.",
        {
            "de": ("Neu: {{ category }} von Höfen aus der Region", "Probier es diese Woche mit {{ discount }} Rabatt."),
            "fr": ("Nouveau : {{ category }} de fermes locales", "Essayez-les avec {{ discount }} de remise."),
        },
    ),
    (
        "history_basket_reminder",
        "Your weekly basket: {{ discount }} off {{ category }}",
        "Plan the week in two taps: your usual basket is ready, with {{ discount }} off {{ category }} today only.",
        {
            "de": ("Dein Wocheneinkauf: {{ discount }} auf {{ category }}", "Nur heute: {{ discount }} Rabatt."),
            "fr": ("Votre panier de la semaine : -{{ discount }} sur {{ category }}", "Aujourd'hui seulement."),
        },
    ),
]  # fmt: skip
THEMES = [
    ("Strawberry weekend", "strawberries", "20%"),
    ("Bakery Friday", "fresh bread", "15%"),
    ("Dairy days", "cheese", "25%"),
    ("Summer BBQ", "grill meat", "30%"),
    ("Veggie week", "vegetables", "10%"),
    ("Coffee corner", "coffee", "20%"),
    ("Pasta night", "pasta", "2 for 1"),
    ("Breakfast club", "cereals", "15%"),
]


def _promotion_templates() -> list[Any]:
    from templates.models import MessageTemplate, TemplateTranslation

    templates = []
    for key, title, body, translations in PROMOTIONS:
        template, created = MessageTemplate.objects.get_or_create(
            key=key,
            defaults={
                "name": key.replace("_", " ").capitalize(),
                "category": "promotions",
                "priority": "normal",
                "title": title,
                "body": body,
                "image": "https://cdn.example-shop.com/campaigns/{{ offer }}/hero-1200x600.jpg",
                "deep_link": "shop://offers/{{ offer }}?utm_source=push&utm_medium=campaign&utm_campaign={{ offer }}",
                "data": {"offer_id": "{{ offer }}", "utm_campaign": "{{ offer }}"},
                "ttl_seconds": 24 * 3600,
                "sample_context": {"discount": "20%", "category": "strawberries", "offer": "sample"},
            },
        )
        if created:
            TemplateTranslation.objects.bulk_create(
                TemplateTranslation(template=template, locale=locale, title=t, body=b)
                for locale, (t, b) in translations.items()
            )
        templates.append(template)
    return templates


def _seed_campaigns(plan: Plan, cursor: Any, sends: float) -> None:
    """A few hundred campaigns (half A/B, a quarter weekly) and their runs, spread over the days; each run's content
    rendered as the engine renders it (into h_content) and its audience (into h_run)."""
    from audience.models import Segment
    from campaigns.messages import render_for
    from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant, RunStatus

    templates = _promotion_templates()
    segment, _ = Segment.objects.get_or_create(name="History: every shopper")
    first_day = plan.start.replace(hour=0, minute=0, second=0, microsecond=0)
    planned: list[tuple[Campaign, list[datetime]]] = []
    for c in range(plan.campaigns):
        title, category, discount = THEMES[c % len(THEMES)]
        weekly = c % 4 == 3
        day = c * plan.days // plan.campaigns if not weekly else c % 7
        at = first_day + timedelta(days=day, hours=7 + (c * 5) % 12, minutes=(c * 13) % 60)
        starts = [at + timedelta(days=7 * k) for k in range(4 if weekly else 1)]
        starts = [s for s in starts if plan.start <= s < plan.end - timedelta(minutes=30)]
        if not starts:
            continue
        campaign = Campaign(
            name=f"{title} #{c + 1}",
            description=f"{title}: {discount} off {category}.",
            status=CampaignStatus.COMPLETED,
            template=None if c % 2 == 0 else templates[c % len(templates)],
            context={"discount": discount, "category": category, "offer": f"offer-{c + 1:04d}"},
            segment=segment,
            max_per_user_per_day=2 if c % 5 == 0 else None,
            created_by="bench",
            created_at=starts[0] - timedelta(hours=2),
        )
        planned.append((campaign, starts))
    Campaign.objects.bulk_create([campaign for campaign, _ in planned])
    variants = [
        CampaignVariant(campaign=campaign, name=name, template=templates[i], weight=50)
        for campaign, _ in planned
        if campaign.template_id is None
        for i, name in enumerate(("A", "B"))
    ]
    CampaignVariant.objects.bulk_create(variants)
    by_campaign: dict[int, list[CampaignVariant]] = {}
    for variant in variants:
        by_campaign.setdefault(variant.campaign_id, []).append(variant)
    contents = []
    for campaign, _ in planned:
        arms = [(v.name, v.template) for v in by_campaign.get(campaign.pk, [])] or [("", campaign.template)]
        for name, template in arms:
            content, _failure = render_for(campaign, template, None)
            contents.append((f"c{campaign.pk}:{name}", content))
    _insert_contents(cursor, contents)
    # Runs: each reaches a block of shoppers (sizes vary 0.5-1.5x around the mean), never one shopper twice.
    run_starts = [(campaign, at) for campaign, starts in planned for at in starts]
    sizes = _run_sizes([0.5 + ((r * 37) % 100) / 100 for r in range(len(run_starts))], sends, plan.shoppers)
    runs, rows = [], []
    for r, ((campaign, at), n) in enumerate(zip(run_starts, sizes, strict=True)):
        fanned = at + timedelta(seconds=n * CAMPAIGN_SECONDS_PER_PUSH)
        runs.append(
            CampaignRun(
                campaign=campaign,
                status=RunStatus.COMPLETED,
                cursor=f"{SHOPPER_PREFIX}{(r * 7919 + n - 1) % plan.shoppers:07d}",
                targeted=n,
                started_at=at,
                fanned_out_at=fanned,
                finished_at=fanned + timedelta(seconds=30),
            )
        )
        rows.append((campaign.pk, campaign.template_id is None, at, n, (r * 7919) % plan.shoppers))
    CampaignRun.objects.bulk_create(runs)
    cursor.executemany(
        "INSERT INTO h_run (run_id, campaign_id, ab, started_at, n, first) VALUES (%s, %s, %s, %s, %s, %s)",
        [(run.pk, *row) for run, row in zip(runs, rows, strict=True)],
    )
    cursor.execute("ANALYZE h_run")


def _run_sizes(weights: list[float], sends: float, most: int) -> list[int]:
    """`sends` shared by weight, none over `most` (each shopper once a run); a full run's excess goes to others."""
    sizes = [0.0] * len(weights)
    open_runs = set(range(len(weights)))
    left = sends
    while open_runs and left > 0.5:
        total = sum(weights[r] for r in open_runs)
        share = {r: left * weights[r] / total for r in open_runs}
        full = {r for r in open_runs if sizes[r] + share[r] >= most}
        if not full:
            for r in open_runs:
                sizes[r] += share[r]
            break
        for r in full:
            left -= most - sizes[r]
            sizes[r] = most
        open_runs -= full
    return [round(n) for n in sizes]


def _seed_contents(cursor: Any) -> None:
    """What the shipped rules and the API send, rendered once with "__REF__" for the order, cart or product."""
    from notifications.records import Content
    from templates.models import MessageTemplate
    from templates.rendering import render_content

    contexts = {
        "order_cancelled": {"order_id": "__REF__", "status": "cancelled", "reason": "payment declined"},
        "order_delayed": {"order_id": "__REF__", "status": "delayed", "new_eta": "18:00-19:00"},
        "abandoned_cart": {"cart_id": "__REF__", "item_count": 3, "first_item": "Oat milk"},
        "product_restocked": {"product_id": "sku-__REF__", "product_name": "Sourdough loaf"},
        "favourite_discounted": {
            "product_id": "sku-__REF__",
            "product_name": "Greek yoghurt",
            "old_price": "3.49",
            "new_price": "2.79",
            "currency": "EUR",
            "discount_percent": 20,
        },
    }
    contents = []
    for key, context in contexts.items():
        template = MessageTemplate.objects.prefetch_related("translations").get(key=key)
        contents.append((key, render_content(template, context, user_id="", translations=None)))
    direct = {"category": "order_updates", "ttl_seconds": 3600, "collapse_key": "order-__REF__"}
    contents.append(
        (
            "api_rider",
            Content(
                title="Your rider is 5 minutes away",
                body="Order __REF__ is nearly there: please keep your phone at hand and the door bell on.",
                deep_link="shop://orders/__REF__/track",
                data={"order_id": "__REF__", "kind": "rider_nearby"},
                **direct,
            ),
        )
    )
    contents.append(
        (
            "api_slot",
            Content(
                title="Delivery slot confirmed",
                body="Order __REF__ arrives tomorrow between 08:00 and 10:00. You can still add items until 22:00.",
                deep_link="shop://orders/__REF__",
                data={"order_id": "__REF__", "kind": "slot_confirmed"},
                **direct,
            ),
        )
    )
    _insert_contents(cursor, contents)


def _insert_contents(cursor: Any, contents: list[tuple[str, Any]]) -> None:
    cursor.executemany(
        f"INSERT INTO h_content (key, {_CONTENT_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})",
        [
            (
                key,
                c.title,
                c.body,
                c.image,
                c.deep_link,
                json.dumps(c.data),
                json.dumps(c.translations),
                c.template_key,
                c.category,
                c.priority,
                c.ttl_seconds,
                c.collapse_key,
                c.dedup_key,
                c.dedup_seconds,
                json.dumps([list(cap) for cap in c.frequency_caps]),
            )
            for key, c in contents
        ],
    )


def history_counts() -> dict[str, int]:
    """Rows of each table the history fills (exact counts)."""
    with connection.cursor() as cursor:
        found = {}
        for table in (*SIZED_TABLES, "devices_device", "campaigns_campaign", "campaigns_campaignrun"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            found[table] = cursor.fetchone()[0]
        cursor.execute("SELECT min(created_at), max(created_at) FROM notifications_notification")
        oldest, newest = cursor.fetchone()
        cursor.execute(  # the fan-out measurement's own campaigns, kept in the tables but not seeded
            "SELECT count(*) FROM notifications_delivery AS d JOIN notifications_notification AS n "
            "ON n.id = d.notification_id JOIN campaigns_campaignrun AS r ON r.id::text = n.source_ref "
            "JOIN campaigns_campaign AS c ON c.id = r.campaign_id WHERE n.source = 'campaign' AND c.name = %s",
            [FANOUT_CAMPAIGN],
        )
        found["fanout_deliveries"] = cursor.fetchone()[0]
    found["days"] = round((newest - oldest) / timedelta(days=1), 1) if oldest else 0
    return found


# --- Rollups ----------------------------------------------------------------------------------------------------


def roll_up(budget_seconds: float | None = None) -> dict[str, Any]:
    """The rollups' catch-up over the history, as beat's task runs it: without a time budget (all of it), or for
    `budget_seconds` (then how far it got says its rate)."""
    from analytics import rollup
    from analytics.models import HourlyRollup, RollupWatermark

    started = time.perf_counter()
    counted = rollup.catch_up(budget_seconds=float("inf") if budget_seconds is None else budget_seconds)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_hourlyrollup")
    marks = dict(RollupWatermark.objects.values_list("source", "counted_until"))
    return {
        "seconds": seconds,
        "facts": counted,
        "rollup_rows": HourlyRollup.objects.count(),
        "counted_until": {source: at.isoformat() for source, at in marks.items()},
    }


def rollup_source_costs(days: int = 3) -> dict[str, Any]:
    """Each rollup source's cost over the last `days` whole days of the history, as the catch-up counts them
    (ANALYTICS_ROLLUP_MAX_SPAN_SECONDS a run), in a transaction rolled back: the rollups are left as they were.
    Seconds per day of history per source, and µs per delivery of those days."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from analytics import rollup

    end = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    span = timedelta(seconds=settings.ANALYTICS_ROLLUP_MAX_SPAN_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(  # deliveries keep no created_at: their ids carry their day (config.partitions)
            "SELECT count(*) FROM notifications_delivery WHERE id >= %s AND id < %s",
            [partitions.first_id(start.date()), partitions.first_id(end.date())],
        )
        deliveries = cursor.fetchone()[0]
    seconds: dict[str, float] = {}
    with transaction.atomic():
        for source in rollup.SOURCES:
            took = time.perf_counter()
            at = start
            while at < end:
                rollup._count(source, at, min(at + span, end))
                at += span
            seconds[source.name] = time.perf_counter() - took
        transaction.set_rollback(True)
    return {
        "from": start.isoformat(),
        "days": days,
        "deliveries": deliveries,
        "seconds_per_day": {name: s / days for name, s in seconds.items()},
        "us_per_delivery": {name: s / max(deliveries, 1) * 1e6 for name, s in seconds.items()},
    }


# --- Bytes per push ---------------------------------------------------------------------------------------------


def table_sizes() -> dict[str, Any]:
    """Each table's bytes (table, indexes and TOAST) over its rows, and all of a push's tables over deliveries."""
    with connection.cursor() as cursor:
        tables = {}
        for table in SIZED_TABLES:
            total, heap, indexes, rows = relation_bytes(cursor, table)
            tables[table] = {
                "bytes": total,
                "heap_bytes": heap,
                "index_bytes": indexes,
                "rows": rows,
                "bytes_per_row": total / rows if rows else None,
            }
    deliveries = tables["notifications_delivery"]["rows"]
    push_tables = (
        "notifications_notification",
        "notifications_notificationcontent",
        "notifications_delivery",
        "notifications_deliveryattempt",
    )
    push_bytes = sum(tables[t]["bytes"] for t in (*push_tables, "notifications_faileddelivery"))
    return {
        "tables": tables,
        "bytes_per_delivery": push_bytes / deliveries if deliveries else None,
        "bytes_per_delivery_with_events": (push_bytes + tables["events_event"]["bytes"]) / deliveries
        if deliveries
        else None,
    }


# --- Pages ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    role: str  # the group of the staff member asking
    urls: list[str]  # asked in turn


def pages() -> list[Page]:
    """The pages support and marketers use, each with URLs of real rows of the history."""
    from urllib.parse import quote

    from django.urls import reverse

    from accounts import roles

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id FROM devices_device WHERE starts_with(user_id, %s) ORDER BY random() LIMIT 40",
            [SHOPPER_PREFIX],
        )
        shoppers = [u for (u,) in cursor.fetchall()] or ["nobody"]
        notifications = []
        for sample in ("TABLESAMPLE SYSTEM (1)", ""):  # a sample of the pages; a small table's pages may hold none
            cursor.execute(f"SELECT id FROM notifications_notification {sample} WHERE status = 'sending' LIMIT 20")
            notifications = [pk for (pk,) in cursor.fetchall()]
            if notifications:
                break
        cursor.execute(  # notifications with a failed delivery: their pages show retries and the failure
            "SELECT d.notification_id FROM notifications_faileddelivery AS f "
            "JOIN notifications_delivery AS d ON d.id = f.delivery_id ORDER BY f.id DESC LIMIT 20"
        )
        notifications += [pk for (pk,) in cursor.fetchall()]
        cursor.execute(  # the largest campaigns and the newest
            "(SELECT campaign_id FROM campaigns_campaignrun GROUP BY 1 ORDER BY sum(targeted) DESC LIMIT 10) UNION "
            "(SELECT id FROM campaigns_campaign ORDER BY created_at DESC LIMIT 10)"
        )
        campaigns = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(  # the start of a device's token, as Support pastes it
            "SELECT left(token, 16) FROM devices_device WHERE starts_with(user_id, %s) ORDER BY random() LIMIT 20",
            [SHOPPER_PREFIX],
        )
        tokens = [t for (t,) in cursor.fetchall()] or ["nothing"]
        cursor.execute("SELECT id FROM campaigns_campaignrun ORDER BY targeted DESC LIMIT 10")  # the largest runs
        runs = [pk for (pk,) in cursor.fetchall()] or [0]
    notifications = notifications or [0]
    campaigns = campaigns or [0]
    notification_list = reverse("admin:notifications_notification_changelist")
    shopper = reverse("support:shopper")
    analytics = reverse("analytics:charts")
    return [
        Page("shopper page (Support)", roles.SUPPORT, [f"{shopper}?user_id={u}" for u in shoppers]),
        Page("shopper page (Administrator)", roles.ADMINISTRATORS, [f"{shopper}?user_id={u}" for u in shoppers]),
        Page("notification log, first page", roles.ADMINISTRATORS, [notification_list]),
        Page(
            "notification log, search a user id",
            roles.ADMINISTRATORS,
            [f"{notification_list}?q={u}" for u in shoppers],
        ),
        Page(
            "notification log, search a notification id",
            roles.ADMINISTRATORS,
            [f"{notification_list}?q=%23{pk}" for pk in notifications],
        ),
        Page(
            "notification log, search a token prefix",
            roles.ADMINISTRATORS,
            [f"{notification_list}?q={quote(t, safe='')}" for t in tokens],
        ),
        Page(
            "notification log, search a campaign run",
            roles.ADMINISTRATORS,
            [f"{notification_list}?q={pk}" for pk in runs],
        ),
        Page(
            "a notification's page",
            roles.ADMINISTRATORS,
            [reverse("admin:notifications_notification_change", args=[pk]) for pk in notifications],
        ),
        Page("failed deliveries", roles.ADMINISTRATORS, [reverse("admin:notifications_faileddelivery_changelist")]),
        Page(
            "campaign results (campaign page)",
            roles.ADMINISTRATORS,
            [reverse("admin:campaigns_campaign_change", args=[pk]) for pk in campaigns],
        ),
        Page("admin index", roles.ADMINISTRATORS, [reverse("admin:index")]),
        Page("analytics, 30 days by day", roles.ADMINISTRATORS, [f"{analytics}?period=30d"]),
        Page("analytics, 24 hours by hour", roles.ADMINISTRATORS, [f"{analytics}?period=24h"]),
        Page(
            "analytics, a campaign over 30 days",
            roles.ADMINISTRATORS,
            [f"{analytics}?period=30d&campaign={pk}" for pk in campaigns],
        ),
        Page("delivery log, first page", roles.ADMINISTRATORS, [reverse("admin:notifications_delivery_changelist")]),
        Page(
            "delivery log, search a token prefix",
            roles.ADMINISTRATORS,
            [f"{reverse('admin:notifications_delivery_changelist')}?q={quote(t, safe='')}" for t in tokens],
        ),
    ]  # fmt: skip


def _client(role: str) -> Any:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host name
    user, _ = User.objects.get_or_create(username=f"bench-{role.lower()}", defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name=role)])
    client = Client()
    client.force_login(user)
    return client


def measure_pages(
    requests: int = 20, *, budget_seconds: float = 120, explain_over_ms: float = PAGE_BOUND_MS
) -> dict[str, Any]:
    """Each page: one warm-up, then `requests` requests (fewer if they take longer than the budget, at least 3);
    p50, p95, max; the statements of one more request (count, time, the slowest), and EXPLAIN ANALYZE of the
    slowest when p95 is over `explain_over_ms`."""
    from django.test.utils import override_settings

    # Static files' plain URLs: the production manifest exists only after collectstatic, and the pages' cost is
    # the same either way (as config.test_settings does).
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        return _measure_pages(requests, budget_seconds, explain_over_ms)


def _measure_pages(requests: int, budget_seconds: float, explain_over_ms: float) -> dict[str, Any]:
    from django.test.utils import CaptureQueriesContext

    results: dict[str, Any] = {}
    clients: dict[str, Any] = {}
    for page in pages():
        client = clients.setdefault(page.role, _client(page.role))
        statuses: set[int] = set()
        started = time.perf_counter()
        answer = client.get(page.urls[0])
        first_ms = (time.perf_counter() - started) * 1000
        statuses.add(answer.status_code)
        times: list[float] = []
        spent = time.perf_counter()
        for n in range(requests):
            if n >= 3 and time.perf_counter() - spent > budget_seconds:
                break
            url = page.urls[(n + 1) % len(page.urls)]
            started = time.perf_counter()
            answer = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            statuses.add(answer.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(page.urls[0])
        timed = sorted(((float(q["time"]) * 1000, q["sql"]) for q in queries.captured_queries), reverse=True)
        slowest_ms, slowest_sql = timed[0] if timed else (0.0, "")
        result = {
            "role": page.role,
            "requests": len(times),
            "statuses": sorted(statuses),
            "first_ms": first_ms,
            "p50_ms": percentile(times, 0.50),
            "p95_ms": percentile(times, 0.95),
            "max_ms": max(times),
            "queries": len(timed),
            "sql_ms": sum(ms for ms, _ in timed),
            "slowest_query_ms": slowest_ms,
            "slowest_query": slowest_sql,
            "slowest_queries": [[round(ms, 1), sql[:300]] for ms, sql in timed[:3]],
        }
        if result["p95_ms"] > explain_over_ms and slowest_sql:
            result["explain"] = explain(slowest_sql)
        results[page.name] = result
    return results


def explain(sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement a page ran, if it only reads."""
    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return "(not a read: not explained)"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(line for (line,) in cursor.fetchall())


# --- Retention --------------------------------------------------------------------------------------------------


# One batch of the oldest notifications with their deliveries, attempts and failed records, in one statement (one
# transaction: the rows stay locked until it commits). The foreign keys are checked at commit (deferred).
def retention_day() -> dict[str, Any]:
    """Forget the history's oldest day as the retention job does (config.partitions: each table's partition of that
    day detached CONCURRENTLY, then dropped) while another connection keeps writing notifications of today, one a
    transaction, as the engine does: the time, the WAL written, the rows forgotten and the writer's slowest insert
    (what a lock taken by the drop would have made it wait)."""
    import threading

    from django.db import connections

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM notifications_delivery WHERE id >= %s", [partitions.DAY_SPAN])
        (first,) = cursor.fetchone()
        if first is None:
            return {}
        oldest = partitions.day_of(first)
        day_ids = [partitions.first_id(oldest), partitions.first_id(oldest + timedelta(days=1))]
        rows = {}
        for table in PARTITIONED_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE id >= %s AND id < %s", day_ids)
            rows[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_current_wal_lsn()")
        lsn = cursor.fetchone()[0]
    stop = threading.Event()
    writes: list[float] = []

    from notifications.engine import Content, NewNotification
    from notifications.engine import store as store_notifications

    # Stored as failed (nothing to send): the engine's own INSERT, on this thread's own connection.
    check = NewNotification("retention-check", Content("t", "b", "order_updates"), source="api", failure="check")

    def write() -> None:
        try:
            while not stop.is_set():
                took = time.perf_counter()
                store_notifications([check])
                writes.append(time.perf_counter() - took)
                time.sleep(0.005)
        finally:
            connections["default"].close()

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.2)
    seconds = {}
    try:
        for table in ("notifications_deliveryattempt", "notifications_delivery", "notifications_notification",
                      "notifications_notificationcontent", "events_event"):  # fmt: skip
            took = time.perf_counter()
            partitions.drop_partitions_before(table, oldest + timedelta(days=1))
            seconds[table] = time.perf_counter() - took
    finally:
        time.sleep(0.2)
        stop.set()
        writer.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn])
        wal = int(cursor.fetchone()[0])
        cursor.execute("DELETE FROM notifications_notification WHERE user_id = %s", [check.user_id])
    return {
        "day": oldest.isoformat(),
        "dropped_rows": rows,
        "drop_seconds": sum(seconds.values()),
        "drop_seconds_by_table": seconds,
        "wal_bytes": wal,
        "concurrent_inserts": len(writes),
        "concurrent_insert_max_ms": max(writes, default=0) * 1000,
        "concurrent_insert_p50_ms": percentile(writes, 0.5) * 1000 if writes else None,
    }


# --- Fan-out ----------------------------------------------------------------------------------------------------


def _fan_out_shop(sim: Any, devices: int) -> tuple[int, int]:
    """The fan-out's shoppers (bench.scenarios.SHOP_SQL: shopper-…, app 4.2.0, which no history device runs), made
    once and pointed at this run's simulator; the campaign's template and its segment (app version 4.2.0)."""
    from audience.models import Segment, SegmentCondition
    from bench.providers import subscription_keys
    from bench.scenarios import SHOP_SQL, weekend_template

    p256dh, auth = subscription_keys()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM devices_device WHERE starts_with(user_id, 'shopper-')")
        if cursor.fetchone()[0] != devices:
            # Another size: the old fan-out devices go (those earlier rounds sent to are kept for their deliveries,
            # renamed and deactivated, out of the segment), and the shop is made anew.
            cursor.execute(
                "DELETE FROM devices_device AS d WHERE starts_with(user_id, 'shopper-') "
                "AND NOT EXISTS (SELECT 1 FROM notifications_delivery WHERE device_id = d.id)"
            )
            cursor.execute(
                "UPDATE devices_device SET user_id = 'old-' || user_id, token = 'old-' || token, "
                "app_version = '4.1.0', is_active = false, deactivated_at = now(), deactivation_reason = 'stale' "
                "WHERE starts_with(user_id, 'shopper-')"
            )
            cursor.execute(SHOP_SQL, [sim.base_url, p256dh, auth, devices])
        cursor.execute(  # the simulator's port changes from run to run
            "UPDATE devices_device SET token = %s || '/wp/bench-' || substr(user_id, 9)::int, web_push_p256dh = %s, "
            "web_push_auth = %s WHERE starts_with(user_id, 'shopper-') AND platform = 'web'",
            [sim.base_url, p256dh, auth],
        )
        cursor.execute("ANALYZE devices_device")
    template = weekend_template()
    segment, created = Segment.objects.get_or_create(name="History: fan-out (app 4.2.0)")
    if created:
        SegmentCondition.objects.create(segment=segment, field="app_version", operator="eq", value="4.2.0")
    return template.pk, segment.pk


def fan_out_round(sim: Any, template_id: int, segment_id: int) -> dict[str, Any]:
    """One campaign to the fan-out's shoppers, sent in this process as a marketing worker sends it (fan-out pages,
    then each batch), with synchronous_commit off as the marketing workers run. Its rows are kept (a few more in the
    history)."""
    import redis
    from django.conf import settings
    from django.utils import timezone

    from audience.models import Segment
    from campaigns import batches
    from campaigns.fanout import fan_out_page
    from campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignRun, CampaignStatus, RunStatus
    from config.celery import tune_garbage_collection
    from providers.runtime import runtime
    from templates.models import MessageTemplate

    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("pc:protect:*", "pc:tokens:*"):  # caps and the token cache, as between the bench's scenarios
        for key in client.scan_iter(pattern, count=10_000):
            client.delete(key)
    campaign = Campaign.objects.create(
        name=FANOUT_CAMPAIGN,
        template=MessageTemplate.objects.get(pk=template_id),
        segment=Segment.objects.get(pk=segment_id),
        context={"discount": "20%", "category": "fruit"},
        status=CampaignStatus.SENDING,
    )
    run = CampaignRun.objects.create(campaign=campaign)
    runtime.reset()
    tune_garbage_collection()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_cpu, process_cpu, wall = cpu_seconds([backend]), time.process_time(), time.perf_counter()
    cursor_at: str | None = ""
    while cursor_at is not None:
        cursor_at = fan_out_page(run.pk, cursor_at)
        waiting = CampaignBatch.objects.filter(run=run, status=BatchStatus.PENDING).order_by("pk")
        for batch_id in list(waiting.values_list("pk", flat=True)):
            batches.send(batch_id)
    wall = time.perf_counter() - wall
    process_cpu = time.process_time() - process_cpu
    backend_cpu = cpu_seconds([backend]) - backend_cpu
    runtime.reset()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = DEFAULT")
        cursor.execute(
            "SELECT count(*) FROM notifications_notification AS n JOIN notifications_delivery AS d "
            "ON d.notification_id = n.id WHERE n.source = 'campaign' AND n.source_ref = %s AND d.status = 'delivered'",
            [str(run.pk)],
        )
        delivered = cursor.fetchone()[0]
    # Finished as campaigns.progress would finish it (no Celery here to do so).
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED, finished_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
    return {
        "delivered": delivered,
        "seconds": wall,
        "per_minute": delivered / wall * 60,
        "process_cpu_us": process_cpu / max(delivered, 1) * 1e6,
        "postgres_cpu_us": backend_cpu / max(delivered, 1) * 1e6,
        "load_average": os.getloadavg()[0],
    }


def fan_out(sim: Any, devices: int, rounds: int = 3, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """`rounds` campaigns to `devices` devices; each round's figures and their medians."""
    from bench.providers import use_simulator

    use_simulator(sim)
    template_id, segment_id = _fan_out_shop(sim, devices)
    measured = []
    for n in range(rounds):
        result = fan_out_round(sim, template_id, segment_id)
        log(
            f"history: fan-out round {n + 1}: {result['per_minute']:,.0f}/min, "
            f"{result['process_cpu_us']:.0f} + {result['postgres_cpu_us']:.0f} µs CPU a delivery"
        )
        measured.append(result)
    medians = {
        name: percentile([r[name] for r in measured], 0.5)
        for name in ("per_minute", "process_cpu_us", "postgres_cpu_us", "seconds")
    }
    return {"devices": devices, "rounds": measured, **medians}


# --- The run ----------------------------------------------------------------------------------------------------


def has_history(plan: Plan) -> bool:
    """Whether the database already holds a history of at least the plan's deliveries (for --reuse)."""
    from campaigns.models import Campaign

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'notifications_delivery'")
        estimate = cursor.fetchone()[0]
    return estimate >= plan.deliveries * 0.95 and Campaign.objects.filter(created_by="bench").exists()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the simulator on the way out
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=10_000_000, help="At least this many deliveries.")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="Keep the history already seeded, if it is as large.")
    parser.add_argument("--skip-fanout", action="store_true")
    parser.add_argument("--skip-retention", action="store_true", help="Keep the oldest day (retention deletes it).")
    parser.add_argument("--requests", type=int, default=20, help="Requests per page (after one warm-up).")
    parser.add_argument("--fanout-devices", type=int, default=20_000)
    parser.add_argument("--fanout-rounds", type=int, default=3)
    parser.add_argument(
        "--rollup-budget", type=float, help="Stop the rollups' catch-up after this many seconds (default: all of it)."
    )
    args = parser.parse_args()

    from bench.stack import prepare_database

    prepare_database()
    from django.utils import timezone

    from pushsim.control import running

    started = time.time()
    plan = Plan(args.deliveries, args.days, timezone.now() - timedelta(minutes=20))
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(args)}
    previous = _previous_results()
    with running(Path(tempfile.mkdtemp(prefix="pushsim-history-"))) as sim:
        if args.reuse and has_history(plan):
            print("history: reusing the history in the database; the rollups catch up…", flush=True)
            results["reused"] = True
            if previous.get("fanout_empty", {}).get("devices") == args.fanout_devices:
                results["fanout_empty"] = {**previous["fanout_empty"], "from": previous.get("started")}
            results["rollup"] = roll_up(args.rollup_budget)  # from where an earlier run left them
            print(f"history: rolled up in {results['rollup']['seconds']:.1f} s", flush=True)
        else:
            print(f"history: seeding {args.deliveries:,} deliveries over {args.days} days…", flush=True)
            reset_history()
            took = time.perf_counter()
            devices = seed_devices(plan)
            results["seeding"] = {"devices": devices, "devices_seconds": time.perf_counter() - took}
            if not args.skip_fanout:
                print("history: fan-out on the empty database…", flush=True)
                results["fanout_empty"] = fan_out(sim, args.fanout_devices, args.fanout_rounds)
            took = time.perf_counter()
            results["seeding"]["steps"] = seed_history(plan)
            results["seeding"]["seconds"] = time.perf_counter() - took
            print("history: rolling up…", flush=True)
            results["rollup"] = roll_up(args.rollup_budget)
            print(f"history: rolled up in {results['rollup']['seconds']:.1f} s", flush=True)
        results["rows"] = history_counts()
        print("history: each rollup source over the last day…", flush=True)
        results["rollup_sources"] = rollup_source_costs()
        if not args.skip_fanout:
            print("history: fan-out with the history…", flush=True)
            results["fanout_history"] = fan_out(sim, args.fanout_devices, args.fanout_rounds)
    results["bytes"] = table_sizes()
    print("history: pages…", flush=True)
    results["pages"] = measure_pages(args.requests)
    if not args.skip_retention:
        print("history: deleting the oldest day…", flush=True)
        results["retention"] = retention_day()
    results["seconds"] = time.time() - started
    print(write_results(results))


def _previous_results() -> dict[str, Any]:
    try:
        return json.loads((RESULTS / "history-latest.json").read_text())
    except (OSError, ValueError):
        return {}


def write_results(results: dict[str, Any]) -> str:
    """bench/results/history-latest.json and .md (and a timestamped JSON); returns the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, default=str)
    (RESULTS / "history-latest.json").write_text(text)
    (RESULTS / f"history-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(text)
    table = report(results)
    (RESULTS / "history-latest.md").write_text(table)
    return table


def report(results: dict[str, Any]) -> str:
    rows = results.get("rows", {})
    seeded = rows.get("notifications_delivery", 0) - rows.get("fanout_deliveries", 0)
    lines = [
        f"# History: {seeded:,} deliveries over {rows.get('days', 0)} days, and {rows.get('fanout_deliveries', 0):,} "
        f"of the fan-out check ({results.get('started')})",
        "",
        "| Page | Requests | p50 ms | p95 ms | max ms | Queries | Slowest query ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, page in results.get("pages", {}).items():
        flag = " **over 200 ms**" if page["p95_ms"] > PAGE_BOUND_MS else ""
        lines.append(
            f"| {name} | {page['requests']} | {page['p50_ms']:.0f} | {page['p95_ms']:.0f}{flag} | {page['max_ms']:.0f} "
            f"| {page['queries']} | {page['slowest_query_ms']:.0f} |"
        )
    lines.append("")
    for key, label in (("fanout_empty", "empty database"), ("fanout_history", "with the history")):
        if key in results:
            f = results[key]
            lines.append(
                f"- Fan-out, {label}: {f['per_minute']:,.0f}/min ({f['devices']:,} devices, median of "
                f"{len(f['rounds'])}), CPU a delivery: this process {f['process_cpu_us']:.0f} µs, "
                f"its PostgreSQL backend {f['postgres_cpu_us']:.0f} µs"
            )
    if "bytes" in results:
        b = results["bytes"]
        per_row = ", ".join(
            f"{t.split('_', 1)[1]} {v['bytes_per_row']:.0f} B" for t, v in b["tables"].items() if v["bytes_per_row"]
        )
        lines.append(f"- Bytes per row (tables, indexes, TOAST): {per_row}")
        lines.append(
            f"- Bytes per delivery (notification, delivery, attempts, failed records): {b['bytes_per_delivery']:.0f}"
            f"; with events: {b['bytes_per_delivery_with_events']:.0f}"
        )
    if "rollup" in results:
        r = results["rollup"]
        behind = f", stopped behind at {min(r['counted_until'].values())}" if r["facts"].get("behind") else ""
        lines.append(
            f"- Rollups' catch-up over the history: {r['seconds']:.1f} s, {r['rollup_rows']:,} rollup rows{behind}"
        )
    if "rollup_sources" in results:
        r = results["rollup_sources"]
        costs = ", ".join(
            f"{name} {seconds:.1f} s ({r['us_per_delivery'][name]:.0f} µs a delivery)"
            for name, seconds in r["seconds_per_day"].items()
        )
        lines.append(
            f"- Rollups, seconds a day of history per source (the last {r['days']} days, {r['deliveries']:,} "
            f"deliveries): {costs}"
        )
    if results.get("retention"):
        r = results["retention"]
        lines.append(
            f"- Dropping the oldest day ({r['day']}): {sum(r['dropped_rows'].values()):,} rows in "
            f"{r['drop_seconds'] * 1000:,.0f} ms, WAL {r['wal_bytes'] / 1e3:,.0f} kB; meanwhile "
            f"{r['concurrent_inserts']} inserts of today's notifications, the slowest "
            f"{r['concurrent_insert_max_ms']:.1f} ms (median {r['concurrent_insert_p50_ms']:.1f} ms)"
        )
    if "seeding" in results and "seconds" in results["seeding"]:
        lines.append(f"- Seeding: {results['seeding']['seconds']:.0f} s")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
