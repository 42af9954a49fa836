from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Access: API keys and staff roles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.roles import sync_roles

        # Later migrations add models whose permissions the roles need; they only
        # exist after migrate has run, so the roles are brought up to date then.
        post_migrate.connect(lambda **kwargs: sync_roles(), sender=self, dispatch_uid="accounts.sync_roles", weak=False)
