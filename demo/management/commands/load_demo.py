"""Demo data for a local run: staff users, shoppers with devices, API keys.

Idempotent: run it again and the same users and devices are there. Passwords
and API keys are generated afresh on every run (only hashes are stored, so
the old ones can't be shown again) and printed.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts import roles
from accounts.jwt_tokens import mint_app_token
from accounts.models import ServiceApiKey
from accounts.services import create_api_key
from devices.models import Device
from devices.services import register_device

SIMULATOR = "http://127.0.0.1:9099"

DEMO_SHOPPERS = {
    "shopper-1": [
        {"platform": "android", "token": "demo-android-shopper-1", "locale": "en-GB", "timezone": "Europe/London"},
        {"platform": "ios", "token": "demo-ios-shopper-1", "locale": "en-GB", "timezone": "Europe/London"},
    ],
    "shopper-2": [
        {"platform": "android", "token": "demo-android-shopper-2", "locale": "de-DE", "timezone": "Europe/Berlin"},
    ],
    "shopper-3": [
        {"platform": "ios", "token": "demo-ios-shopper-3", "locale": "fr-FR", "timezone": "Europe/Paris"},
    ],
    "shopper-4": [
        {
            "platform": "web",
            "token": f"{SIMULATOR}/wp/demo-web-shopper-4",
            "locale": "en-US",
            "timezone": "America/New_York",
            # A valid-looking subscription; the simulator accepts any well-formed keys.
            "web_push_p256dh": (
                "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
            ),
            "web_push_auth": "tBHItJI5svbpez7KI4CCXg",
        },
    ],
    # The shop's QA phones: marked as test devices below, so marketers' "Send a test" reaches them.
    "qa-team": [
        {"platform": "android", "token": "demo-android-qa", "locale": "en-GB", "timezone": "Europe/London"},
        {"platform": "ios", "token": "demo-ios-qa", "locale": "en-GB", "timezone": "Europe/London"},
    ],
    "shopper-5": [
        # The simulator answers "unregistered" for this token: the device gets deactivated.
        {
            "platform": "android",
            "token": "unregistered-demo-shopper-5",
            "locale": "en-GB",
            "timezone": "Europe/Dublin",
        },
    ],
}

# Campaign tests go only to devices an Administrator marked as test devices (issue 17, item 9).
DEMO_TEST_DEVICES = ["demo-android-qa", "demo-ios-qa"]
DEMO_STAFF = [("marketer", roles.MARKETERS), ("support", roles.SUPPORT)]
DEMO_KEYS = {
    "demo-order-service": ["events:write", "notifications:write"],
    "demo-support-tools": ["devices:read", "attributes:write"],
}
DEMO_ATTRIBUTES = {
    "shopper-1": {"city": "London", "lifetime_orders": 12, "favourite_categories": ["fruit", "bakery"]},
    "shopper-2": {"city": "Berlin", "lifetime_orders": 31, "vip": True},
    "shopper-3": {"city": "Paris", "lifetime_orders": 2},
}
DEMO_PROMOTIONS = {
    "weekend_fruit_a": "{{ discount }} off {{ category }} this weekend",
    "weekend_fruit_b": "Weekend treat: {{ category }} at {{ discount }} off",
}


def _marketing_demo() -> None:
    """Two promotion templates, two segments and a draft A/B campaign, for marketers to try."""
    from audience.models import Segment, SegmentCondition, ShopperProfile
    from campaigns.models import Campaign, CampaignVariant
    from templates.models import MessageTemplate

    for user_id, attributes in DEMO_ATTRIBUTES.items():
        ShopperProfile.objects.update_or_create(user_id=user_id, defaults={"attributes": attributes})
    templates = {}
    for key, title in DEMO_PROMOTIONS.items():
        templates[key], _ = MessageTemplate.objects.get_or_create(
            key=key,
            defaults={
                "name": f"Weekend fruit ({key[-1].upper()})",
                "category": "promotions",
                "priority": "normal",
                "title": title,
                "body": "Fresh, ripe and cheaper until Sunday.",
                "deep_link": "shop://offers/weekend",
                "sample_context": {"discount": "20%", "category": "strawberries"},
            },
        )
    everyone, _ = Segment.objects.get_or_create(name="Everyone", defaults={"description": "Every reachable shopper."})
    loyal, created = Segment.objects.get_or_create(
        name="Loyal shoppers", defaults={"description": "10 orders or more, seen in the last 30 days."}
    )
    if created:
        SegmentCondition.objects.create(
            segment=loyal, field="attribute", attribute="lifetime_orders", operator="gte", value="10"
        )
        SegmentCondition.objects.create(segment=loyal, field="last_seen_days", operator="within", value="30")
    campaign, created = Campaign.objects.get_or_create(
        name="Weekend fruit deals (demo)",
        defaults={
            "segment": everyone,
            "context": {"discount": "20%", "category": "strawberries"},
            "created_by": "demo",
        },
    )
    if created:
        CampaignVariant.objects.create(campaign=campaign, name="A", template=templates["weekend_fruit_a"], weight=50)
        CampaignVariant.objects.create(campaign=campaign, name="B", template=templates["weekend_fruit_b"], weight=50)


class Command(BaseCommand):
    help = "Load demo data (superuser, staff, shoppers with devices, API keys) and print how to use it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port of the web process, for the printed URLs.")

    def handle(self, *args: object, port: int, **options: object) -> None:
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            self._staff(password)
            for user_id, devices in DEMO_SHOPPERS.items():
                for device in devices:
                    register_device(user_id=user_id, **device)
            Device.objects.filter(token__in=DEMO_TEST_DEVICES).update(is_test_device=True)
            _marketing_demo()
            ServiceApiKey.objects.filter(name__in=DEMO_KEYS).delete()
            keys = {name: create_api_key(name=name, scopes=scopes)[1] for name, scopes in DEMO_KEYS.items()}

        base = f"http://127.0.0.1:{port}"
        jwt = mint_app_token("shopper-1", lifetime_seconds=24 * 3600)
        banner = "\n".join(
            [
                "",
                "Pushcart demo",
                f"  Admin:      {base}/admin/   user admin / {password}",
                "              (also marketer and support, same password: the Marketers and Support roles)",
                "              Campaign tests: send to user id qa-team (its devices are marked as test devices)",
                f"  API docs:   {base}/api/docs/",
                f"  API schema: {base}/api/schema/",
                "",
                "  Call the API as shopper-1 (a JWT valid for 24 h; mint more with"
                " `.venv/bin/python manage.py mint_jwt <user_id>`):",
                f"    curl -H 'Authorization: Bearer {jwt}' {base}/api/v1/devices/",
                "  As a business service (demo API keys, shown once):",
                *[f"    {name}: {key}  ({', '.join(DEMO_KEYS[name])})" for name, key in keys.items()],
                f"    curl -H 'Authorization: Api-Key {keys['demo-support-tools']}' "
                f"{base}/api/v1/users/shopper-1/devices/",
                "  An order cancelled for shopper-2 (German device: the shipped rule sends the German text):",
                f"    curl -X POST {base}/api/v1/events/ -H 'Authorization: Api-Key {keys['demo-order-service']}' "
                "-H 'Content-Type: application/json' -d "
                """'{"type": "order_status_changed", "user_id": "shopper-2", "idempotency_key": "demo-1", """
                """"data": {"order_id": "1042", "status": "cancelled", "reason": "payment declined"}}'""",
                "",
            ]
        )
        self.stdout.write(banner)
        # The processes' logs scroll the banner away; keep it where the README says.
        (settings.BASE_DIR / ".demo.txt").write_text(banner)

    def _staff(self, password: str) -> None:
        users = get_user_model()
        admin, _ = users.objects.get_or_create(username="admin", defaults={"email": "admin@shop.example"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        admin.groups.set([Group.objects.get(name=roles.ADMINISTRATORS)])
        for username, role in DEMO_STAFF:
            user, _ = users.objects.get_or_create(username=username, defaults={"email": f"{username}@shop.example"})
            user.is_staff = True
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
