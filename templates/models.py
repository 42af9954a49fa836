"""Message templates: what a push says, in Django template syntax, with a translation per locale."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models.functions import Now

from providers.base import MAX_TTL_SECONDS

TEMPLATE_HELP = "Django template syntax over the event's data, e.g. {{ product_name }}; the user as {{ user.id }}."


class MessageTemplate(models.Model):
    key = models.SlugField(max_length=64, unique=True, help_text="How rules and campaigns name this template.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="", help_text="When it is sent and what it needs.")
    category = models.CharField(
        max_length=32, choices=[(c, c.replace("_", " ")) for c in settings.NOTIFICATION_CATEGORIES]
    )
    priority = models.CharField(max_length=8, choices=[("high", "High"), ("normal", "Normal")], default="high")
    default_locale = models.CharField(
        max_length=35, default="en", help_text="The language of the texts below; devices with no translation get it."
    )
    title = models.CharField(max_length=500, help_text=TEMPLATE_HELP)
    body = models.TextField(max_length=2000, help_text=TEMPLATE_HELP)
    image = models.CharField(max_length=1000, blank=True, default="", help_text="An https URL; may use variables.")
    deep_link = models.CharField(
        max_length=1000,
        blank=True,
        default="",
        help_text="Where a tap leads in the app, e.g. shop://cart/{{ cart_id }}.",
    )
    data = models.JSONField(
        default=dict,
        blank=True,
        help_text='Key/value pairs the app receives, values templated: {"order_id": "{{ order_id }}"}.',
    )
    ttl_seconds = models.PositiveIntegerField(
        default=24 * 3600,
        validators=[MaxValueValidator(MAX_TTL_SECONDS)],
        help_text="Not sent once this old (seconds).",
    )
    collapse_key = models.CharField(
        max_length=200, blank=True, default="", help_text="A newer push with the same key replaces an unread older one."
    )
    dedup_window = models.DurationField(
        default=timedelta(hours=1),
        help_text="The same push (same collapse key) to the same shopper is sent once within this window; 0: off.",
    )
    sample_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="Example event data: the template is checked and previewed against it when saved.",
    )
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class TemplateTranslation(models.Model):
    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="translations")
    locale = models.CharField(max_length=35, help_text="'de' serves every German device; 'de-AT' only Austrian ones.")
    title = models.CharField(max_length=500)
    body = models.TextField(max_length=2000)
    image = models.CharField(max_length=1000, blank=True, default="", help_text="Empty: the default image.")
    deep_link = models.CharField(max_length=1000, blank=True, default="", help_text="Empty: the default deep link.")

    class Meta:
        ordering = ["locale"]
        constraints = [models.UniqueConstraint(fields=["template", "locale"], name="one_translation_per_locale")]

    def __str__(self) -> str:
        return f"{self.template.key} [{self.locale}]"
