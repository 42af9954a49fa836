"""Pushcart's settings plus django-push-notifications, for the benchmark's baseline workers only."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "push_notifications", "bench.baseline"]  # noqa: F405
PUSH_NOTIFICATIONS_SETTINGS = {"FCM": {}}
