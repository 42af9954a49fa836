from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Support's pages that read across the apps: one shopper's devices, preferences, caps and timeline."""

    name = "support"
    verbose_name = "Support"
