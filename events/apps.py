from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Business events (REST and Kafka) and the trigger rules that turn them into notifications."""

    name = "events"
    verbose_name = "Events and trigger rules"
