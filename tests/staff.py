"""Staff members of the admin roles, for tests."""

from __future__ import annotations

from django.contrib.auth.models import Group, User


def staff(role: str) -> User:
    """A new staff user in the role's group (each call a new user)."""
    user = User.objects.create_user(
        f"{role.lower()}-{User.objects.count() + 1}", password="pw-for-tests", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user
