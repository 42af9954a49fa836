from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import observability

# Under /api/, a URL no route matches answers JSON in the API's error shape (issue 17), elsewhere the page.
handler404 = "config.api.not_found"
# The admin's own 403 page for staff (what was refused, their role, a way back); JSON under /api/.
handler403 = "config.error_pages.permission_denied"

admin.site.site_header = "Pushcart"
admin.site.site_title = "Pushcart admin"
admin.site.index_title = "Push notifications for the shop"
# No "View site": Pushcart has no site of its own to view (/ is a 404); the API docs are linked beside it.
admin.site.site_url = None

urlpatterns = [
    path("admin/shopper/", include("support.urls")),
    path("admin/analytics/", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("devices.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("api/v1/", include("events.api.urls")),
    path("api/v1/", include("preferences.api.urls")),
    path("api/v1/", include("audience.api.urls")),
]
