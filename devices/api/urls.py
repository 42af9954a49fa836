from django.urls import path

from devices.api.views import DeviceDetailView, DeviceListCreateView, UserDevicesView

urlpatterns = [
    path("devices/", DeviceListCreateView.as_view(), name="devices"),
    # `path` so that a Web Push endpoint URL (which has slashes) can be the token.
    path("devices/<path:token>/", DeviceDetailView.as_view(), name="device-detail"),
    path("users/<str:user_id>/devices/", UserDevicesView.as_view(), name="user-devices"),
]
