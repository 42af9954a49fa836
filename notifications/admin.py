"""Support's delivery log: "why did user X not get the cancellation notice?" """

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from notifications import failures
from notifications.delivery import resume_providers
from notifications.models import (
    Delivery,
    DeliveryStatus,
    FailedDelivery,
    Notification,
    ProviderPause,
    Source,
)


class ReadOnlyAdminMixin:
    """The log is written by the engine; nobody edits it by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def attempt_timeline(delivery: Delivery) -> str:
    attempts = delivery.attempt_log.all()
    if not attempts:
        return "—"
    return format_html(
        "<ol style='margin:0;padding-left:1.2em'>{}</ol>",
        format_html_join(
            "",
            "<li>{} · <b>{}</b> {} <span style='color:var(--body-quiet-color)'>{} · {} ms</span></li>",
            (
                (
                    f"{a.sent_at:%Y-%m-%d %H:%M:%S}",
                    a.outcome,
                    a.provider_code,
                    a.provider_text[:120],
                    a.latency_ms,
                )
                for a in attempts
            ),
        ),
    )


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    fields = ["provider", "short_token", "status", "attempts", "last_error", "next_attempt_at", "timeline"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).prefetch_related("attempt_log")

    @admin.display(description="token")
    def short_token(self, delivery: Delivery) -> str:
        return delivery.token if len(delivery.token) <= 32 else f"{delivery.token[:32]}…"

    @admin.display(description="last error")
    def last_error(self, delivery: Delivery) -> str:
        return f"{delivery.last_error_code} {delivery.last_error_text}".strip() or "—"

    @admin.display(description="attempts: when, outcome, provider's answer")
    def timeline(self, delivery: Delivery) -> str:
        return attempt_timeline(delivery)


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("fcm", "FCM"), ("apns", "APNs"), ("webpush", "Web Push")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(deliveries__provider=self.value()).distinct()
        return queryset


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user_id", "category", "title", "source", "status", "why", "outcome", "created_at"]
    readonly_fields = ["source_link"]
    list_filter = ["status", "policy", "category", "source", ProviderFilter, "created_at"]
    search_fields = ["user_id"]
    search_help_text = "A user id, a notification id (#123), a device token prefix, or a source reference."
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    inlines = [DeliveryInline]
    fieldsets = [
        ("To", {"fields": ["user_id", "category", "priority", "status", "policy", "status_reason", "outcome"]}),
        (
            "Content",
            {
                "fields": [
                    "template_key",
                    "title",
                    "body",
                    "image",
                    "deep_link",
                    "data",
                    "translations",
                    "ttl_seconds",
                    "collapse_key",
                ]
            },
        ),
        ("Source", {"fields": ["source", "source_link", "trigger_key", "send_at", "created_at", "updated_at"]}),
    ]

    @admin.display(description="source reference")
    def source_link(self, notification: Notification) -> str:
        if notification.source == Source.EVENT and notification.source_ref.isdigit():
            url = reverse("admin:events_event_change", args=[notification.source_ref])
            return format_html("<a href='{}'>event #{}</a>", url, notification.source_ref)
        return notification.source_ref or "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DELIVERED)),
                total=Count("deliveries"),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Notification], search_term: str
    ) -> tuple[QuerySet[Notification], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.lstrip("#").isdigit():
            return queryset.filter(pk=int(term.lstrip("#"))) | queryset.filter(user_id=term), False
        found = (
            queryset.filter(user_id=term)
            | queryset.filter(source_ref=term)
            | queryset.filter(pk__in=Delivery.objects.filter(token__startswith=term).values("notification_id"))
        )
        return found, False

    @admin.display(description="why")
    def why(self, notification: Notification) -> str:
        reason = notification.status_reason
        return reason if len(reason) <= 80 else f"{reason[:80]}…"

    @admin.display(description="delivered (devices)")
    def outcome(self, notification: Notification) -> str:
        return f"{notification.delivered}/{notification.total}" if notification.total else "—"


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "notification_link",
        "provider",
        "short_token",
        "status",
        "attempts",
        "last_error_code",
        "updated_at",
    ]
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["token"]
    search_help_text = "A device token prefix, or a notification id (#123)."
    show_full_result_count = False
    list_select_related = ["notification"]
    fields = [
        "notification_link",
        "device",
        "provider",
        "token",
        "status",
        "attempts",
        "next_attempt_at",
        "provider_message_id",
        "last_error_code",
        "last_error_text",
        "created_at",
        "updated_at",
        "delivered_at",
        "timeline",
    ]
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("#") and term[1:].isdigit():
            return queryset.filter(notification_id=int(term[1:])), False
        return queryset.filter(token__startswith=term), False

    @admin.display(description="notification")
    def notification_link(self, delivery: Delivery) -> str:
        url = reverse("admin:notifications_notification_change", args=[delivery.notification_id])
        return format_html("<a href='{}'>#{}</a>", url, delivery.notification_id)

    @admin.display(description="token")
    def short_token(self, delivery: Delivery) -> str:
        return delivery.token if len(delivery.token) <= 32 else f"{delivery.token[:32]}…"

    @admin.display(description="attempts")
    def timeline(self, delivery: Delivery) -> str:
        return attempt_timeline(delivery)


class DeliveryProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return ProviderFilter.lookups(self, request, model_admin)  # type: ignore[arg-type]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(delivery__provider=self.value()) if self.value() else queryset


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "user", "provider", "provider_code", "reason", "status", "created_at"]
    list_filter = ["status", DeliveryProviderFilter, "provider_code", "created_at"]
    search_fields = ["delivery__notification__user_id", "delivery__token"]
    list_select_related = ["delivery__notification"]
    show_full_result_count = False
    actions = ["requeue", "discard"]
    readonly_fields = [
        "delivery",
        "reason",
        "provider_code",
        "payload",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="user")
    def user(self, failure: FailedDelivery) -> str:
        return failure.delivery.notification.user_id

    @admin.display(description="provider")
    def provider(self, failure: FailedDelivery) -> str:
        return failure.delivery.provider

    @admin.action(description="Requeue: one more attempt for the selected", permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[FailedDelivery]) -> None:
        count = failures.requeue_failed(list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(request, f"Requeued {count} delivery(ies).", messages.SUCCESS)

    @admin.action(description="Discard the selected", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[FailedDelivery]) -> None:
        count = failures.discard_failed(list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(request, f"Discarded {count} failed delivery(ies).", messages.SUCCESS)


@admin.register(ProviderPause)
class ProviderPauseAdmin(admin.ModelAdmin):
    list_display = ["provider", "paused_until", "reason", "paused_at"]
    readonly_fields = ["provider", "paused_until", "reason", "paused_at"]
    actions = ["resume"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resume sending now (after fixing the credentials)", permissions=["delete"])
    def resume(self, request: HttpRequest, queryset: QuerySet[ProviderPause]) -> None:
        names = list(queryset.values_list("provider", flat=True))
        resume_providers(names)
        self.message_user(request, f"Resumed {', '.join(names)}.", messages.SUCCESS)
