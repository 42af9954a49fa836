"""Marketers run campaigns here: edit while draft, test, launch, watch live progress, read the results."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from campaigns import services
from campaigns.forms import CampaignForm, VariantFormSet
from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant
from campaigns.results import Results, results

# Buttons per status: (action, label). Only moves the status machine allows are offered.
ACTIONS: dict[str, list[tuple[str, str]]] = {
    CampaignStatus.DRAFT: [("launch", "Launch"), ("cancel", "Cancel")],
    CampaignStatus.SCHEDULED: [("unschedule", "Back to draft"), ("pause", "Pause"), ("cancel", "Cancel")],
    CampaignStatus.SENDING: [("pause", "Pause"), ("cancel", "Cancel")],
    CampaignStatus.PAUSED: [("resume", "Resume"), ("cancel", "Cancel")],
    CampaignStatus.COMPLETED: [],
    CampaignStatus.CANCELLED: [],
}
SERVICES = {
    "launch": services.launch,
    "unschedule": services.unschedule,
    "pause": services.pause,
    "resume": services.resume,
    "cancel": services.cancel,
}


class VariantInline(admin.TabularInline):
    model = CampaignVariant
    formset = VariantFormSet
    extra = 0
    fields = ["name", "template", "weight"]
    verbose_name_plural = "A/B variants (optional: two or more; each shopper always gets the same one)"

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.status == CampaignStatus.DRAFT)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission  # type: ignore[assignment]


class RunInline(admin.TabularInline):
    model = CampaignRun
    extra = 0
    fields = ["status", "started_at", "targeted", "cursor", "fanned_out_at", "finished_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Runs"

    def has_add_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    inlines = [VariantInline, RunInline]
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ["name", "status_badge", "when", "segment", "targeted", "created_at"]
    list_filter = ["status", "schedule"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["template", "segment"]
    list_select_related = ["segment"]
    fieldsets = [
        (None, {"fields": ["name", "description"]}),
        ("What", {"fields": ["template", "context"]}),
        ("Who", {"fields": ["segment"]}),
        (
            "When",
            {
                "fields": [
                    "schedule",
                    "send_at",
                    ("local_date", "local_time"),
                    ("recurrence", "recurrence_time", "recurrence_weekday"),
                    ("cron", "recurrence_timezone"),
                ]
            },
        ),
        ("Pace and protection", {"fields": ["throttle_per_minute", "max_per_user_per_day"]}),
        ("Results", {"fields": ["conversion_event", "conversion_window"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).annotate(n_targeted=Sum("runs__targeted"))

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return [f for fieldset in self.fieldsets for f in _flat(fieldset[1]["fields"])]  # only paused or cancelled
        return []

    def save_model(self, request: HttpRequest, obj: Campaign, form: CampaignForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    @admin.display(description="status", ordering="status")
    def status_badge(self, campaign: Campaign) -> str:
        colours = {
            "sending": "#2a9d8f",
            "scheduled": "#457b9d",
            "paused": "#e9c46a",
            "completed": "#264653",
            "cancelled": "#9d0208",
            "draft": "#6c757d",
        }
        return format_html(
            "<span style='color:#fff;background:{};padding:2px 8px;border-radius:10px'>{}</span>",
            colours.get(campaign.status, "#6c757d"),
            campaign.get_status_display(),
        )

    @admin.display(description="when")
    def when(self, campaign: Campaign) -> str:
        if campaign.schedule == "at" and campaign.send_at:
            return f"{campaign.send_at:%Y-%m-%d %H:%M} UTC"
        if campaign.schedule == "local" and campaign.local_date:
            return f"{campaign.local_date} {campaign.local_time:%H:%M} local time"
        if campaign.schedule == "recurring":
            return f"recurring ({campaign.get_recurrence_display().lower() if campaign.recurrence else '?'})"
        return campaign.get_schedule_display()

    @admin.display(description="shoppers targeted", ordering="n_targeted")
    def targeted(self, campaign: Campaign) -> str:
        return f"{campaign.n_targeted:,}" if campaign.n_targeted else "—"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):  # type: ignore[no-untyped-def]
        campaign = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if campaign is not None:
            can_change = self.has_change_permission(request, campaign)
            extra.update(
                campaign_actions=ACTIONS[campaign.status] if can_change else [],
                can_test=can_change and campaign.status not in (CampaignStatus.CANCELLED,),
                results_html=results_table(results(campaign)) if campaign.runs.exists() else "",
                problems=services.problems(campaign) if campaign.status == CampaignStatus.DRAFT else {},
                # Launch carries the version saved when this page was rendered (see action_view).
                saved_version=services.saved_version(campaign),
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:campaign_id>/do/<str:action>/", view(self.action_view), name="campaigns_campaign_action"),
            path("<int:campaign_id>/test-send/", view(self.test_send_view), name="campaigns_campaign_test_send"),
            *super().get_urls(),
        ]

    @staticmethod
    def _back(campaign: Campaign) -> HttpResponse:
        return redirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def action_view(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        if request.method != "POST":
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not self.has_change_permission(request, campaign) or action not in dict(ACTIONS[campaign.status]):
            raise PermissionDenied
        try:
            if action == "launch":
                # Only from a page rendered from the saved campaign, which it still is: a page whose save failed
                # renders no version, and a campaign saved since (another tab, a colleague) has another.
                version = request.POST.get("version", "")
                if not version:
                    raise ValidationError("Save the campaign first: Launch acts only on the saved campaign.")
                services.launch(campaign, version=version)
            else:
                SERVICES[action](campaign)
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
        else:
            messages.success(request, f"'{campaign}' is now {campaign.get_status_display().lower()}.")
        return self._back(campaign)

    def test_send_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if request.method != "POST" or not self.has_change_permission(request, campaign):
            raise PermissionDenied
        target = request.POST.get("target", "").strip()
        is_token = request.POST.get("kind") == "token"
        try:
            sent = services.test_send(
                campaign,
                user_id="" if is_token else target,
                token=target if is_token else "",
                by=request.user.get_username(),
            )
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, f"Test not sent: {message}")
        else:
            links = format_html_join(
                ", ",
                "<a href='{}'>notification #{}</a>",
                ((reverse("admin:notifications_notification_change", args=[n.pk]), n.pk) for n in sent),
            )
            messages.success(request, format_html("Test sent to {}: {}.", target, links))
        return self._back(campaign)


def _flat(fields: list) -> list[str]:  # type: ignore[type-arg]
    flat: list[str] = []
    for item in fields:
        flat.extend(item if isinstance(item, tuple) else [item])
    return flat


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field.replace('_', ' ')}: {m}" for field, ms in exc.message_dict.items() for m in ms]
    return list(exc.messages)


def results_table(found: Results) -> str:
    """Per variant: the numbers, and bars for the rates a marketer compares at a glance."""
    rows = format_html_join(
        "",
        "<tr><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                v.name,
                f"{v.targeted:,}",
                f"{v.delivered:,} ({v.delivery_rate:.1%})",
                f"{v.opened:,} ({v.open_rate:.1%})",
                f"{v.converted:,} ({v.conversion_rate:.1%})",
                bars(v.open_rate, v.conversion_rate),
            )
            for v in found.variants
        ),
    )
    verdict = ""
    if found.comparison is not None:
        c = found.comparison
        verdict = format_html(
            "<p><strong>{}</strong> leads on {} rate by {} points over {} — {} (p = {}).</p>",
            c.leader,
            c.metric,
            f"{c.difference * 100:.1f}",
            c.runner_up,
            "a significant difference" if c.significant else "not significant yet",
            f"{c.p_value:.3f}",
        )
    held = ", ".join(f"{reason.replace('_', ' ')}: {n:,}" for reason, n in sorted(found.held_back.items()))
    return format_html(
        "<table style='width:100%'><thead><tr><th>Variant</th><th>Targeted</th><th>Delivered</th><th>Opened</th>"
        "<th>Converted</th><th>Open / conversion rate</th></tr></thead><tbody>{}</tbody></table>{}<p>Held back: {}</p>",
        rows,
        verdict,
        held or "none",
    )


def bars(open_rate: float, conversion_rate: float) -> str:
    return format_html(
        "<svg width='160' height='28' role='img' aria-label='open {} conversion {}'>"
        "<rect x='0' y='2' width='{}' height='10' fill='#457b9d'></rect>"
        "<rect x='0' y='16' width='{}' height='10' fill='#2a9d8f'></rect></svg>",
        f"{open_rate:.1%}",
        f"{conversion_rate:.1%}",
        round(160 * open_rate),
        round(160 * conversion_rate),
    )
