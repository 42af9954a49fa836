"""Validation of what the app says about a device."""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_:.\-]+$")
LOCALE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
APP_VERSION_PATTERN = re.compile(r"^\d+(\.\d+){0,3}([-+][0-9A-Za-z.\-]+)?$")
MAX_NATIVE_TOKEN_LENGTH = 512


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_native_token(token: str) -> str:
    """An FCM registration token or an APNs device token."""
    if len(token) > MAX_NATIVE_TOKEN_LENGTH:
        raise ValidationError(f"Ensure this token has at most {MAX_NATIVE_TOKEN_LENGTH} characters.")
    if not TOKEN_PATTERN.match(token):
        raise ValidationError("A push token has only letters, digits and the characters _ : . -")
    return token


def normalize_locale(value: str) -> str:
    """`en_gb` and `en-GB` both become `en-GB` (BCP 47 casing)."""
    candidate = value.replace("_", "-")
    if not LOCALE_PATTERN.match(candidate):
        raise ValidationError(f"{value!r} is not a locale such as 'en', 'en-GB' or 'pt-BR'.")
    language, *rest = candidate.split("-")
    parts = [language.lower()]
    for part in rest:
        if len(part) == 2:
            parts.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())  # script
        else:
            parts.append(part.lower())
    return "-".join(parts)


def validate_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as 'Europe/London'.")
    return value


def validate_app_version(value: str) -> str:
    if not APP_VERSION_PATTERN.match(value):
        raise ValidationError(f"{value!r} is not a version such as '4.2' or '4.2.1'.")
    return value


def validate_web_push_key(value: str, *, decoded_length: int, name: str) -> str:
    """Subscription keys are unpadded base64url of a fixed length (65 bytes p256dh, 16 auth)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError(f"{name} is not base64url.") from None
    if len(raw) != decoded_length:
        raise ValidationError(f"{name} must decode to {decoded_length} bytes, not {len(raw)}.")
    return value
