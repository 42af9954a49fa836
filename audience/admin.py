"""Marketers build segments here: conditions without code, or an uploaded list; the audience size follows live."""

from __future__ import annotations

import json
import time

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from audience import conditions, services
from audience.forms import MemberUploadForm, SegmentConditionForm
from audience.models import Segment, SegmentCondition, ShopperProfile
from audience.selectors import audience_size

MAX_REPORTED_ERRORS = 50


class SegmentConditionInline(admin.TabularInline):
    model = SegmentCondition
    form = SegmentConditionForm
    extra = 1
    verbose_name = "condition"
    verbose_name_plural = "Conditions (for a 'Conditions' segment)"


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    inlines = [SegmentConditionInline]
    list_display = ["name", "kind", "summary", "members_count", "campaign_count", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "kind", "match"]
    change_form_template = "admin/audience/segment/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_members=Count("members", distinct=True), n_campaigns=Count("campaigns", distinct=True))
            .prefetch_related("conditions")
        )

    @admin.display(description="who")
    def summary(self, segment: Segment) -> str:
        if segment.kind == Segment.Kind.LIST:
            return "an uploaded list"
        rules = [str(c) for c in segment.conditions.all()]
        joiner = " and " if segment.match == Segment.Match.ALL else " or "
        return joiner.join(rules) or "everyone with an active device"

    @admin.display(description="listed user ids", ordering="n_members")
    def members_count(self, segment: Segment) -> str:
        return f"{segment.n_members:,}" if segment.kind == Segment.Kind.LIST else "—"

    @admin.display(description="campaigns", ordering="n_campaigns")
    def campaign_count(self, segment: Segment) -> int:
        return segment.n_campaigns

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("audience-size/", view(self.size_view), name="audience_segment_size"),
            path("<int:segment_id>/upload/", view(self.upload_view), name="audience_segment_upload"),
            *super().get_urls(),
        ]

    @staticmethod
    @require_POST
    def size_view(request: HttpRequest) -> JsonResponse:
        """The audience of the segment as the form stands (unsaved): users and active devices, and how long it took.

        A body without `conditions` asks for a saved segment as it is stored (the campaign page's estimate).
        """
        if not request.user.has_perm("audience.view_segment"):
            raise PermissionDenied
        try:
            form = json.loads(request.body or b"{}")
            segment_id = form.get("segment_id")
            if "conditions" not in form:
                return _saved_size(segment_id)
            rules = [
                SegmentCondition(
                    field=str(c.get("field", "")),
                    attribute=str(c.get("attribute", "")),
                    operator=str(c.get("operator", "")),
                    value=str(c.get("value", "")),
                )
                for c in form.get("conditions", [])
            ]
        except (json.JSONDecodeError, AttributeError, TypeError):
            return JsonResponse({"ok": False, "error": "The request is not the form's JSON."}, status=400)
        for index, rule in enumerate(rules):
            try:
                conditions.validate(rule.field, rule.operator, rule.value, rule.attribute)
            except ValidationError as exc:
                reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                return JsonResponse({"ok": False, "row": index, "error": f"Condition {index + 1}: {reason}"})
        segment = Segment(
            pk=segment_id, kind=form.get("kind") or Segment.Kind.CONDITIONS, match=form.get("match") or "all"
        )
        started = time.perf_counter()
        size = audience_size(segment, rules)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return JsonResponse({"ok": True, "users": size.users, "devices": size.devices, "ms": round(elapsed_ms)})

    def upload_view(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        """A CSV of user ids: bad rows are reported with their line numbers; nothing is imported unless confirmed."""
        segment = get_object_or_404(Segment, pk=segment_id)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        form = MemberUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            parsed = services.parse_member_csv(form.cleaned_data["file"].read())
            report = parsed
            if not parsed.user_ids:
                messages.error(request, "The file holds no valid user id: nothing was imported.")
            elif parsed.errors and not form.cleaned_data["import_good_rows"]:
                messages.warning(
                    request,
                    f"{len(parsed.errors)} bad row(s): nothing was imported. Fix the file, or tick 'Import the good "
                    f"rows' and upload it again to import the {len(parsed.user_ids):,} good ones.",
                )
            else:
                imported = services.replace_members(segment, parsed.user_ids)
                skipped = f"; {len(parsed.errors)} bad row(s) skipped" if parsed.errors else ""
                messages.success(request, f"Imported {imported:,} user ids into '{segment}'{skipped}.")
                return redirect(reverse("admin:audience_segment_change", args=[segment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Upload a list of user ids into '{segment}'",
            "segment": segment,
            "form": form,
            "report": report,
            "errors": report.errors[:MAX_REPORTED_ERRORS] if report else [],
            "more_errors": max(0, len(report.errors) - MAX_REPORTED_ERRORS) if report else 0,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/audience/segment/upload.html", context)


@admin.register(ShopperProfile)
class ShopperProfileAdmin(admin.ModelAdmin):
    list_display = ["user_id", "attributes", "updated_at"]
    search_fields = ["user_id"]
    readonly_fields = ["user_id", "attributes", "updated_at"]

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        term = search_term.strip()
        return (queryset.filter(user_id=term), False) if term else (queryset, False)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def _saved_size(segment_id: object) -> JsonResponse:
    text = str(segment_id) if isinstance(segment_id, int | str) and not isinstance(segment_id, bool) else ""
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**31:
        return JsonResponse({"ok": False, "error": "Choose a segment to see its audience."})
    segment = Segment.objects.filter(pk=int(text)).first()
    if segment is None:
        return JsonResponse({"ok": False, "error": "This segment no longer exists."}, status=404)
    started = time.perf_counter()
    size = audience_size(segment)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return JsonResponse({"ok": True, "users": size.users, "devices": size.devices, "ms": round(elapsed_ms)})
