"""Bytes a campaign push costs in the engine's tables: `python -m bench.row_size`.

    .venv/bin/python -m bench.row_size [--devices 100000]

Builds the benchmark's shop (bench.scenarios: one device per shopper, the benchmark's platform mix) with tokens as
long as real ones (bench.history's: 163 characters for FCM, 64 for APNs) on an empty notifications history, sends
one campaign with bench.history's content (its first promotion: title, body, image, deep link with UTM parameters,
data, three translations) to all of it through the real engine against the simulator (fan-out
pages, then each batch, as the marketing workers do: bench.pipeline_cpu's loop), then reports for each table its
heap, indexes and TOAST (pg_relation_size, pg_indexes_size, pg_total_relation_size; every partition) over the
campaign's pushes.
Set BENCH_DATABASE and BENCH_REDIS to run it beside other benchmarks (bench.stack).
Results: bench/results/row-size-latest.{json,md} (and a timestamped JSON in bench/results/runs/), and the table
printed. bench/results/row-size-before.json holds the figures before compact rows (commit 7c7e81a).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sizes import index_bytes, relation_bytes
from bench.stack import prepare_database

RESULTS = Path(__file__).resolve().parent / "results"
# What a push is written into; content rows (one per variant) are counted in when the table exists.
TABLES = (
    "notifications_notificationcontent",
    "notifications_notification",
    "notifications_delivery",
    "notifications_deliveryattempt",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()

    prepare_database()
    from django.conf import settings

    from bench.providers import use_simulator
    from bench.scenarios import build_shop
    from pushsim.control import running

    settings.DATABASE_SYNCHRONOUS_COMMIT = "off"  # as the marketing workers run
    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        use_simulator(sim)
        _, segment_id = build_shop(sim, args.devices)
        real_length_tokens()
        pushes = send_campaign(segment_id)
    results = {"started": datetime.now(UTC).isoformat(), "devices": args.devices, **measure(pushes)}
    print(write_results(results))


def real_length_tokens() -> None:
    from django.db import connection

    from bench.history import _fcm_token

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE devices_device SET token = CASE provider WHEN 'fcm' THEN {_fcm_token('id')} "
            "ELSE md5('apns' || id) || md5('apns2' || id) END WHERE provider IN ('fcm', 'apns')"
        )
        cursor.execute("VACUUM ANALYZE devices_device")


def send_campaign(segment_id: int) -> int:
    """One campaign to the whole shop, page by page and batch by batch; returns its deliveries."""
    from audience.models import Segment
    from bench.history import _promotion_templates
    from campaigns import batches
    from campaigns.fanout import fan_out_page
    from campaigns.models import BatchStatus, Campaign, CampaignBatch, CampaignRun, CampaignStatus
    from notifications.models import Delivery
    from providers.runtime import runtime

    campaign = Campaign.objects.create(
        name="row size",
        template=_promotion_templates()[0],
        segment=Segment.objects.get(pk=segment_id),
        context={"discount": "20%", "category": "strawberries", "offer": "offer-0001"},
        status=CampaignStatus.SENDING,
    )
    run = CampaignRun.objects.create(campaign=campaign)
    cursor: str | None = ""
    while cursor is not None:
        cursor = fan_out_page(run.pk, cursor)
        for batch_id in CampaignBatch.objects.filter(run=run, status=BatchStatus.PENDING).values_list("pk", flat=True):
            batches.send(batch_id)
    runtime.reset()
    return Delivery.objects.count()


def measure(pushes: int) -> dict[str, Any]:
    from django.db import connection

    tables: dict[str, dict[str, int | float]] = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                continue
            total, heap, indexes, rows = relation_bytes(cursor, table)
            tables[table] = {
                "rows": rows,
                "heap": heap,
                "indexes": indexes,
                "toast_and_maps": total - heap - indexes,
                "total": total,
                "bytes_per_push": total / pushes,
                "index_sizes": index_bytes(cursor, table),  # type: ignore[dict-item]
            }
    return {"pushes": pushes, "tables": tables, "bytes_per_push": sum(t["total"] for t in tables.values()) / pushes}


def write_results(results: dict[str, Any]) -> str:
    """bench/results/row-size-latest.json and .md (and a timestamped JSON in runs/); returns the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1)
    (RESULTS / "row-size-latest.json").write_text(text)
    runs = RESULTS / "runs"  # every run's JSON, kept locally (git-ignored), as bench.report keeps the others'
    runs.mkdir(exist_ok=True)
    (runs / f"row-size-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(text)
    lines = [
        f"# Bytes per campaign push: {results['pushes']:,} pushes to {results['devices']:,} devices "
        f"({results['started']})",
        "",
        "| Table | Rows | Heap B/push | Indexes B/push | TOAST, maps B/push | Total B/push |",
        "|---|---|---|---|---|---|",
    ]
    pushes = results["pushes"]
    for table, size in results["tables"].items():
        lines.append(
            f"| {table} | {size['rows']:,} | {size['heap'] / pushes:.0f} | {size['indexes'] / pushes:.0f} "
            f"| {size['toast_and_maps'] / pushes:.0f} | {size['bytes_per_push']:.0f} |"
        )
    lines.append(f"| all | | | | | **{results['bytes_per_push']:.0f}** |")
    lines.append("")
    for table, size in results["tables"].items():
        each = ", ".join(f"{name} {value / pushes:.1f}" for name, value in size["index_sizes"].items())
        lines.append(f"- {table} indexes, B/push: {each}")
    table = "\n".join(lines) + "\n"
    (RESULTS / "row-size-latest.md").write_text(table)
    return table


if __name__ == "__main__":
    main()
