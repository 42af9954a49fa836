"""Settings for the test suite: the real PostgreSQL and Redis, kept apart from development data.

pytest-django creates `test_<database>` on the same server; Redis uses its own
database number (15 unless TEST_REDIS_URL says otherwise).
"""

import os

os.environ["PUSHCART_ENV_FILE"] = os.devnull  # a developer's .env must not change what the tests see
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-any-deployment-0123456789")
os.environ.setdefault("JWT_SECRET", "test-only-jwt-secret-not-for-any-deployment")
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("WEB_PUSH_ALLOW_HTTP_ENDPOINTS", "1")
os.environ.setdefault("WEB_PUSH_ALLOW_PRIVATE_ADDRESSES", "1")  # the simulator on 127.0.0.1
os.environ.setdefault("PUSHCART_THROTTLE_USER", "100000/minute")
os.environ.setdefault("PUSHCART_THROTTLE_ANON", "100000/minute")
# No default quiet hours, so that no result depends on the hour the suite runs at; the quiet-hours
# tests set their own (tests/protection).
os.environ.setdefault("QUIET_HOURS_START", "00:00")
os.environ.setdefault("QUIET_HOURS_END", "00:00")

from config.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The test web process serves the admin's static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; test users only
