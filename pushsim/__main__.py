"""python -m pushsim --port 9099 [--apns-port 9100] [--state-dir .pushsim] [fault options]"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from pushsim import credentials
from pushsim.apns import ApnsProtocol, ApnsService, tls_context
from pushsim.behaviour import Behaviour, Config
from pushsim.http_server import HttpProtocol
from pushsim.http_services import HttpServices
from pushsim.store import MessageStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pushsim", description="Local FCM, APNs and Web Push simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099, help="HTTP: FCM, OAuth, Web Push, control (9099)")
    parser.add_argument("--apns-port", type=int, help="HTTP/2 + TLS: APNs (default: port + 1)")
    parser.add_argument("--state-dir", default=".pushsim", help="credentials and TLS files (created if missing)")
    parser.add_argument("--rate-429", type=float, default=0.0, help="share of answers that are 429")
    parser.add_argument("--rate-503", type=float, default=0.0)
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429/503")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests/s before 429s (0: none)")
    parser.add_argument("--seed", type=int)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    state_dir = Path(args.state_dir)
    base_url = f"http://{args.host}:{args.port}"
    paths = credentials.ensure(state_dir, base_url)
    behaviour = Behaviour(
        Config(
            rate_429=args.rate_429,
            rate_503=args.rate_503,
            rate_500=args.rate_500,
            retry_after=args.retry_after,
            latency_ms=args.latency_ms,
            latency_jitter_ms=args.latency_jitter_ms,
            rate_limit=args.rate_limit,
            seed=args.seed,
        )
    )
    store = MessageStore()
    loop = asyncio.get_running_loop()
    routes = HttpServices(behaviour, store, state_dir).routes()
    http_server = await loop.create_server(lambda: HttpProtocol(routes), args.host, args.port, backlog=1024)

    apns_port = args.apns_port or args.port + 1
    apns_service = ApnsService(behaviour, store, state_dir)
    apns_server = await loop.create_server(
        lambda: ApnsProtocol(apns_service),
        args.host,
        apns_port,
        ssl=tls_context(paths.server_cert, paths.server_key),
        backlog=1024,
    )
    print(
        f"pushsim ready: {base_url} (FCM, OAuth token, Web Push /wp/<id>, /control/) and "
        f"https://{args.host}:{apns_port} (APNs, CA {paths.ca_cert})",
        flush=True,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    apns_server.close()
    http_server.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works, a little slower
        pass
    asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
