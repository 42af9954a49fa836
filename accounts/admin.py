from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import ServiceApiKey

# The library's own key model is unused: Pushcart's keys carry scopes.
admin.site.unregister(APIKey)


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
