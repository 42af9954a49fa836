"""Marketers write and preview message templates here."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from templates.forms import MessageTemplateForm, TranslationForm, TranslationFormSet
from templates.models import MessageTemplate, TemplateTranslation
from templates.preview import answer


class TranslationInline(admin.TabularInline):
    model = TemplateTranslation
    form = TranslationForm
    formset = TranslationFormSet
    extra = 0
    fields = ["locale", "title", "body", "image", "deep_link"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    inlines = [TranslationInline]
    change_form_template = "admin/message_templates/messagetemplate/change_form.html"
    list_display = ["key", "name", "category", "priority", "locales", "rule_count", "updated_at"]
    list_filter = ["category", "priority"]
    search_fields = ["key", "name", "title", "body", "translations__title", "translations__body"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["key", "name", "description", "category", "priority"]}),
        (
            "Message",
            {
                "fields": ["default_locale", "title", "body", "image", "deep_link", "data"],
                "description": "Django template syntax over the event's data: {{ order_id }}, "
                "{{ reason|default:'…' }}, {% if item_count > 1 %}…{% endif %}. The user is {{ user.id }}.",
            },
        ),
        ("Delivery", {"fields": ["ttl_seconds", "collapse_key", "dedup_window"]}),
        (
            "Sample context",
            {
                "fields": ["sample_context"],
                "description": "Example event data. Saving renders every language against it and refuses a "
                "template with a missing variable or a payload over a provider's limit.",
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MessageTemplate]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_rules=Count("rules", distinct=True))
            .prefetch_related("translations")
        )

    @admin.display(description="Languages")
    def locales(self, obj: MessageTemplate) -> str:
        return ", ".join([obj.default_locale, *(t.locale for t in obj.translations.all())])

    @admin.display(description="Rules", ordering="n_rules")
    def rule_count(self, obj: MessageTemplate) -> int:
        return obj.n_rules

    def get_urls(self) -> list[URLPattern]:
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="message_templates_preview"),
            *super().get_urls(),
        ]

    @staticmethod
    @require_POST
    def preview_view(request: HttpRequest) -> JsonResponse:
        if not request.user.has_perm("message_templates.view_messagetemplate"):
            raise PermissionDenied
        try:
            form = json.loads(request.body or b"{}")
        except json.JSONDecodeError:
            return JsonResponse({"ok": False, "field": "", "error": "The preview request is not JSON."}, status=400)
        if not isinstance(form, dict):
            return JsonResponse(
                {"ok": False, "field": "", "error": "The preview request is not an object."}, status=400
            )
        result, status = answer(form)
        return JsonResponse(result, status=status)
