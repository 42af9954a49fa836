from django.apps import AppConfig


class AudienceConfig(AppConfig):
    """What Pushcart knows of shoppers (devices, attributes) and the segments marketers build from it."""

    name = "audience"
    verbose_name = "Audiences"
