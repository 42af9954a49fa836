"""Typed readers for settings that come from the environment.

Settings are read from the process environment, with a `.env` file in the
project root loaded first (without overriding what the environment already
says). The README's run command writes that file with freshly generated
development secrets; production sets real variables instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# PUSHCART_ENV_FILE names another file (or /dev/null for none).
load_dotenv(os.environ.get("PUSHCART_ENV_FILE", BASE_DIR / ".env"), override=False)


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} must be set (see README.md, 'Configuration').")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def process_kind(argv: list[str] | None = None) -> str:
    """What this process is (web, worker, beat or a manage.py command), from how it was started.

    Each process kind names itself to PostgreSQL as its `application_name`, so that connections can be
    counted by kind (pg_stat_activity; docs/SCALING.md sizes the pool from those counts).
    """
    # `python -m celery …` has celery/__main__.py as its first argument
    args = [_program(arg) for arg in (sys.argv if argv is None else argv)]
    if any(arg in ("uvicorn", "gunicorn") for arg in args[:3]) or "config.asgi:application" in args:
        return "pushcart-web"
    if "celery" in args[:3]:
        for kind in ("worker", "beat"):
            if kind in args:
                return f"pushcart-{kind}"
        return "pushcart-celery"
    if "manage.py" in args and len(args) > args.index("manage.py") + 1:
        return f"pushcart-{args[args.index('manage.py') + 1]}"[:63]
    return "pushcart"


def _program(arg: str) -> str:
    path = Path(arg)
    return path.parent.name if path.name == "__main__.py" else path.name
