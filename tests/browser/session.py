"""What every browser test starts with: a staff member in a role, and Debian's Chromium signed in as them."""

from __future__ import annotations

import shutil
from typing import Any

from django.contrib.auth.models import Group, User

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "browser-pw-1"


def staff_member(username: str, role: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def signed_in_page(playwright: Any, base: str, username: str) -> Any:
    """A new page of a headless Chromium, signed in to the admin at `base` as `username`."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(15_000)
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    return page
