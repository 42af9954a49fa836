from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.jwt_tokens import mint_app_token
from config.limits import MAX_USER_ID_LENGTH


class Command(BaseCommand):
    help = "Mint an app-user JWT as the shop's auth server would (development and demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", help="The shopper's user id (the token's `sub`).")
        parser.add_argument("--lifetime", type=int, default=3600, help="Seconds until it expires (default 3600).")
        parser.add_argument("--private-key", help="PEM file for RS256/ES256 (default: JWT_PRIVATE_KEY).")

    def handle(self, *args: object, user_id: str, lifetime: int, private_key: str | None, **options: object) -> None:
        if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
            raise CommandError(f"user_id must have 1 to {MAX_USER_ID_LENGTH} characters.")
        try:
            self.stdout.write(mint_app_token(user_id, lifetime_seconds=lifetime, private_key=private_key))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
