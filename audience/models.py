"""Shoppers' attributes, and segments: saved conditions or an uploaded list of user ids."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now


class ShopperProfile(models.Model):
    """Attributes business services send about a shopper (city, favourite categories, lifetime orders…)."""

    user_id = models.CharField(max_length=255, unique=True)
    attributes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        # jsonb_path_ops: the index for `attributes @> {...}` (equals / in), the most common conditions.
        indexes = [GinIndex(fields=["attributes"], name="profile_attributes", opclasses=["jsonb_path_ops"])]

    def __str__(self) -> str:
        return self.user_id


class Segment(models.Model):
    class Kind(models.TextChoices):
        CONDITIONS = "conditions", "Conditions"
        LIST = "list", "Uploaded list of user ids"

    class Match(models.TextChoices):
        ALL = "all", "All conditions hold"
        ANY = "any", "Any condition holds"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CONDITIONS)
    match = models.CharField(max_length=8, choices=Match.choices, default=Match.ALL)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Field(models.TextChoices):
    PLATFORM = "platform", "Platform"
    LOCALE = "locale", "Locale"
    APP_VERSION = "app_version", "App version"
    LAST_SEEN = "last_seen_days", "Last seen (days ago)"
    ATTRIBUTE = "attribute", "Attribute"


class Operator(models.TextChoices):
    EQUALS = "eq", "is / equals"
    IN = "in", "is one of (comma-separated)"
    GTE = "gte", "≥ (at least)"
    LTE = "lte", "≤ (at most)"
    WITHIN = "within", "within the last N days"
    EXISTS = "exists", "exists"


# Which operators each field allows (the form refuses the others).
OPERATORS_OF: dict[str, tuple[str, ...]] = {
    Field.PLATFORM: (Operator.EQUALS, Operator.IN),
    Field.LOCALE: (Operator.EQUALS, Operator.IN),
    Field.APP_VERSION: (Operator.GTE, Operator.LTE, Operator.EQUALS),
    Field.LAST_SEEN: (Operator.WITHIN,),
    Field.ATTRIBUTE: (Operator.EQUALS, Operator.IN, Operator.GTE, Operator.LTE, Operator.EXISTS),
}


class SegmentCondition(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(max_length=16, choices=Field.choices)
    attribute = models.CharField(max_length=64, blank=True, default="", help_text="For 'Attribute': its name.")
    operator = models.CharField(max_length=8, choices=Operator.choices)
    value = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        name = f"{self.attribute}" if self.field == Field.ATTRIBUTE else self.get_field_display()
        return f"{name} {self.get_operator_display()} {self.value}".strip()


class SegmentMember(models.Model):
    """A user id of an uploaded list."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "user_id"], name="member_once")]

    def __str__(self) -> str:
        return self.user_id
