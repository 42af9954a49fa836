from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notifications and their deliveries: the sending engine."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from config.observability import collect_at_scrape
        from notifications import receivers  # noqa: F401 - connects the engine's signal receivers
        from notifications.metrics import OpenFailuresCollector

        collect_at_scrape(OpenFailuresCollector())
