"""Support's shopper page: "why didn't this shopper get it?"."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from devices.models import Device
from preferences.models import Preference
from preferences.selectors import preferences_for
from protection.selectors import cap_usage
from support.timeline import TIMELINE_DAYS, TIMELINE_LIMIT, shopper_timeline

# The shopper page shows a shopper's devices (push tokens) and every delivery: Support's and Administrators'
# (who read the delivery log), not Marketers'.
SHOPPER_PAGE_PERMISSION = "notifications.view_delivery"


def shopper_view(request: HttpRequest) -> HttpResponse:
    """One shopper: devices, preferences, caps used, and a timeline of what came in and what each device got."""
    if not request.user.has_perm(SHOPPER_PAGE_PERMISSION):
        raise PermissionDenied
    user_id = request.GET.get("user_id", "").strip()
    context = {
        **admin.site.each_context(request),
        "title": f"Shopper {user_id}" if user_id else "Look up a shopper",
        "user_id": user_id,
        "timeline_days": TIMELINE_DAYS,
        "timeline_limit": TIMELINE_LIMIT,
    }
    if user_id:
        preference = preferences_for([user_id])[user_id]
        context.update(
            devices=Device.objects.filter(user_id=user_id).order_by("-is_active", "-last_seen_at"),
            preference=preference,
            categories=[(c, preference.wants(c)) for c in settings.NOTIFICATION_CATEGORIES],
            stored_preference=Preference.objects.filter(user_id=user_id).first(),
            caps=cap_usage(user_id),
            timeline=shopper_timeline(user_id),
        )
    elif "user_id" in request.GET:
        return redirect(reverse("support:shopper"))
    return TemplateResponse(request, "support/shopper.html", context)
