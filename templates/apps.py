from django.apps import AppConfig


class MessageTemplatesConfig(AppConfig):
    """Message templates marketers write: texts over an event's data, translated per locale."""

    name = "templates"
    label = "message_templates"
    verbose_name = "Message templates"
