"""What a preference change tells the rest of the platform.

The engine reads preferences (through shopper protection), so preferences can't call the engine without an import
cycle between the apps; the engine listens instead (notifications/receivers.py)."""

from django.dispatch import Signal

# Sent inside update_preferences' transaction with `user_id` and `categories` (the ones just switched off).
# A receiver withdraws what it holds of those categories and returns (notifications, deliveries) withdrawn.
categories_switched_off = Signal()
