from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.services import deactivate_tokens
from devices.token_cache import tokens_for_users
from notifications.targets import requests_by_provider
from providers.base import OutcomeKind, PushMessage
from providers.runtime import runtime


class Command(BaseCommand):
    help = (
        "Send a test push to every active device of a user, straight through the provider adapters, "
        "and print each device's outcome. Checks provider configuration end to end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")
        parser.add_argument("--title", default="Pushcart test")
        parser.add_argument("--body", default="If you can read this, pushes reach this device.")

    def handle(self, *args: object, user_id: str, title: str, body: str, **options: object) -> None:
        devices = tokens_for_users([user_id])[user_id]
        if not devices:
            raise CommandError(f"{user_id} has no active device.")
        message = PushMessage(title=title, body=body, data={"test": "1"})
        invalid = []
        for provider, pairs in requests_by_provider(devices, message).items():
            outcomes = runtime.send(provider, [request for _, request in pairs], timeout=60)
            for (device, _), outcome in zip(pairs, outcomes, strict=True):
                detail = outcome.message_id or f"{outcome.code} {outcome.text}".strip()
                self.stdout.write(f"{provider:8} {device.token[:40]:42} {outcome.kind.value:15} {detail}")
                if outcome.kind is OutcomeKind.TOKEN_INVALID:
                    invalid.append(device.token)
        if invalid:
            self.stdout.write(f"Deactivated {deactivate_tokens(invalid)} device(s) the provider no longer knows.")
        runtime.reset()
