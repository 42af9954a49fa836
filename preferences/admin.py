"""Caps Administrators tune, and Support's page for one shopper: "why didn't I get it?"."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from devices.models import Device
from preferences.models import FrequencyCap, Preference
from preferences.selectors import cap_usage, preferences_for
from preferences.timeline import TIMELINE_DAYS, TIMELINE_LIMIT, shopper_timeline

# The shopper page shows a shopper's devices (push tokens) and every delivery: Support's and Administrators'
# (who read the delivery log), not Marketers'.
SHOPPER_PAGE_PERMISSION = "notifications.view_delivery"


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ["name", "max_pushes", "window", "is_active"]
    list_editable = ["max_pushes", "window", "is_active"]
    list_display_links = ["name"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user_id", "disabled", "quiet_hours", "timezone", "updated_at", "shopper_link"]
    search_fields = ["user_id"]
    search_help_text = "A user id (exact), or open its shopper page with 'Look up a shopper'."
    list_filter = ["quiet_hours_enabled"]
    readonly_fields = ["updated_at"]

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        term = search_term.strip()
        return (queryset.filter(user_id=term), False) if term else (queryset, False)

    @admin.display(description="switched off")
    def disabled(self, preference: Preference) -> str:
        return ", ".join(preference.disabled_categories) or "—"

    @admin.display(description="quiet hours")
    def quiet_hours(self, preference: Preference) -> str:
        if not preference.quiet_hours_enabled:
            return "off"
        return f"{preference.quiet_hours_start:%H:%M}-{preference.quiet_hours_end:%H:%M}"

    @admin.display(description="")
    def shopper_link(self, preference: Preference) -> str:
        from django.utils.html import format_html

        url = reverse("admin:preferences_shopper") + f"?user_id={preference.user_id}"
        return format_html("<a href='{}'>shopper page</a>", url)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("shopper/", self.admin_site.admin_view(self.shopper_view), name="preferences_shopper"),
            *super().get_urls(),
        ]

    def shopper_view(self, request: HttpRequest) -> HttpResponse:
        """One shopper: devices, preferences, caps used, and a timeline of what came in and what each device got."""
        if not request.user.has_perm(SHOPPER_PAGE_PERMISSION):
            raise PermissionDenied
        user_id = request.GET.get("user_id", "").strip()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Shopper {user_id}" if user_id else "Look up a shopper",
            "user_id": user_id,
            "opts": self.model._meta,
            "timeline_days": TIMELINE_DAYS,
            "timeline_limit": TIMELINE_LIMIT,
        }
        if user_id:
            preference = preferences_for([user_id])[user_id]
            context.update(
                devices=Device.objects.filter(user_id=user_id).order_by("-is_active", "-last_seen_at"),
                preference=preference,
                categories=[(c, preference.wants(c)) for c in _categories()],
                stored_preference=Preference.objects.filter(user_id=user_id).first(),
                caps=cap_usage(user_id),
                timeline=shopper_timeline(user_id),
            )
        elif "user_id" in request.GET:
            return redirect(reverse("admin:preferences_shopper"))
        return TemplateResponse(request, "admin/preferences/shopper.html", context)


def _categories() -> list[str]:
    from django.conf import settings

    return list(settings.NOTIFICATION_CATEGORIES)
