from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import ServiceApiKey

# The library's own key model is unused: Pushcart's keys carry scopes.
admin.site.unregister(APIKey)
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Administrators manage staff accounts and their roles (groups), but only a superuser makes superusers,
    grants single permissions or edits a superuser: otherwise an Administrator could tick `is_superuser` on
    their own account."""

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class ServiceApiKeyForm(forms.ModelForm):
    scopes = forms.TypedMultipleChoiceField(
        choices=lambda: [(scope, f"{scope} — {text}") for scope, text in settings.API_KEY_SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=True,
    )

    class Meta:
        model = ServiceApiKey
        fields = ["name", "scopes", "expiry_date", "revoked"]


@admin.register(ServiceApiKey)
class ServiceApiKeyAdmin(APIKeyModelAdmin):
    form = ServiceApiKeyForm
    list_display = ["prefix", "name", "scope_list", "created", "last_used_at", "expiry_date", "_has_expired", "revoked"]
    list_filter = ["revoked", "created"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "last_used_at"]

    @admin.display(description="scopes")
    def scope_list(self, key: ServiceApiKey) -> str:
        return ", ".join(key.scopes)
