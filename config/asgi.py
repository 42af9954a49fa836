"""ASGI entry point (the web process runs this under uvicorn).

HTTP goes to Django; WebSocket routes (live campaign progress) are added to
the URLRouter as the apps that serve them arrive.
"""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from campaigns.routing import websocket_urlpatterns  # noqa: E402 - needs the app registry set up above

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
