from django.urls import path

from audience.api.views import UserAttributesView

urlpatterns = [path("users/<str:user_id>/attributes/", UserAttributesView.as_view(), name="user-attributes")]
