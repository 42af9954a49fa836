"""Do the library internals Pushcart leans on still pay for themselves? A/B against pushsim.

    python -m bench.transport_internals [--messages 4000] [--rounds 5] [--batch 500]

APNs, three protocol classes in the same ApnsProvider (swapped in as aioapns' pool.protocol_class):
  stock         aioapns' APNsTLSClientProtocol: a TLS write and a new inactivity timer per push, h2
                validating and normalising headers, hpack's encoder with its dynamic table
  lean+hpack    providers.apns.LeanProtocol with hpack's encoder put back into h2's conn.encoder
  lean+literal  LeanProtocol with LiteralHeaderEncoder: what ships
FCM through firebase-admin, which Pushcart reaches into twice (providers/fcm_sdk.configure_sdk):
  the FCM_URL patch   whether the SDK can reach any endpoint but Google's without it (checked, not sent)
  the adapter remount what one 503 costs with the SDK's own retries and without (timed)
  send_each           msg/s and CPU of the SDK transport beside the fast transport (no internals), for scale

Variants run interleaved, each round in a rotated order, each run on fresh connections after a warm-up;
the table gives the median and the range over rounds: the machine is shared, so single runs are noisy.
Client CPU is this process's (process_time: every thread), the simulator's from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bench.stack  # noqa: F401 - the benchmark's environment (secrets, its own database), not .env


@dataclass
class Run:
    delivered: int
    rate: float  # messages a second
    client_us: float  # client CPU µs per message
    sim_us: float  # simulator CPU µs per message


def apns_variants() -> dict[str, Callable[[type], type]]:
    """name -> how to make the variant's protocol class from the provider's (LeanProtocol, aimed at pushsim)."""
    import hpack
    from aioapns.connection import APNsTLSClientProtocol

    def stock(shipped: type) -> type:
        address = {"APNS_SERVER": shipped.APNS_SERVER, "APNS_PORT": shipped.APNS_PORT}
        return type("StockProtocol", (APNsTLSClientProtocol,), address)

    def lean_hpack(shipped: type) -> type:
        def __init__(self, *args: object, **kwargs: object) -> None:  # noqa: N807
            shipped.__init__(self, *args, **kwargs)
            self.conn.encoder = hpack.Encoder()

        return type("LeanHpackProtocol", (shipped,), {"__init__": __init__})

    return {"stock": stock, "lean+hpack": lean_hpack, "lean+literal": lambda shipped: shipped}


async def apns_run(sim, make_protocol: Callable[[type], type], requests: Sequence, batch: int) -> Run:  # type: ignore[no-untyped-def]

    from providers.base import OutcomeKind
    from providers.registry import build_provider

    provider = build_provider("apns")
    pool = provider.client.pool
    pool.protocol_class = make_protocol(pool.protocol_class)
    try:
        await provider.send_batch(requests[: min(batch, len(requests))])  # connect, sign the JWT
        await asyncio.to_thread(sim.reset)
        return await measured(sim, lambda part: provider.send_batch(part), requests, batch, OutcomeKind)
    finally:
        await provider.close()


async def measured(sim, send, requests: Sequence, batch: int, kinds) -> Run:  # type: ignore[no-untyped-def]
    cpu0, sim_cpu0, t0 = time.process_time(), sim.cpu_seconds(), time.perf_counter()
    delivered = 0
    for start in range(0, len(requests), batch):
        outcomes = await send(requests[start : start + batch])
        delivered += sum(o.kind is kinds.DELIVERED for o in outcomes)
    wall = time.perf_counter() - t0
    cpu, sim_cpu = time.process_time() - cpu0, sim.cpu_seconds() - sim_cpu0
    per = max(delivered, 1)
    return Run(delivered, delivered / wall, cpu / per * 1e6, sim_cpu / per * 1e6)


async def fcm_run(sim, transport: str, requests: Sequence, batch: int) -> Run:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from providers.base import OutcomeKind

    if transport == "sdk":
        from providers.fcm_sdk import FcmSdkProvider

        provider = FcmSdkProvider(
            credentials_file=settings.FCM_CREDENTIALS_FILE,
            endpoint=settings.FCM_ENDPOINT,
            max_concurrency=settings.FCM_MAX_CONCURRENCY,
        )
    else:
        from providers.fcm import FcmHttpProvider

        provider = FcmHttpProvider(
            credentials_file=settings.FCM_CREDENTIALS_FILE,
            endpoint=settings.FCM_ENDPOINT,
            max_concurrency=settings.FCM_MAX_CONCURRENCY,
        )
    try:
        await provider.send_batch(requests[: min(50, len(requests))])  # connect, fetch the OAuth token
        await asyncio.to_thread(sim.reset)
        return await measured(sim, provider.send_batch, requests, batch, OutcomeKind)
    finally:
        await provider.close()


def unpatched_sdk_url() -> str:
    """Where firebase-admin would post without the FCM_URL patch (a fresh app; nothing is sent).

    Call it before any FcmSdkProvider is built: the patch is a class attribute, process-wide."""
    import uuid

    import firebase_admin
    from django.conf import settings
    from firebase_admin import credentials, messaging

    app = firebase_admin.initialize_app(
        credentials.Certificate(settings.FCM_CREDENTIALS_FILE), name=f"bench-{uuid.uuid4().hex[:8]}"
    )
    try:
        return messaging._MessagingService(app)._fcm_url
    finally:
        firebase_admin.delete_app(app)


def one_refused_push(sim, remount: bool) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Seconds and requests for one push the service answers 503, with Pushcart's adapter remount or the SDK's."""
    import uuid

    import firebase_admin
    import requests.adapters
    from django.conf import settings
    from firebase_admin import credentials, messaging

    from providers.fcm_sdk import configure_sdk

    app = firebase_admin.initialize_app(
        credentials.Certificate(settings.FCM_CREDENTIALS_FILE), name=f"bench-{uuid.uuid4().hex[:8]}"
    )
    try:
        configure_sdk(app, settings.FCM_ENDPOINT, pool_size=4)
        if not remount:  # put back what firebase-admin mounts: its retrying adapter
            from firebase_admin import _http_client

            adapter = requests.adapters.HTTPAdapter(max_retries=_http_client.DEFAULT_RETRY_CONFIG)
            messaging._get_messaging_service(app)._client.session.mount(settings.FCM_ENDPOINT, adapter)
        with warnings.catch_warnings():  # firebase-admin 7.7 deprecates `token`, the v1 field FCM tokens go in
            warnings.simplefilter("ignore", DeprecationWarning)
            message = messaging.Message(token="unavailable-bench", notification=messaging.Notification(title="t"))
        messaging.send_each([message], app=app)  # fetches the token first
        sim.reset()
        t0 = time.perf_counter()
        [response] = messaging.send_each([message], app=app).responses
        assert not response.success
        return time.perf_counter() - t0, sim.stats()["requests"]
    finally:
        firebase_admin.delete_app(app)


