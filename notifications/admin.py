"""Support's delivery log: "why did user X not get the cancellation notice?" """

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from config.paging import LookaheadPagingMixin
from notifications import failures
from notifications.attempts import log_of
from notifications.models import (
    Delivery,
    FailedDelivery,
    FailedDeliveryStatus,
    Notification,
    ProviderPause,
    Source,
)
from notifications.outcomes import (
    count_deliveries,
    device_label,
    notification_outcome,
    notification_state,
    provider_reference,
)
from notifications.selectors import (
    DELIVERY_SEARCH_HELP,
    NOTIFICATION_SEARCH_HELP,
    search_deliveries,
    search_notifications,
)
from notifications.writes import resume_providers


class ReadOnlyAdminMixin:
    """The log is written by the engine; nobody edits it by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def attempt_timeline(delivery: Delivery) -> str:
    attempts = log_of(delivery)
    if not attempts:
        return "—"
    return format_html(
        "<ol style='margin:0;padding-left:1.2em'>{}</ol>",
        format_html_join(
            "",
            "<li>{} · <b>{}</b> {} <span style='color:var(--body-quiet-color)'>{}{}</span></li>",
            (
                (
                    f"{a.sent_at:%Y-%m-%d %H:%M:%S}",
                    a.outcome,
                    a.provider_code,
                    a.provider_text[:120],
                    "" if a.latency_ms is None else f" · {a.latency_ms} ms",
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
        return super().get_queryset(request).select_related("device").prefetch_related("attempt_log")

    @admin.display(description="token")
    def short_token(self, delivery: Delivery) -> str:
        return short_token(delivery)

    @admin.display(description="last error")
    def last_error(self, delivery: Delivery) -> str:
        return f"{delivery.last_error_code} {delivery.last_error_text}".strip() or "—"

    @admin.display(description="attempts: when, outcome, provider's answer")
    def timeline(self, delivery: Delivery) -> str:
        return attempt_timeline(delivery)


def short_token(delivery: Delivery) -> str:
    token = delivery.device.token  # a device's token never changes (devices.services): the one it was sent to
    return token if len(token) <= 32 else f"{token[:32]}…"


def _content_field(name: str, show: Callable[[object], object] = str) -> Callable[..., str]:
    """A read-only admin field showing one field of the notification's content."""

    @admin.display(description=name.replace("_", " "))
    def field(self: admin.ModelAdmin, notification: Notification) -> str:
        return str(show(getattr(notification.content, name)))

    return field


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("fcm", "FCM"), ("apns", "APNs"), ("webpush", "Web Push")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            # EXISTS, not a join and DISTINCT: the list stays in created_at order, read newest first until a page
            # is full, each row's deliveries looked up by delivery_notification.
            sent = Delivery.objects.filter(notification=OuterRef("pk"), provider=self.value())
            return queryset.filter(Exists(sent))
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    """The categories the settings define: Django's own filter would SELECT DISTINCT category over every row."""

    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name.replace("_", " ")) for name in sorted(settings.NOTIFICATION_CATEGORIES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(category=self.value()) if self.value() else queryset


class NotificationChangeList(ChangeList):
    """The page's rows, with their deliveries counted for these rows only (outcomes.count_deliveries)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        count_deliveries(self.result_list)


# What the notification's content row says, shown read-only on its page (each a display method below).
CONTENT_FIELDS = [
    "template",
    "title",
    "body",
    "image",
    "deep_link",
    "data",
    "translations",
    "ttl_seconds",
    "collapse_key",
]


@admin.register(Notification)
class NotificationAdmin(LookaheadPagingMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user_id", "category", "title", "source", "state", "why", "outcome", "created_at"]
    readonly_fields = ["source_link", "state", "why", "priority", *CONTENT_FIELDS]
    # No date hierarchy: its links are a SELECT DISTINCT date_trunc(…) and a MIN/MAX over the whole table. The
    # created_at filter's ranges (today, the last 7 days, this month) are one range each, on its index.
    list_filter = ["status", "policy", CategoryFilter, "source", ProviderFilter, "created_at"]
    search_fields = ["user_id"]  # shows the search box; get_search_results reads each meaning of the term
    search_help_text = NOTIFICATION_SEARCH_HELP
    list_per_page = 50
    inlines = [DeliveryInline]
    fieldsets = [
        ("To", {"fields": ["user_id", "category", "priority", "state", "policy", "why", "outcome"]}),
        ("Content", {"fields": CONTENT_FIELDS}),
        ("Source", {"fields": ["source", "source_link", "trigger_key", "send_at", "created_at", "updated_at"]}),
    ]
    priority = _content_field("priority")
    template = _content_field("template_key")
    title = _content_field("title")
    body = _content_field("body")
    image = _content_field("image")
    deep_link = _content_field("deep_link")
    data = _content_field("data", _json)
    translations = _content_field("translations", _json)
    collapse_key = _content_field("collapse_key")

    @admin.display(description="TTL seconds")
    def ttl_seconds(self, notification: Notification) -> int:
        return notification.ttl_seconds

    @admin.display(description="source reference")
    def source_link(self, notification: Notification) -> str:
        if notification.source == Source.EVENT and notification.source_ref.isdigit():
            url = reverse("admin:events_event_change", args=[notification.source_ref])
            return format_html("<a href='{}'>event #{}</a>", url, notification.source_ref)
        return notification.source_ref or "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("content")

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return NotificationChangeList

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Notification | None:
        notification = super().get_object(request, object_id, from_field)
        if notification is not None:
            count_deliveries([notification])
        return notification

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Notification], search_term: str
    ) -> tuple[QuerySet[Notification], bool]:
        return search_notifications(queryset, search_term), False

    @admin.display(description="status", ordering="status")
    def state(self, notification: Notification) -> str:
        return notification_state(notification)

    @admin.display(description="what happened, why")
    def why(self, notification: Notification) -> str:
        # The whole sentence: a row that says only "Sent" would hide that no device got it.
        return notification_outcome(notification) or "—"

    @admin.display(description="delivered (devices)")
    def outcome(self, notification: Notification) -> str:
        return f"{notification.delivered}/{notification.total}" if notification.total else "—"


@admin.register(Delivery)
class DeliveryAdmin(LookaheadPagingMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
    list_filter = ["status", "provider", "updated_at"]
    search_fields = ["device__token"]  # shows the search box; get_search_results reads the term
    search_help_text = DELIVERY_SEARCH_HELP
    list_select_related = ["notification", "device"]
    fields = [
        "notification_link",
        "device",
        "provider",
        "token",
        "status",
        "attempts",
        "next_attempt_at",
        "provider_reference",
        "last_error_code",
        "last_error_text",
        "updated_at",
        "delivered_at",
        "timeline",
    ]
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        return search_deliveries(queryset, search_term), False

    @admin.display(description="notification")
    def notification_link(self, delivery: Delivery) -> str:
        url = reverse("admin:notifications_notification_change", args=[delivery.notification_id])
        return format_html("<a href='{}'>#{}</a>", url, delivery.notification_id)

    @admin.display(description="token")
    def short_token(self, delivery: Delivery) -> str:
        return short_token(delivery)

    @admin.display(description="token")
    def token(self, delivery: Delivery) -> str:
        return delivery.device.token

    @admin.display(description="provider's message id")
    def provider_reference(self, delivery: Delivery) -> str:
        return provider_reference(delivery) or "—"

    @admin.display(description="attempts")
    def timeline(self, delivery: Delivery) -> str:
        return attempt_timeline(delivery)


REQUEUE, DISCARD = "requeue", "discard"


class DeliveryProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return ProviderFilter.lookups(self, request, model_admin)  # type: ignore[arg-type]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # From the record's payload: the delivery may be gone (deliveries are kept less long than these records).
        return queryset.filter(payload__provider=self.value()) if self.value() else queryset


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "user", "provider", "provider_code", "reason", "status", "created_at"]
    list_filter = ["status", DeliveryProviderFilter, "provider_code", "created_at"]
    search_fields = ["delivery__notification__user_id", "delivery__device__token"]
    show_full_result_count = False
    actions = ["requeue", "discard"]
    readonly_fields = [
        "delivery_link",
        "reason",
        "provider_code",
        "payload",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    fields = readonly_fields

    change_form_template = "admin/notifications/faileddelivery/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[FailedDelivery]:
        # A record outlives its delivery (FAILED_DELIVERY_RETENTION_DAYS against DELIVERY_RETENTION_DAYS): the
        # shopper is looked up for the rows shown, and is empty once the delivery is gone.
        shopper = Delivery.objects.filter(pk=OuterRef("delivery_id")).values("notification__user_id")[:1]
        return super().get_queryset(request).annotate(shopper=Subquery(shopper))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The record itself is never edited (its page is read-only, without Save buttons); "change" is the right
        # to resolve it: Requeue and Discard, here and as list actions.
        return obj is None and super().has_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        resolve = self.admin_site.admin_view(self.resolve_view)
        return [
            path(
                "<path:object_id>/requeue/", resolve, {"action": REQUEUE}, name="notifications_faileddelivery_requeue"
            ),
            path(
                "<path:object_id>/discard/", resolve, {"action": DISCARD}, name="notifications_faileddelivery_discard"
            ),
            *super().get_urls(),
        ]

    def render_change_form(  # type: ignore[no-untyped-def]
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ) -> HttpResponse:
        context["can_resolve"] = (
            obj is not None
            and obj.status == FailedDeliveryStatus.OPEN
            and self.has_change_permission(request)
            and _kept_delivery(obj) is not None
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def resolve_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Requeue or Discard one failed delivery: GET asks for confirmation, saying what will happen; POST does it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        # Not joined to its delivery (an inner join would hide a record whose delivery is no longer kept).
        failure = FailedDelivery.objects.filter(pk=int(object_id)).first() if object_id.isdigit() else None
        if failure is None:
            raise Http404("No such failed delivery.")
        page = reverse("admin:notifications_faileddelivery_change", args=[failure.pk])
        if _kept_delivery(failure) is None:
            self.message_user(request, _gone(), messages.WARNING)
            return redirect(page)
        if request.method == "POST":
            resolve = failures.requeue_failed if action == REQUEUE else failures.discard_failed
            if resolve([failure.pk], by=request.user.get_username()):
                done = "requeued: it is being sent once more" if action == REQUEUE else "discarded"
                self.message_user(request, f"Failed delivery #{failure.delivery_id} {done}.", messages.SUCCESS)
            else:  # someone else resolved it meanwhile
                failure.refresh_from_db(fields=["status"])
                already = failure.get_status_display().lower()
                self.message_user(
                    request, f"Nothing done: this failed delivery was already {already}.", messages.WARNING
                )
            return redirect(page)
        if failure.status != FailedDeliveryStatus.OPEN:
            already = failure.get_status_display().lower()
            self.message_user(request, f"This failed delivery was already {already}.", messages.WARNING)
            return redirect(page)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{action.capitalize()} failed delivery #{failure.delivery_id}?",
            "failure": failure,
            "action": action,
            "device": device_label(failure.delivery.device),
            "next_attempt": failure.delivery.attempts + 1,
            "cancel_url": page,
        }
        return TemplateResponse(request, "admin/notifications/faileddelivery/confirm.html", context)

    @admin.display(description="user")
    def user(self, failure: FailedDelivery) -> str:
        return getattr(failure, "shopper", None) or "—"

    @admin.display(description="provider")
    def provider(self, failure: FailedDelivery) -> str:
        return failure.payload.get("provider", "") if isinstance(failure.payload, dict) else ""

    @admin.display(description="delivery")
    def delivery_link(self, failure: FailedDelivery) -> str:
        if _kept_delivery(failure) is None:
            return _gone()
        url = reverse("admin:notifications_delivery_change", args=[failure.delivery_id])
        return format_html('<a href="{}">Delivery #{}</a>', url, failure.delivery_id)

    @admin.action(description="Requeue: one more attempt for the selected", permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[FailedDelivery]) -> None:
        count = failures.requeue_failed(list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(request, f"Requeued {count} delivery(ies).", messages.SUCCESS)

    @admin.action(description="Discard the selected", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[FailedDelivery]) -> None:
        count = failures.discard_failed(list(queryset.values_list("pk", flat=True)), by=request.user.get_username())
        self.message_user(request, f"Discarded {count} failed delivery(ies).", messages.SUCCESS)


def _kept_delivery(failure: FailedDelivery) -> Delivery | None:
    try:
        return failure.delivery
    except Delivery.DoesNotExist:
        return None


def _gone() -> str:
    return (
        f"Its delivery is no longer kept (deliveries are kept {settings.DELIVERY_RETENTION_DAYS} days): the message "
        "as it was sent is below; it can't be requeued."
    )


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
