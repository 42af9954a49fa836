"""Caps Administrators tune, and shoppers' stored preferences (Support's shopper page: support/views.py)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from preferences.models import FrequencyCap, Preference


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

        url = reverse("support:shopper") + f"?user_id={preference.user_id}"  # support/views.py
        return format_html("<a href='{}'>shopper page</a>", url)
