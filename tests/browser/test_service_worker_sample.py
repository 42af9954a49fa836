"""Issue 21, item 2, in a real browser: the service worker the API docs give the shop (its sample, as written) shows
a push sent twice once, and two notifications as two.

The pushes are the ones the Web Push provider sent pushsim (decrypted with the browser's key), handed to the
worker through Chromium's DevTools protocol (`ServiceWorker.deliverPushMessage`, what a push service's delivery
ends in); the page's origin serves the sample over real HTTP.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from notifications.api.views import JAVASCRIPT_SAMPLE
from providers.base import OutcomeKind, PushMessage, PushTarget, SendRequest
from providers.payloads import NOTIFICATION_ID_KEY
from tests.browser.session import CHROMIUM, CHROMIUM_ARGS
from tests.providers.conftest import browser_subscription, opened_webpush, send_with

pytestmark = pytest.mark.slow


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[str]:
    """A page and the sample service worker, served over HTTP on 127.0.0.1 (a secure context)."""
    (tmp_path / "index.html").write_text("<!doctype html><title>shop</title>")
    (tmp_path / "sw.js").write_text(JAVASCRIPT_SAMPLE)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pushed(sim, provider_settings, notification_id: str) -> str:  # type: ignore[no-untyped-def]
    """The JSON a browser's service worker gets for one notification's push, as the Web Push provider sent it."""
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh, auth = browser_subscription(key)
    name = f"ok-sw-{notification_id}"
    target = PushTarget(f"{sim.base_url}/wp/{name}", web_push_p256dh=p256dh, web_push_auth=auth)
    message = PushMessage(title="Order 1042 is delayed", body="Now arriving 15:00-16:00")
    [outcome] = send_with("webpush", [SendRequest(target, message, notification_id=notification_id)])
    assert outcome.kind is OutcomeKind.DELIVERED
    [push] = sim.messages(name)
    return json.dumps(opened_webpush(push, key))


def test_the_sample_service_worker_shows_a_push_sent_twice_once(sim, provider_settings, origin):
    from playwright.sync_api import sync_playwright

    first, second = pushed(sim, provider_settings, "7001"), pushed(sim, provider_settings, "7002")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.grant_permissions(["notifications"], origin=origin)
        page = context.new_page()
        page.goto(f"{origin}/index.html")
        cdp = context.new_cdp_session(page)
        registrations: list[str] = []

        def registered(event: dict) -> None:
            registrations.extend(r["registrationId"] for r in event["registrations"] if not r["isDeleted"])

        cdp.on("ServiceWorker.workerRegistrationUpdated", registered)
        cdp.send("ServiceWorker.enable")
        # Pushes are delivered once the worker is activated: one delivered earlier is dropped (seen on a loaded CI).
        page.evaluate(
            """navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then((r) =>
                new Promise((done) => {
                    const worker = r.active;
                    if (worker.state === "activated") return done();
                    worker.addEventListener("statechange", () => worker.state === "activated" && done());
                }))"""
        )
        for _ in range(100):  # DevTools tells of the registration as it comes
            if registrations:
                break
            page.wait_for_timeout(50)
        assert registrations, "the service worker registered"

        where = {"origin": origin, "registrationId": registrations[-1]}

        def shown() -> list[list]:
            """Each notification shown: its tag, title, when it was shown, and the notification id in its data."""
            return page.evaluate(
                """(key) => navigator.serviceWorker.ready.then((registration) => registration.getNotifications())
                    .then((shown) => shown.map((n) => [n.tag, n.title, n.timestamp, n.data[key]]))""",
                NOTIFICATION_ID_KEY,
            )

        def deliver_until(data: str, handled: Callable[[list[list]], bool]) -> list[list]:
            """Deliver `data` until the worker has shown what it makes. DevTools' delivery now and then loses a
            push (here about one in four; CI failed once on a push never shown), so one not shown within 3 s is
            delivered again, as a push service would. Harmless to what is tested: a copy replaces its tag's."""
            for _ in range(10):
                cdp.send("ServiceWorker.deliverPushMessage", {**where, "data": data})
                for _ in range(60):
                    now = shown()
                    if handled(now):
                        return now
                    page.wait_for_timeout(50)
            raise AssertionError(f"the worker never handled the push; it shows {now}")

        [[_, _, first_shown_at, _]] = deliver_until(first, lambda now: len(now) == 1)
        # The same notification's push again, as after a failover: it replaces the one shown (a later timestamp),
        # so the shopper still sees it once.
        again = deliver_until(first, lambda now: any(at != first_shown_at for _, _, at, _ in now))
        assert [tag for tag, *_ in again] == ["n7001"]
        # Another notification shows as another.
        both = deliver_until(second, lambda now: len(now) == 2)
        # Each keeps its notification's id in its data, for the click handler to report the open.
        assert sorted([tag, title, data_id] for tag, title, _, data_id in both) == [
            ["n7001", "Order 1042 is delayed", "7001"],
            ["n7002", "Order 1042 is delayed", "7002"],
        ]
        browser.close()
