from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Marketers' campaigns, segments and schedules."""

    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import receivers  # noqa: F401 - connects campaigns' signal receivers
