"""Limits that several apps must agree on."""

# A shopper's id: the user_id columns (devices, notifications, preferences…) and a JWT's `sub`.
MAX_USER_ID_LENGTH = 255
