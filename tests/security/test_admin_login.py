"""Guessing a staff password (issue 17, item 11): after a few failures the admin login locks that username
from that address for a while, even for the right password; others are not locked out."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str) -> int:
    answer = client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    return answer.status_code


def test_repeated_failures_lock_the_login_and_only_that_login():
    User.objects.create_superuser("boss", password="the-right-password")
    User.objects.create_superuser("colleague", password="another-right-password")
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    assert [login(guesser, "boss", f"guess-{n}") for n in range(settings.AXES_FAILURE_LIMIT - 1)] == [200] * (
        settings.AXES_FAILURE_LIMIT - 1
    )  # the form again, with its error
    assert login(guesser, "boss", "one-more-guess") == 429
    assert login(guesser, "boss", "the-right-password") == 429  # locked, whatever the password
    assert login(Client(REMOTE_ADDR="203.0.113.9"), "colleague", "another-right-password") == 302
