from django.urls import path

from notifications.api.views import NotificationCreateView, NotificationOpenedView

urlpatterns = [
    path("notifications/", NotificationCreateView.as_view(), name="notifications"),
    path("notifications/<int:notification_id>/opened/", NotificationOpenedView.as_view(), name="notification-opened"),
]