def summary(label: str, runs: list[Run]) -> str:
    def med(values: list[float]) -> str:
        return f"{statistics.median(values):>7.0f} ({min(values):.0f}-{max(values):.0f})"

    return (
        f"{label:<32} {min(r.delivered for r in runs):>6} {med([r.rate for r in runs]):>22}"
        f" {med([r.client_us for r in runs]):>22} {med([r.sim_us for r in runs]):>22}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000, help="Pushes per run.")
    parser.add_argument("--rounds", type=int, default=5, help="Runs of each variant (interleaved); at least 3.")
    parser.add_argument("--batch", type=int, default=500, help="Messages per send_batch, as the workers send.")
    args = parser.parse_args()

    # Settings only, no django.setup(): nothing here touches models or apps, so the bench runs
    # whatever state the engine's apps are in.
    from importlib.metadata import version

    import firebase_admin
    import hpack

    from bench.providers import use_simulator
    from providers.base import PushMessage, PushTarget, SendRequest
    from pushsim.control import running

    message = PushMessage(title="Your basket misses you", body="3 items are waiting", data={"cart_id": "c-1"})

    def requests(provider: str, round_: int) -> list[SendRequest]:
        return [
            SendRequest(PushTarget(f"bench-{provider}-{round_}-{i}"), message, notification_id=str(10**9 + i))
            for i in range(args.messages)
        ]

    variants = apns_variants()
    runs: dict[str, list[Run]] = {name: [] for name in [*variants, "fcm sdk", "fcm fast"]}
    with running(Path(tempfile.mkdtemp(prefix="pushsim-internals-"))) as sim:
        use_simulator(sim)
        sdk_url = unpatched_sdk_url()
        for round_ in range(args.rounds):
            names = list(runs)
            names = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in names:
                if name in variants:
                    run = apns_run(sim, variants[name], requests("apns", round_), args.batch)
                else:
                    run = fcm_run(sim, name.split()[1], requests("fcm", round_), args.batch)
                runs[name].append(asyncio.run(run))
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        with_remount = one_refused_push(sim, remount=True)
        without_remount = one_refused_push(sim, remount=False)

    print(
        f"\naioapns {version('aioapns')}, h2 {version('h2')}, hpack {hpack.__version__}, "
        f"firebase-admin {firebase_admin.__version__}; {args.messages} pushes a run, {args.rounds} rounds, "
        "median (min-max)"
    )
    print(f"{'variant':<32} {'sent':>6} {'msg/s':>22} {'client CPU µs/msg':>22} {'sim CPU µs/msg':>22}")
    for name, label in [
        ("stock", "APNs stock aioapns protocol"),
        ("lean+hpack", "APNs LeanProtocol, hpack enc."),
        ("lean+literal", "APNs LeanProtocol, literal enc."),
        ("fcm sdk", "FCM firebase-admin (patched)"),
        ("fcm fast", "FCM fast transport"),
    ]:
        print(summary(label, runs[name]))
    print(f"\nfirebase-admin without the FCM_URL patch posts to {sdk_url}: pushsim is unreachable that way.")
    for label, (seconds, sent) in [("Pushcart's remount", with_remount), ("firebase-admin's adapter", without_remount)]:
        print(f"One 503 answer with {label}: {seconds:.2f} s, {sent} request(s) to the service.")


if __name__ == "__main__":
    main()
