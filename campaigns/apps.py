from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Marketers' campaigns, segments and schedules."""

    name = "campaigns"
    verbose_name = "Campaigns"
