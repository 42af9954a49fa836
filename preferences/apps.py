from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    """What each shopper wants to receive (categories, quiet hours) and the marketing frequency caps."""

    name = "preferences"
    verbose_name = "Shopper protection"
