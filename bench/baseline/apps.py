import os
from urllib.parse import urlsplit

from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "bench.baseline"
    label = "pushcart_baseline"

    def ready(self) -> None:
        # The default Firebase app, as django-push-notifications expects, with the simulator's service account.
        # Only the endpoints are changed (firebase-admin and aioapns keep their own sessions, pools and retries).
        import firebase_admin
        from aioapns.connection import APNsProductionClientProtocol
        from firebase_admin import credentials, messaging

        credentials_file = os.environ.get("FCM_CREDENTIALS_FILE")
        if credentials_file and not firebase_admin._apps:
            firebase_admin.initialize_app(credentials.Certificate(credentials_file))
            endpoint = os.environ["FCM_ENDPOINT"].rstrip("/")
            messaging._MessagingService.FCM_URL = f"{endpoint}/v1/projects/{{0}}/messages:send"
        if os.environ.get("APNS_ENDPOINT"):  # aioapns takes its host from the protocol class (SSL_CERT_FILE: its CA)
            address = urlsplit(os.environ["APNS_ENDPOINT"])
            APNsProductionClientProtocol.APNS_SERVER = address.hostname
            APNsProductionClientProtocol.APNS_PORT = address.port or 443
