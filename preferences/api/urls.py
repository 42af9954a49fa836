from django.urls import path

from preferences.api.views import PreferencesView

urlpatterns = [
    path("preferences/", PreferencesView.as_view(), name="preferences"),
    path("users/<str:user_id>/preferences/", PreferencesView.as_view(), name="user-preferences"),
]
