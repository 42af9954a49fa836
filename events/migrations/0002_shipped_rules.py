"""The trigger rules of the grocery triggers Pushcart ships with; created only where missing."""

from datetime import timedelta

from django.db import migrations

RULES = [
    {
        "name": "Abandoned cart",
        "description": "A cart updated and left without checkout for 30 minutes. A checkout (or an emptied cart) "
        "cancels the reminder; every new cart update restarts the wait, so a shopper gets one reminder.",
        "event_type": "cart_updated",
        "conditions": "item_count >= 1",
        "template": "abandoned_cart",
        "delay": timedelta(minutes=30),
        "match_key": "cart_id",
        "cancel_on": ["checkout_completed", "cart_emptied"],
        "replace_waiting": True,
    },
    {
        "name": "Order cancelled",
        "event_type": "order_status_changed",
        "conditions": "status = cancelled",
        "template": "order_cancelled",
    },
    {
        "name": "Order delayed",
        "event_type": "order_status_changed",
        "conditions": "status = delayed",
        "template": "order_delayed",
    },
    {
        "name": "Product restocked",
        "event_type": "product_restocked",
        "template": "product_restocked",
    },
    {
        "name": "Favourite discounted",
        "description": "Sent when a product the shopper favourited drops in price by at least 10%.",
        "event_type": "price_dropped",
        "conditions": "discount_percent >= 10",
        "template": "favourite_discounted",
    },
]


def create(apps, schema_editor):
    MessageTemplate = apps.get_model("message_templates", "MessageTemplate")
    TriggerRule = apps.get_model("events", "TriggerRule")
    for spec in RULES:
        spec = dict(spec)
        template = MessageTemplate.objects.filter(key=spec.pop("template")).first()
        if template is not None and not TriggerRule.objects.filter(name=spec["name"]).exists():
            TriggerRule.objects.create(template=template, **spec)


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial"), ("message_templates", "0002_shipped_templates")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
