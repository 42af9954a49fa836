from django.urls import path

from notifications.api.views import NotificationCreateView

urlpatterns = [path("notifications/", NotificationCreateView.as_view(), name="notifications")]
