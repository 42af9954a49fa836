from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notifications and their deliveries: the sending engine and the push providers."""

    name = "notifications"
    verbose_name = "Notifications"
