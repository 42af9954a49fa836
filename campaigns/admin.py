"""Marketers run campaigns here: edit while draft, test, launch, watch live progress, read the results."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from campaigns import review, services
from campaigns.describe import duration_in_words, schedule_in_words
from campaigns.forms import CampaignForm, VariantFormSet
from campaigns.models import Campaign, CampaignRun, CampaignStatus, CampaignVariant
from campaigns.results import live_results
from devices.models import Platform

# Buttons per status: (action, label). Only moves the status machine allows are offered.
ACTIONS: dict[str, list[tuple[str, str]]] = {
    CampaignStatus.DRAFT: [("launch", "Launch"), ("cancel", "Cancel")],
    CampaignStatus.SCHEDULED: [("unschedule", "Back to draft"), ("pause", "Pause"), ("cancel", "Cancel")],
    CampaignStatus.SENDING: [("pause", "Pause"), ("cancel", "Cancel")],
    CampaignStatus.PAUSED: [("resume", "Resume"), ("cancel", "Cancel")],
    CampaignStatus.COMPLETED: [],
    CampaignStatus.CANCELLED: [],
}
# Actions that first show what they will do (a confirmation page); Launch's is the launch review.
CONFIRMED = ("launch", "pause", "cancel")
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
    actions = ["duplicate_selected"]  # next week's promotion starts from this week's
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
            # Everything once it is no longer a draft (only paused or cancelled could change, by the buttons).
            fields = [f for fieldset in self.fieldsets for f in _flat(fieldset[1]["fields"])]
            return [IN_WORDS.get(f, f) for f in fields]
        return []

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None):  # type: ignore[no-untyped-def]
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.status == CampaignStatus.DRAFT:
            return fieldsets
        # Read-only: durations shown in words ("1 day"), not as Django's "1 day, 0:00:00".
        return [(name, {**options, "fields": _in_words(options["fields"])}) for name, options in fieldsets]

    @admin.display(description="conversion window")
    def conversion_window_in_words(self, campaign: Campaign) -> str:
        return duration_in_words(campaign.conversion_window, parts=4)

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
        return schedule_in_words(campaign)

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
                confirmed_actions=CONFIRMED,
                schedule_words=schedule_in_words(campaign),
                composer_saved=composer_saved(campaign),
                can_test=can_change and campaign.status not in (CampaignStatus.CANCELLED,),
                # Rendered by results.js from this JSON, then kept current over the progress WebSocket.
                results_data=live_results(campaign) if campaign.runs.exists() else None,
                can_duplicate=self.has_add_permission(request),
                problems=services.problems(campaign) if campaign.status == CampaignStatus.DRAFT else {},
                # Launch carries the version saved when this page was rendered (see action_view).
                saved_version=services.saved_version(campaign),
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:campaign_id>/do/<str:action>/", view(self.action_view), name="campaigns_campaign_action"),
            path("<int:campaign_id>/review/", view(self.review_view), name="campaigns_campaign_review"),
            path("<int:campaign_id>/confirm/<str:action>/", view(self.confirm_view), name="campaigns_campaign_confirm"),
            path("<int:campaign_id>/test-send/", view(self.test_send_view), name="campaigns_campaign_test_send"),
            path("<int:campaign_id>/duplicate/", view(self.duplicate_view), name="campaigns_campaign_duplicate"),
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

    def duplicate_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """The page's Duplicate button: a draft copy, opened at once."""
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        copy = self._duplicate(request, campaign)
        return self._back(copy)

    @admin.action(description="Duplicate selected campaigns", permissions=["add"])
    def duplicate_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        copies = [self._duplicate(request, campaign) for campaign in queryset.order_by("pk")]
        return self._back(copies[0]) if len(copies) == 1 else None  # several: the list, with a message each

    def _duplicate(self, request: HttpRequest, campaign: Campaign) -> Campaign:
        copy, notes = services.duplicate(campaign, by=request.user.get_username())
        link = format_html("<a href='{}'>{}</a>", reverse("admin:campaigns_campaign_change", args=[copy.pk]), copy.name)
        said = format_html("Duplicated '{}' as {}, a draft.", campaign.name, link)
        if notes:
            messages.warning(request, format_html("{} Not copied: {}.", said, "; ".join(notes)))
        else:
            messages.success(request, said)
        return copy

    def review_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """Launch's confirmation: what launching the saved campaign would do now; its "Launch now" posts to
        action_view with the same saved version, so the review can't launch anything but what it showed."""
        campaign = get_object_or_404(Campaign.objects.select_related("segment", "template"), pk=campaign_id)
        if not self.has_change_permission(request, campaign) or "launch" not in dict(ACTIONS[campaign.status]):
            raise PermissionDenied
        version = request.GET.get("version", "")
        refusal: list[str] = []
        if not version:
            refusal = ["Save the campaign first: Launch acts only on the saved campaign."]
        elif version != services.saved_version(campaign):
            refusal = ["The campaign was changed since this page was loaded; reload it and check it first."]
        else:
            found = services.problems(campaign)
            refusal = _messages_of(ValidationError(found)) if found else []
        if refusal:
            for message in refusal:
                messages.error(request, message)
            return self._back(campaign)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Launch '{campaign}'?",
            "opts": self.model._meta,
            "original": campaign,
            "review": review.launch_review(campaign),
            "version": version,
            "preview_url": reverse("admin:message_templates_preview"),
            "platforms": Platform.choices,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/launch_review.html", context)

    def confirm_view(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        """Pause's and Cancel's confirmation: what the move does to the shoppers not sent yet."""
        campaign = get_object_or_404(Campaign.objects.select_related("segment"), pk=campaign_id)
        allowed = dict(ACTIONS[campaign.status])
        if action not in ("pause", "cancel") or action not in allowed:
            raise PermissionDenied
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"{allowed[action]} '{campaign}'?",
            "opts": self.model._meta,
            "original": campaign,
            "action": action,
            "label": allowed[action],
            "outstanding": review.outstanding(campaign),
            "schedule_words": schedule_in_words(campaign),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm_action.html", context)

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


def composer_saved(campaign: Campaign) -> dict[str, object]:
    """What the composer previews and counts when the page has no form field for it (a campaign no longer a draft)."""
    return {
        "template_id": campaign.template_id,
        "context": campaign.context if isinstance(campaign.context, dict) else {},
        "segment_id": campaign.segment_id,
        "variants": [{"name": v.name, "template_id": v.template_id} for v in campaign.variants.all()],
        "schedule": campaign.schedule,
        "recurrence": campaign.recurrence,
    }


# Fields shown in words when read-only (a draft's form takes words too: campaigns.forms.DurationInWordsField).
IN_WORDS = {"conversion_window": "conversion_window_in_words"}


def _in_words(fields: list) -> list:  # type: ignore[type-arg]
    return [
        tuple(IN_WORDS.get(f, f) for f in item) if isinstance(item, tuple) else IN_WORDS.get(item, item)
        for item in fields
    ]


def _flat(fields: list) -> list[str]:  # type: ignore[type-arg]
    flat: list[str] = []
    for item in fields:
        flat.extend(item if isinstance(item, tuple) else [item])
    return flat


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field.replace('_', ' ')}: {m}" for field, ms in exc.message_dict.items() for m in ms]
    return list(exc.messages)
