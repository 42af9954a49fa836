"""ASGI entry point (the web process runs this under uvicorn).

HTTP: Django's WSGI handler on a fixed pool of WEB_THREADS threads (a2wsgi), behind admission control
(config.overload). Measured against Django's own ASGI handler on the same load (docs/SCALING.md): the ASGI
handler runs every request's sync view in a new thread, with a new database and Redis connection, and cost
20% more CPU per request; the fixed threads keep their connections and bound them. Bodies over the limit are
refused with 413 before anything reads them (config.body_limit). WebSockets (live campaign progress) go to
channels, as before.
"""

import os
import sys

from a2wsgi import WSGIMiddleware
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# This sets Django up, which must come before anything imports models.
django_wsgi = get_wsgi_application()

from django.conf import settings  # noqa: E402

from campaigns.routing import websocket_urlpatterns  # noqa: E402 - needs the app registry set up above
from config.body_limit import BodySizeLimit  # noqa: E402
from config.overload import AdmissionControl  # noqa: E402

django_http = WSGIMiddleware(django_wsgi, workers=settings.WEB_THREADS)
sys.setswitchinterval(settings.WEB_SWITCH_INTERVAL_SECONDS)

application = ProtocolTypeRouter(
    {
        # AdmissionControl refuses with 503 what the process can't serve in time; BodySizeLimit refuses with 413
        # a body over the limit before anything reads it (inside admission: the bodies it holds are bounded too).
        "http": AdmissionControl(BodySizeLimit(django_http)),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
