"""Admin forms that refuse a template which would fail at send time: checked against its sample context."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from devices.validation import normalize_locale
from templates.models import MessageTemplate, TemplateTranslation
from templates.rendering import RenderError, render_content

SAMPLE_USER = "sample-user"
_FORM_FIELDS = {"title", "body", "image", "deep_link", "collapse_key"}


def _field_of(error: RenderError) -> str:
    name = error.field.rsplit(": ", 1)[-1]
    if name.startswith("data."):
        return "data"
    return name if name in _FORM_FIELDS else "body"


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = [
            "key",
            "name",
            "description",
            "category",
            "priority",
            "default_locale",
            "title",
            "body",
            "image",
            "deep_link",
            "data",
            "ttl_seconds",
            "collapse_key",
            "dedup_window",
            "sample_context",
        ]
        widgets = {
            "title": forms.TextInput(attrs={"size": 80}),
            "body": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "data": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "sample_context": forms.Textarea(attrs={"rows": 6, "cols": 80}),
        }

    def clean_default_locale(self) -> str:
        return normalize_locale(self.cleaned_data["default_locale"])

    def clean_data(self) -> dict[str, Any]:
        data = self.cleaned_data["data"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValidationError('A JSON object of texts, e.g. {"order_id": "{{ order_id }}"}.')
        return data

    def clean_sample_context(self) -> dict[str, Any]:
        sample = self.cleaned_data["sample_context"]
        if not isinstance(sample, dict):
            raise ValidationError('A JSON object, like an event\'s data: {"order_id": "1042"}.')
        return sample

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        template = MessageTemplate(
            **{k: v for k, v in cleaned.items() if k in {f.name for f in MessageTemplate._meta.fields}}
        )
        try:
            render_content(template, cleaned["sample_context"], user_id=SAMPLE_USER, translations=[])
        except RenderError as exc:
            self.add_error(_field_of(exc), f"With the sample context, {exc.message}")
        return cleaned


class TranslationForm(forms.ModelForm):
    class Meta:
        model = TemplateTranslation
        fields = ["locale", "title", "body", "image", "deep_link"]
        widgets = {"body": forms.Textarea(attrs={"rows": 2, "cols": 60})}

    def clean_locale(self) -> str:
        return normalize_locale(self.cleaned_data["locale"])


class TranslationFormSet(BaseInlineFormSet):
    """Each translation is rendered (and size-checked) with the template's possibly just edited sample context."""

    def clean(self) -> None:
        super().clean()
        template: MessageTemplate = self.instance
        seen: set[str] = set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE") or form.errors:
                continue
            fields = {k: form.cleaned_data.get(k, "") for k in ("locale", "title", "body", "image", "deep_link")}
            translation = TemplateTranslation(template=template, **fields)
            if translation.locale.lower() in seen:
                form.add_error("locale", "This locale already has a translation.")
                continue
            seen.add(translation.locale.lower())
            try:
                render_content(template, template.sample_context or {}, user_id=SAMPLE_USER, translations=[translation])
            except RenderError as exc:
                if exc.field.startswith(f"{translation.locale}: "):  # errors of the default texts show above
                    form.add_error(_field_of(exc), f"With the sample context, {exc.message}")
