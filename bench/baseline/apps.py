import os

from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "bench.baseline"
    label = "pushcart_baseline"

    def ready(self) -> None:
        # The default Firebase app, as django-push-notifications expects, with the simulator's service account.
        # Only the endpoint is changed (firebase-admin keeps its own session, pool and retries).
        import firebase_admin
        from firebase_admin import credentials, messaging

        credentials_file = os.environ.get("FCM_CREDENTIALS_FILE")
        if credentials_file and not firebase_admin._apps:
            firebase_admin.initialize_app(credentials.Certificate(credentials_file))
            endpoint = os.environ["FCM_ENDPOINT"].rstrip("/")
            messaging._MessagingService.FCM_URL = f"{endpoint}/v1/projects/{{0}}/messages:send"
