"""Events as received, the trigger rules marketers manage, and the delayed sends still waiting."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from events.models import Event, TriggerRule, WaitingSend
from events.selectors import notifications_of_event
from notifications.admin import ReadOnlyAdminMixin
from notifications.models import NotificationStatus, Source


@admin.register(TriggerRule)
class TriggerRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "event_type", "conditions_summary", "template_key", "delay", "cancelled_by"]
    list_display_links = ["name"]
    list_editable = ["is_active"]
    list_filter = ["is_active", "event_type", "template__category"]
    search_fields = ["name", "event_type", "template__key", "conditions"]
    autocomplete_fields = ["template"]
    list_select_related = ["template"]
    fieldsets = [
        (None, {"fields": ["name", "description", "is_active"]}),
        ("When", {"fields": ["event_type", "conditions"]}),
        ("Send", {"fields": ["template", "category", "priority", "delay"]}),
        (
            "Waiting sends",
            {
                "fields": ["match_key", "cancel_on", "replace_waiting"],
                "description": "For delayed sends such as the abandoned-cart reminder: which data field names the "
                "cart, which events cancel the reminder, and whether a newer event restarts the wait.",
            },
        ),
    ]

    @admin.display(description="template", ordering="template__key")
    def template_key(self, rule: TriggerRule) -> str:
        return rule.template.key

    @admin.display(description="conditions")
    def conditions_summary(self, rule: TriggerRule) -> str:
        return "; ".join(line.strip() for line in rule.conditions.splitlines() if line.strip()) or "every event"

    @admin.display(description="cancelled by")
    def cancelled_by(self, rule: TriggerRule) -> str:
        return ", ".join(rule.cancel_on) or "—"


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "type", "user_id", "status", "occurred_at", "received_at", "short_outcome"]
    list_filter = ["status", "type", "producer", "received_at"]
    search_fields = ["user_id", "idempotency_key"]
    search_help_text = "A user id or an idempotency key (exact)."
    date_hierarchy = "received_at"
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "type",
        "user_id",
        "status",
        "outcome",
        "notifications",
        "pretty_data",
        "producer",
        "idempotency_key",
        "occurred_at",
        "received_at",
        "processed_at",
    ]
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(user_id=term) | queryset.filter(idempotency_key=term), False

    @admin.display(description="outcome")
    def short_outcome(self, event: Event) -> str:
        first = event.outcome.splitlines()[0] if event.outcome else "—"
        return first if len(first) <= 100 else f"{first[:100]}…"

    @admin.display(description="data")
    def pretty_data(self, event: Event) -> str:
        return format_html("<pre style='margin:0'>{}</pre>", json.dumps(event.data, indent=2, ensure_ascii=False))

    @admin.display(description="notifications")
    def notifications(self, event: Event) -> str:
        rows = [
            (
                reverse("admin:notifications_notification_change", args=[n.pk]),
                n.pk,
                n.content.template_key,
                n.get_status_display(),
            )
            for n in notifications_of_event(event)
        ]
        if not rows:
            return "—"
        return format_html_join(format_html("<br>"), "<a href='{}'>#{}</a> {} · {}", rows)


@admin.register(WaitingSend)
class WaitingSendAdmin(admin.ModelAdmin):
    """Delayed sends live in the database until due: visible here, and cancellable."""

    list_display = ["id", "user_id", "template_key", "title", "send_at", "trigger_key", "event_link"]
    list_filter = ["content__template_key", "category"]
    search_fields = ["user_id"]
    search_help_text = "A user id (exact)."
    ordering = ["send_at"]
    actions = ["cancel"]
    fields = ["user_id", "template_key", "title", "body", "send_at", "trigger_key", "event_link"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitingSend]:
        return (
            super()
            .get_queryset(request)
            .select_related("content")
            .filter(status=NotificationStatus.SCHEDULED, source=Source.EVENT)
            .exclude(trigger_key="")
        )

    @admin.display(description="template key")
    def template_key(self, send: WaitingSend) -> str:
        return send.content.template_key

    @admin.display(description="title")
    def title(self, send: WaitingSend) -> str:
        return send.content.title

    @admin.display(description="body")
    def body(self, send: WaitingSend) -> str:
        return send.content.body

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WaitingSend], search_term: str
    ) -> tuple[QuerySet[WaitingSend], bool]:
        term = search_term.strip()
        return (queryset.filter(user_id=term), False) if term else (queryset, False)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="event")
    def event_link(self, send: WaitingSend) -> str:
        url = reverse("admin:events_event_change", args=[send.source_ref])
        return format_html("<a href='{}'>#{}</a>", url, send.source_ref)

    @admin.action(description="Cancel the selected waiting sends", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[WaitingSend]) -> None:
        who = request.user.get_username()
        cancelled = queryset.filter(status=NotificationStatus.SCHEDULED).update(
            status=NotificationStatus.CANCELLED,
            status_reason=f"Cancelled in the admin by {who}.",
            updated_at=timezone.now(),
        )
        self.message_user(request, f"Cancelled {cancelled} waiting send(s).", messages.SUCCESS)
