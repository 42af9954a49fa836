from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a business service and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. order-service.")
        parser.add_argument(
            "--scopes", required=True, help="Comma-separated, e.g. events:write,notifications:write,devices:read."
        )

    def handle(self, *args: object, name: str, scopes: str, **options: object) -> None:
        try:
            key, secret = create_api_key(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Created API key {key.prefix} ({name}) with scopes {', '.join(key.scopes)}.")
        self.stderr.write("Store it now: it cannot be shown again.")
        self.stdout.write(secret)
