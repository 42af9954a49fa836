from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from devices import services
from devices.models import DeactivationReason, Device


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "short_token",
        "user_id",
        "platform",
        "provider_code",
        "is_active",
        "is_test_device",
        "app_version",
        "locale",
        "timezone",
        "last_seen_at",
        "deactivation_reason",
    ]
    list_filter = ["platform", "provider", "is_active", "is_test_device", "deactivation_reason", "app_version"]
    search_fields = ["user_id", "token"]  # see get_search_results: exact user id or token prefix
    search_help_text = "An exact user id, or the first characters of a token."
    date_hierarchy = "last_seen_at"
    ordering = ["-last_seen_at"]
    list_per_page = 50
    show_full_result_count = False  # counting a big table on every page is slow
    actions = ["deactivate", "mark_test_devices", "unmark_test_devices"]
    fieldsets = [
        (None, {"fields": ["user_id", "platform", "provider", "token"]}),
        ("App", {"fields": ["app_id", "app_version", "locale", "timezone"]}),
        ("Web Push", {"fields": ["web_push_p256dh", "web_push_auth"], "classes": ["collapse"]}),
        ("State", {"fields": ["is_active", "created_at", "last_seen_at", "deactivated_at", "deactivation_reason"]}),
        ("Campaign tests", {"fields": ["is_test_device"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Device | None = None) -> list[str]:
        # Devices are written by the app and the sending path; staff only deactivate them and mark test devices
        # (with the change permission: Administrators).
        return [field.name for field in Device._meta.fields if field.name != "is_test_device"]

    def save_model(self, request: HttpRequest, obj: Device, form: forms.ModelForm, change: bool) -> None:
        # Only the mark is edited here: saving the whole row would overwrite what the app or the sending path
        # wrote since the page was opened (a refresh, a deactivation).
        Device.objects.filter(pk=obj.pk).update(is_test_device=obj.is_test_device)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Device], search_term: str
    ) -> tuple[QuerySet[Device], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Both use an index: user_id's b-tree and the token's pattern index.
        return queryset.filter(user_id=term) | queryset.filter(token__startswith=term), False

    @admin.display(description="token", ordering="token")
    def short_token(self, device: Device) -> str:
        return device.token if len(device.token) <= 24 else f"{device.token[:24]}…"

    @admin.display(description="provider", ordering="provider")
    def provider_code(self, device: Device) -> str:
        return device.provider

    @admin.action(description="Deactivate selected devices", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        tokens = list(queryset.filter(is_active=True).values_list("token", flat=True))
        count = services.deactivate_tokens(tokens, reason=DeactivationReason.STAFF)
        self.message_user(request, f"Deactivated {count} device(s).", messages.SUCCESS)

    @admin.action(
        description="Mark selected devices as test devices (campaign tests may go to them)", permissions=["change"]
    )
    def mark_test_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        self._set_test_device(request, queryset, True)

    @admin.action(description="Unmark selected test devices", permissions=["change"])
    def unmark_test_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        self._set_test_device(request, queryset, False)

    def _set_test_device(self, request: HttpRequest, queryset: QuerySet[Device], mark: bool) -> None:
        changed = list(queryset.exclude(is_test_device=mark))
        Device.objects.filter(pk__in=[d.pk for d in changed]).update(is_test_device=mark)
        for device in changed:  # who let campaign tests reach which device, in the admin's history
            self.log_change(request, device, [{"changed": {"fields": ["test device"]}}])
        state = "marked" if mark else "no longer marked"
        self.message_user(request, f"{len(changed)} device(s) {state} as test devices.", messages.SUCCESS)
