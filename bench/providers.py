"""Messages per second and CPU per message through each provider adapter, against pushsim.

    .venv/bin/python -m bench.providers [--messages 5000] [--batch 500]

Starts the simulator, then from this one process sends through: FCM fast
transport, FCM firebase-admin transport, APNs (aioapns) and Web Push
(pywebpush), each in batches as the workers send. Also measures the
simulator's own ceiling with a bare aiohttp client (64 concurrent) that
bypasses the adapters. CPU is this process's (client) and the simulator's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
from pathlib import Path

import bench.stack  # noqa: F401 - the benchmark's environment (secrets, its own database), not .env


def subscription_keys() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    encode = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return encode(point), encode(os.urandom(16))


def use_simulator(sim) -> None:  # type: ignore[no-untyped-def]
    """Point this process's provider settings at the simulator (all three providers on)."""
    from django.conf import settings

    paths = sim.paths
    apns = json.loads(paths.apns_meta.read_text())
    settings.PUSH_PROVIDERS = ["fcm", "apns", "webpush"]
    settings.FCM_CREDENTIALS_FILE = str(paths.service_account)
    settings.FCM_ENDPOINT = sim.base_url
    settings.APNS_KEY_FILE, settings.APNS_KEY_ID = str(paths.apns_key), apns["key_id"]
    settings.APNS_TEAM_ID, settings.APNS_TOPIC = apns["team_id"], apns["topic"]
    settings.APNS_ENDPOINT, settings.APNS_CA_FILE = sim.apns_endpoint, str(paths.ca_cert)
    settings.VAPID_PRIVATE_KEY = str(paths.vapid_private)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
    from providers.runtime import runtime
    from pushsim.control import running

    message = PushMessage(title="Your basket misses you", body="3 items are waiting", data={"cart_id": "c-1"})
    rows = []
    with running(Path(tempfile.mkdtemp(prefix="pushsim-bench-"))) as sim:
        use_simulator(sim)
        p256dh, auth = subscription_keys()

        def targets(provider: str, n: int) -> list[PushTarget]:
            if provider == "webpush":
                return [PushTarget(f"{sim.base_url}/wp/bench-{i}", p256dh, auth) for i in range(n)]
            return [PushTarget(f"bench-{provider}-{i}") for i in range(n)]

        for label, provider, transport in [
            ("FCM, fast transport (keep-alive pool)", "fcm", "http"),
            ("FCM, firebase-admin send_each", "fcm", "sdk"),
            ("APNs (aioapns, HTTP/2)", "apns", None),
            ("Web Push (pywebpush encryption, keep-alive pool)", "webpush", None),
        ]:
            if transport:
                settings.FCM_TRANSPORT = transport
            runtime.reset()
            # Each request its own notification id, as the engine sends them (one message shared by all).
            requests = [
                SendRequest(t, message, notification_id=str(10**9 + i))
                for i, t in enumerate(targets(provider, args.messages))
            ]
            runtime.send(provider, requests[: min(50, len(requests))])  # connect, fetch tokens
            sim.reset()
            cpu0, sim_cpu0, t0 = time.process_time(), sim.cpu_seconds(), time.perf_counter()
            delivered = 0
            for start in range(0, len(requests), args.batch):
                outcomes = runtime.send(provider, requests[start : start + args.batch])
                delivered += sum(o.kind is OutcomeKind.DELIVERED for o in outcomes)
            wall = time.perf_counter() - t0
            rows.append(
                (
                    label,
                    delivered,
                    delivered / wall,
                    (time.process_time() - cpu0) / delivered * 1e6,
                    (sim.cpu_seconds() - sim_cpu0) / delivered * 1e6,
                )
            )
        runtime.reset()
        rows.append(ceiling(sim, args.messages * 2))

    print(f"{'path':<34} {'sent':>6} {'msg/s':>8} {'client CPU µs/msg':>18} {'sim CPU µs/msg':>15}")
    for label, sent, rate, client_cpu, sim_cpu in rows:
        print(f"{label:<34} {sent:>6} {rate:>8.0f} {client_cpu:>18.0f} {sim_cpu:>15.0f}")


def ceiling(sim, n: int) -> tuple:  # type: ignore[no-untyped-def]
    """The simulator's FCM ceiling: a bare client, already-issued token, 64 in flight."""
    import aiohttp
    import google.auth.transport.requests
    from google.oauth2 import service_account

    credential = service_account.Credentials.from_service_account_file(
        str(sim.paths.service_account), scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credential.refresh(google.auth.transport.requests.Request())
    url = f"{sim.base_url}/v1/projects/pushcart-sim/messages:send"
    headers = {"Authorization": f"Bearer {credential.token}", "Content-Type": "application/json"}

    async def run() -> int:
        limit = asyncio.Semaphore(64)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def one(i: int) -> bool:
                body = json.dumps({"message": {"token": f"ceiling-{i}", "notification": {"title": "t", "body": "b"}}})
                async with limit, session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    return response.status == 200

            return sum(await asyncio.gather(*(one(i) for i in range(n))))

    sim.reset()
    cpu0, sim_cpu0, t0 = time.process_time(), sim.cpu_seconds(), time.perf_counter()
    ok = asyncio.run(run())
    wall = time.perf_counter() - t0
    return (
        "Simulator ceiling (bare aiohttp, FCM)",
        ok,
        ok / wall,
        (time.process_time() - cpu0) / ok * 1e6,
        (sim.cpu_seconds() - sim_cpu0) / ok * 1e6,
    )


if __name__ == "__main__":
    main()
