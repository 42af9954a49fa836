"""The analytics page, in the admin (mounted under /admin/analytics/ by config.urls, signed-in staff only)."""

from django.contrib import admin
from django.urls import path

from analytics.views import analytics_view

app_name = "analytics"
urlpatterns = [path("", admin.site.admin_view(analytics_view), name="charts")]
