from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for a local run (`manage.py load_demo`, which `make run` calls); nothing else depends on it."""

    name = "demo"
    verbose_name = "Demo data"
