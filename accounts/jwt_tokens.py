"""JWTs of the shop's auth server: verification for the API, minting for development."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.limits import MAX_USER_ID_LENGTH

SYMMETRIC = {"HS256", "HS384", "HS512"}
ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}


class InvalidAppTokenError(Exception):
    """The token is missing a claim, expired, badly signed or for someone else."""


def _pem(value: str) -> str:
    """A PEM setting may hold the key itself or the path of a file holding it."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    return Path(value).read_text()


@lru_cache(maxsize=4)
def _verification_key(algorithm: str, secret: str, public_key: str) -> str:
    if algorithm in SYMMETRIC:
        if len(secret) < 32:
            raise ImproperlyConfigured("JWT_SECRET must be set to at least 32 characters for HS* algorithms.")
        return secret
    if algorithm in ASYMMETRIC:
        if not public_key:
            raise ImproperlyConfigured(f"JWT_PUBLIC_KEY must be set for {algorithm}.")
        return _pem(public_key)
    raise ImproperlyConfigured(f"JWT_ALGORITHM={algorithm!r} is not supported.")


def verify_app_token(token: str) -> str:
    """Return the user id (`sub`) of a valid token, or raise InvalidAppTokenError."""
    algorithm = settings.JWT_ALGORITHM
    key = _verification_key(algorithm, settings.JWT_SECRET, settings.JWT_PUBLIC_KEY)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAppTokenError("Token has expired.") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidAppTokenError(f"Invalid token: {exc}.") from None
    # A token valid for a century, if it leaked, would be a password that can't be changed: the shop's auth
    # server issues short-lived ones, and anything longer than JWT_MAX_LIFETIME_SECONDS is refused.
    numeric = all(isinstance(claims[c], (int, float)) and not isinstance(claims[c], bool) for c in ("exp", "iat"))
    lifetime = claims["exp"] - claims["iat"] if numeric else None
    if lifetime is None or lifetime > settings.JWT_MAX_LIFETIME_SECONDS:
        raise InvalidAppTokenError(
            f"Invalid token: `exp` must be at most {settings.JWT_MAX_LIFETIME_SECONDS} seconds after `iat`."
        )
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > MAX_USER_ID_LENGTH:
        raise InvalidAppTokenError(f"Invalid token: `sub` must be a string of 1 to {MAX_USER_ID_LENGTH} characters.")
    return subject


def mint_app_token(user_id: str, lifetime_seconds: int = 3600, private_key: str | None = None) -> str:
    """Sign a token as the shop's auth server would (development and tests only)."""
    algorithm = settings.JWT_ALGORITHM
    now = int(time.time())
    claims = {
        "sub": user_id,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + lifetime_seconds,
    }
    if algorithm in SYMMETRIC:
        key = _verification_key(algorithm, settings.JWT_SECRET, "")
    else:
        private = private_key or settings.JWT_PRIVATE_KEY
        if not private:
            raise ImproperlyConfigured(f"Minting {algorithm} tokens needs JWT_PRIVATE_KEY (a PEM or its path).")
        key = _pem(private)
    return jwt.encode(claims, key, algorithm=algorithm)
