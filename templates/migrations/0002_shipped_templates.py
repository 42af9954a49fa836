"""The templates of the grocery triggers Pushcart ships with (English, German, French).

Marketers edit them in the admin; this migration only creates those that are missing.
"""

from django.db import migrations

TEMPLATES = [
    {
        "key": "abandoned_cart",
        "name": "Abandoned cart reminder",
        "description": "Sent by the rule 'Abandoned cart' when a cart waits without checkout.",
        "category": "cart_reminders",
        "priority": "normal",
        "title": "Still thinking it over?",
        "body": "{{ first_item|default:'Your items' }}{% if item_count > 1 %} and {{ item_count|add:'-1' }} more{% endif %}"
        " are waiting in your cart.",
        "deep_link": "shop://cart/{{ cart_id }}",
        "data": {"cart_id": "{{ cart_id }}"},
        "ttl_seconds": 12 * 3600,
        "collapse_key": "cart-{{ cart_id }}",
        "sample_context": {"cart_id": "77", "item_count": 3, "first_item": "Oat milk"},
        "translations": {
            "de": (
                "Noch unentschlossen?",
                "{{ first_item|default:'Deine Artikel' }}{% if item_count > 1 %} und {{ item_count|add:'-1' }} weitere"
                "{% endif %} warten in deinem Warenkorb.",
            ),
            "fr": (
                "Vous hésitez encore ?",
                "{{ first_item|default:'Vos articles' }}{% if item_count > 1 %} et {{ item_count|add:'-1' }} autres"
                "{% endif %} vous attendent dans votre panier.",
            ),
        },
    },
    {
        "key": "order_cancelled",
        "name": "Order cancelled",
        "description": "Sent by the rule 'Order cancelled' (order_status_changed with status cancelled).",
        "category": "order_updates",
        "priority": "high",
        "title": "Order {{ order_id }} was cancelled",
        "body": "{{ reason|default:'We could not complete your order'|capfirst }}. Any payment taken will be refunded.",
        "deep_link": "shop://orders/{{ order_id }}",
        "data": {"order_id": "{{ order_id }}", "status": "cancelled"},
        "ttl_seconds": 3 * 24 * 3600,
        "collapse_key": "order-{{ order_id }}",
        "sample_context": {"order_id": "1042", "status": "cancelled", "reason": "payment declined"},
        "translations": {
            "de": (
                "Bestellung {{ order_id }} wurde storniert",
                "Wir konnten deine Bestellung nicht abschließen. Bereits gezahlte Beträge werden erstattet.",
            ),
            "fr": (
                "La commande {{ order_id }} a été annulée",
                "Nous n'avons pas pu finaliser votre commande. Tout paiement effectué sera remboursé.",
            ),
        },
    },
    {
        "key": "order_delayed",
        "name": "Order delayed",
        "description": "Sent by the rule 'Order delayed' (order_status_changed with status delayed); needs new_eta.",
        "category": "order_updates",
        "priority": "high",
        "title": "Order {{ order_id }} is running late",
        "body": "New delivery time: {{ new_eta }}. Sorry for the wait!",
        "deep_link": "shop://orders/{{ order_id }}",
        "data": {"order_id": "{{ order_id }}", "status": "delayed"},
        "ttl_seconds": 12 * 3600,
        "collapse_key": "order-{{ order_id }}",
        "sample_context": {"order_id": "1042", "status": "delayed", "new_eta": "15:00–16:00"},
        "translations": {
            "de": ("Bestellung {{ order_id }} verspätet sich", "Neue Lieferzeit: {{ new_eta }}. Entschuldige die Wartezeit!"),
            "fr": ("La commande {{ order_id }} a du retard", "Nouvelle heure de livraison : {{ new_eta }}. Désolés pour l'attente !"),
        },
    },
    {
        "key": "product_restocked",
        "name": "Product back in stock",
        "description": "Sent by the rule 'Product restocked' to each shopper who asked to be told.",
        "category": "restocks",
        "priority": "normal",
        "title": "{{ product_name }} is back in stock",
        "body": "You asked us to tell you. Grab it before it's gone again.",
        "image": "",
        "deep_link": "shop://products/{{ product_id }}",
        "data": {"product_id": "{{ product_id }}"},
        "ttl_seconds": 24 * 3600,
        "collapse_key": "restock-{{ product_id }}",
        "sample_context": {"product_id": "sku-3301", "product_name": "Sourdough loaf"},
        "translations": {
            "de": ("{{ product_name }} ist wieder da", "Du wolltest Bescheid wissen. Schnell zugreifen!"),
            "fr": ("{{ product_name }} est de retour", "Vous vouliez être prévenu. Dépêchez-vous !"),
        },
    },
    {
        "key": "favourite_discounted",
        "name": "Favourite product discounted",
        "description": "Sent by the rule 'Favourite discounted' when a favourited product's price drops by 10% or more.",
        "category": "price_drops",
        "priority": "normal",
        "title": "{{ product_name }}: {{ discount_percent }}% off",
        "body": "One of your favourites now costs {{ new_price }} {{ currency|default:'EUR' }} instead of {{ old_price }}.",
        "deep_link": "shop://products/{{ product_id }}",
        "data": {"product_id": "{{ product_id }}"},
        "ttl_seconds": 24 * 3600,
        "collapse_key": "price-{{ product_id }}",
        "sample_context": {
            "product_id": "sku-118",
            "product_name": "Greek yoghurt",
            "old_price": "3.49",
            "new_price": "2.79",
            "currency": "EUR",
            "discount_percent": 20,
        },
        "translations": {
            "de": (
                "{{ product_name }}: {{ discount_percent }} % günstiger",
                "Einer deiner Favoriten kostet jetzt {{ new_price }} {{ currency|default:'EUR' }} statt {{ old_price }}.",
            ),
            "fr": (
                "{{ product_name }} : -{{ discount_percent }} %",
                "Un de vos favoris coûte maintenant {{ new_price }} {{ currency|default:'EUR' }} au lieu de {{ old_price }}.",
            ),
        },
    },
]


def create(apps, schema_editor):
    MessageTemplate = apps.get_model("message_templates", "MessageTemplate")
    TemplateTranslation = apps.get_model("message_templates", "TemplateTranslation")
    for spec in TEMPLATES:
        spec = dict(spec)
        translations = spec.pop("translations")
        template, created = MessageTemplate.objects.get_or_create(key=spec.pop("key"), defaults=spec)
        if created:
            for locale, (title, body) in translations.items():
                TemplateTranslation.objects.create(template=template, locale=locale, title=title, body=body)


class Migration(migrations.Migration):
    dependencies = [("message_templates", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
