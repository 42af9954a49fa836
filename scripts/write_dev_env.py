"""Write `.env` for local development: fresh secrets, and every push provider
pointed at the local simulator (pushsim) with its generated credentials.

Keys already in `.env` are kept; missing ones are added. Production never uses
this file: it sets the variables itself, and settings refuse to start
without DJANGO_SECRET_KEY.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pushsim import credentials  # noqa: E402

SIMULATOR = "http://127.0.0.1:9099"


def wanted() -> dict[str, str]:
    paths = credentials.ensure(ROOT / ".pushsim", SIMULATOR)
    apns = json.loads(paths.apns_meta.read_text())
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "JWT_ISSUER": "https://auth.shop.example",
        "JWT_AUDIENCE": "pushcart",
        "WEB_PUSH_ALLOW_HTTP_ENDPOINTS": "1",
        "WEB_PUSH_ALLOW_PRIVATE_ADDRESSES": "1",  # pushsim's Web Push endpoints are on 127.0.0.1
        "FCM_CREDENTIALS_FILE": str(paths.service_account),
        "FCM_ENDPOINT": SIMULATOR,
        "APNS_KEY_FILE": str(paths.apns_key),
        "APNS_KEY_ID": apns["key_id"],
        "APNS_TEAM_ID": apns["team_id"],
        "APNS_TOPIC": apns["topic"],
        "APNS_ENDPOINT": "https://127.0.0.1:9100",
        "APNS_CA_FILE": str(paths.ca_cert),
        "VAPID_PRIVATE_KEY": str(paths.vapid_private),
    }


def main() -> int:
    path = ROOT / ".env"
    existing = (
        path.read_text()
        if path.exists()
        else ("# Local development only; written by scripts/write_dev_env.py. Not for deployment.\n")
    )
    present = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    missing = {name: value for name, value in wanted().items() if name not in present}
    if missing:
        lines = "".join(f"{name}={value}\n" for name, value in missing.items())
        path.write_text(existing + ("" if existing.endswith("\n") else "\n") + lines)
        path.chmod(0o600)
        print(f"pushcart: .env now sets {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
