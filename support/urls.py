"""Support's pages, in the admin (mounted under /admin/ by config.urls, signed-in staff only)."""

from django.contrib import admin
from django.urls import path

from support.views import shopper_view

app_name = "support"
urlpatterns = [path("", admin.site.admin_view(shopper_view), name="shopper")]
