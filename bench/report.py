"""The benchmark's results: JSON, a Markdown table, and a chart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

FANOUT_TARGET_PER_MINUTE = 150_000
PRIORITY_P99_TARGET_MS = 1000
BASELINE_MULTIPLE_TARGET = 3


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}/min"


def table(results: dict[str, Any]) -> str:
    s = results["scenarios"]
    ceiling = s.get("ceiling", {}).get("per_minute")
    baseline = s.get("baseline", {}).get("per_minute")

    def share(per_minute: float | None, *, against_baseline: bool = True) -> str:
        parts = []
        if per_minute and ceiling:
            parts.append(f"{per_minute / ceiling:.0%} of the ceiling")
        if per_minute and baseline and against_baseline:
            ratio = per_minute / baseline
            met = "met" if ratio >= BASELINE_MULTIPLE_TARGET else "NOT met"
            parts.append(f"{ratio:.1f}x the baseline (target {BASELINE_MULTIPLE_TARGET}x {met})")
        return "".join(f"; {part}" for part in parts)

    rows = ["| Scenario | Result | Notes |", "|---|---|---|"]
    if ceiling:
        c = s["ceiling"]
        rows.append(
            f"| Ceiling: bare aiohttp → simulator (FCM) | {_rate(ceiling)} | client {c['client_cpu_us']:.0f} µs, "
            f"simulator {c['sim_cpu_us']:.0f} µs CPU per message |"
        )
    if "fanout" in s:
        f = s["fanout"]
        met = "met" if f["per_minute"] >= FANOUT_TARGET_PER_MINUTE else "NOT met"
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in f["cpu_us_per_delivery"].items())
        rows.append(
            f"| 1. Campaign fan-out, {f['devices']:,} devices | {_rate(f['per_minute'])} ({f['seconds']:.1f} s; first "
            f"after {f['first_after_s']:.2f} s) | target 150,000/min {met}{share(f['per_minute'])}; peak RSS per "
            f"worker process {', '.join(f'{m:.0f}' for m in f['peak_rss_mb'])} MB; CPU µs/delivery: {cpu} |"
        )
    if "events" in s:
        e = s["events"]
        rows.append(
            f"| 2. Event burst, {e['events']:,} order events (batches of 500) | {e['accepted_per_second']:,.0f} "
            f"events/s accepted | accepted → pushed p50 {e['p50_ms']:.0f} ms, p95 {e['p95_ms']:.0f} ms, "
            f"p99 {e['p99_ms']:.0f} ms, max {e['max_ms']:.0f} ms ({e['delivered']:,} pushed) |"
        )
    if "priority" in s:
        p = s["priority"]
        met = "met" if p["p99_ms"] < PRIORITY_P99_TARGET_MS else "NOT met"
        rows.append(
            f"| 3. Order events during the fan-out ({p['events']:,} events) | p99 {p['p99_ms']:.0f} ms | p50 "
            f"{p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms, max {p['max_ms']:.0f} ms; target p99 < 1 s {met} |"
        )
    if "faults" in s:
        f = s["faults"]
        rows.append(
            f"| 4. Fan-out with 5% 503 + 1% 429 | {_rate(f['per_minute'])} ({f['seconds']:.1f} s) | "
            f"{f['deliveries']:,} deliveries: {f['delivered']:,} delivered + {f['failed_with_record']:,} failed "
            f"records, {f['unaccounted']} unaccounted; {f['attempts']:,} attempts |"
        )
    if "failover" in s:
        f, calm = s["failover"]["failover"], s["failover"].get("calm", {})
        without = f"{calm['seconds']:.1f} s without faults" if calm else "no run without faults"
        rows.append(
            f"| 4b. Database failover: throttled campaign to {f['devices']:,} devices; PostgreSQL restarted, crashed "
            f"({s['failover']['plan']['down_seconds']:g} s down), marketing worker killed | {f['seconds']:.1f} s to "
            f"complete ({without}) | {f['delivered']:,} delivered, {f['lost']:,} lost, {f['pushed_twice']:,} pushed "
            f"twice ({f['share_twice']:.1%}); {f['events']:,} order events: {f['orders_lost']} lost, "
            f"{f['orders_twice']} twice; {'nothing' if not f['died'] else ', '.join(f['died'])} died |"
        )
    if baseline:
        b = s["baseline"]
        rows.append(
            f"| 5. Baseline: django-push-notifications, Celery, {b['devices']:,} devices (same mix) | "
            f"{_rate(baseline)} ({b['seconds']:.1f} s) | {b['accepted']:,} accepted: "
            + ", ".join(
                f"{name} {b['accepted_by_provider'].get(name, 0):,} of {n:,}" for name, n in b["by_provider"].items()
            )
            + f"; worker CPU {b['worker_cpu_us_per_delivery']:.0f} µs/delivery; peak RSS "
            f"{', '.join(f'{m:.0f}' for m in b['peak_rss_mb'])} MB{share(baseline, against_baseline=False)} |"
        )
    if "api" in s:
        a = s["api"]
        t = a["target"]
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in t["cpu_us_per_request"].items())
        rows.append(
            f"| 6. API, open loop, single requests (70% events, 15% sends, 10% devices, 5% preferences) | "
            f"knee {a['knee_per_second']:,.0f} requests/s | at {t['offered_per_second']:,.0f}/s offered: "
            f"{t['achieved_per_second']:,.0f}/s answered {t['statuses']}, HTTP p99 {t['http_p99_ms']:.0f} ms, "
            f"push p99 {t['push_p99_ms']:.0f} ms, PostgreSQL connections at peak "
            f"{t['pg_connections_peak'].get('total', 0)}; CPU µs/request: {cpu} |"
        )
        if "overload" in a:
            o, after = a["overload"], a["after"]
            rows.append(
                f"| 7. API at 3x the knee ({o['offered_per_second']:,.0f}/s) | {o['shed']:,} refused (503/429) | "
                f"refusals p99 {o['shed_p99_ms']:.0f} ms, {o['shed_without_retry_after']} without Retry-After; "
                f"answers {o['statuses']}; then {after['offered_per_second']:,.0f}/s: {after['statuses']}, "
                f"HTTP p99 {after['http_p99_ms']:.0f} ms |"
            )
    return "\n".join(rows)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = results["scenarios"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    if "fanout" in s:
        seconds, counts = zip(*s["fanout"]["timeline"], strict=True) if s["fanout"]["timeline"] else ((), ())
        left.plot(seconds, [c * 60 for c in counts], label="Pushcart campaign fan-out")
    if "baseline" in s:
        left.axhline(s["baseline"]["per_minute"], color="tab:red", linestyle="--", label="baseline (average)")
    if "ceiling" in s:
        left.axhline(s["ceiling"]["per_minute"], color="tab:gray", linestyle=":", label="ceiling (bare client)")
    left.set(title="Deliveries per minute over time", xlabel="seconds since launch", ylabel="deliveries/min")
    left.legend()
    for name, colour in (("events", "tab:blue"), ("priority", "tab:orange")):
        if name in s and s[name]["latencies_ms"]:
            values = sorted(s[name]["latencies_ms"])
            right.plot(
                values,
                [i / len(values) for i in range(len(values))],
                color=colour,
                label={"events": "event burst", "priority": "orders during the campaign"}[name],
            )
    right.set(title="Event accepted → push accepted", xlabel="ms", ylabel="share of events (CDF)", xscale="log")
    if right.lines:
        right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], directory: Path) -> str:
    text = table(results)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    summary = json.loads(json.dumps(results, default=str))
    runs = directory / "runs"  # every run's JSON, kept locally (git-ignored); latest.* is the one to share
    runs.mkdir(exist_ok=True)
    (runs / f"run-{stamp}.json").write_text(json.dumps(summary, indent=2))
    (directory / "latest.json").write_text(json.dumps(summary, indent=2))
    args = results["args"]
    header = (
        f"# Benchmark, {results['started']}\n\n`python -m bench` with devices={args['devices']:,}, "
        f"events={args['events']:,}, workers={args['workers']} x {args['concurrency']} children, "
        f"{results['seconds']:.0f} s in all, on this machine (2 cores), every push over HTTP to pushsim.\n\n"
    )
    (directory / "latest.md").write_text(header + text + "\n\n![throughput and latency](latest.png)\n")
    chart(results, directory / "latest.png")
    return text
