"""Pushcart's settings plus django-push-notifications, for the benchmark's baseline workers only.

Its three providers are configured as its documentation shows, with the simulator's credentials (the
environment of bench.processes.worker_environment). Two adjustments are needed to point it at a local
simulator and are not speed-ups: APNS_AUTH_KEY_PATH holds the key's text, because the library hands that
value to aioapns as the key itself; Web Push registration ids are the simulator's endpoint paths, joined
to WP_POST_URL (the library only takes https:// endpoints whole).
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "push_notifications", "bench.baseline"]  # noqa: F405
PUSH_NOTIFICATIONS_SETTINGS = {"FCM": {}}
if os.environ.get("APNS_KEY_FILE"):
    PUSH_NOTIFICATIONS_SETTINGS |= {
        "APNS_AUTH_KEY_PATH": Path(os.environ["APNS_KEY_FILE"]).read_text(),
        "APNS_AUTH_KEY_ID": os.environ["APNS_KEY_ID"],
        "APNS_TEAM_ID": os.environ["APNS_TEAM_ID"],
        "APNS_TOPIC": os.environ["APNS_TOPIC"],
        "APNS_USE_SANDBOX": False,
        "WP_PRIVATE_KEY": os.environ["VAPID_PRIVATE_KEY"],
        "WP_CLAIMS": {"sub": "mailto:bench@shop.example"},
        "WP_POST_URL": {"CHROME": os.environ["FCM_ENDPOINT"].rstrip("/") + "/wp"},
    }
