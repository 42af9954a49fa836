"""The admin's push preview: a template rendered for a context and a locale, as the sender would render it.

Endpoint: POST (JSON, CSRF) to the URL named `admin:message_templates_preview`; the view permission on message
templates suffices (nothing is written). Two modes, chosen by the body:

- Saved mode, `{"template_id": <pk>, "context": {...}, "locale": "de"}`: the SAVED template and its saved
  translations. `context` is optional (default: the template's sample_context) and must be an object; `locale` is
  optional ("" or absent: the default language). For read-only pages (Support) and other pages that embed the
  preview of a stored template (the campaign page).
- Form mode, anything else: the template as it is being edited, its fields as text (`data` and `sample_context`
  as JSON text), `default_locale`, `translations` ([{locale, title, body, image, deep_link}]) and `locale`.

Answer, both modes:
  {"ok": true, "title", "body", "image", "deep_link", "data": {...}, "locale": the locale asked for when a
   translation serves it, else "default", "locales": [the default language, then each translation's locale],
   "sizes": {"FCM": {"bytes", "limit"}, ...}}
  or {"ok": false, "field": the field at fault ("" if none), "error": plain words}.
A render error answers 200 (it is the preview's news); a malformed request 400; an unknown template_id 404.
`static/message_templates/push-preview.js` shows an answer (`PushcartPreview.render`).
"""

from __future__ import annotations

import json
from typing import Any

from notifications.localization import pick_translation
from notifications.records import Content
from providers.payloads import payload_sizes
from templates.models import MessageTemplate, TemplateTranslation
from templates.rendering import RenderError, render_content

TEXT_FIELDS = ("title", "body", "image", "deep_link", "collapse_key", "category")
SAMPLE_USER = "sample-user"
LOCALE_MAX = 35  # TemplateTranslation.locale's length: no translation can match a longer one


class PreviewRequestError(Exception):
    """The request itself is wrong (not a render error): answered with `status`."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def answer(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The endpoint's answer and HTTP status for a parsed JSON object (saved mode if it names a template_id)."""
    try:
        if "template_id" in body:
            return preview_saved(body), 200
        return preview(body), 200
    except PreviewRequestError as exc:
        return {"ok": False, "field": exc.field, "error": exc.message}, exc.status


def preview_saved(body: dict[str, Any]) -> dict[str, Any]:
    """The saved template `body["template_id"]` and its saved translations, rendered for `context` and `locale`.

    A render error is an answer ({"ok": False, ...}); a malformed request or an unknown template raises
    PreviewRequestError (`answer` turns it into the endpoint's JSON and status)."""
    template_id = body.get("template_id")
    if isinstance(template_id, bool) or not isinstance(template_id, (int, str)) or not str(template_id).isdigit():
        raise PreviewRequestError("template_id", "must be a template's number.")
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        raise PreviewRequestError("context", "must be a JSON object, like an event's data.")
    locale = _locale(body.get("locale"))
    template = (  # a number past the column's range is no template (and no database error)
        MessageTemplate.objects.prefetch_related("translations").filter(pk=int(template_id)).first()
        if int(template_id) < 2**63
        else None
    )
    if template is None:
        raise PreviewRequestError("template_id", "No template has this number; it may have been deleted.", 404)
    translations = list(template.translations.all())
    sample = template.sample_context if context is None else context
    if not isinstance(sample, dict):  # an old row's sample context; the form refuses anything else now
        sample = {}
    locales = [template.default_locale, *(t.locale for t in translations)]
    return _rendered(template, sample, translations, locale, locales)


def preview(form: dict[str, Any]) -> dict[str, Any]:
    """`form` holds the edited fields as text (data and sample_context as JSON) plus `translations` and `locale`."""
    try:
        data = _json(form.get("data"), "data")
        sample = _json(form.get("sample_context"), "sample_context")
    except RenderError as exc:
        return {"ok": False, "field": exc.field, "error": exc.message}
    template = MessageTemplate(
        key="preview",
        data=data,
        ttl_seconds=int(ttl) if str(ttl := form.get("ttl_seconds", "")).isdigit() else 24 * 3600,
        priority=form.get("priority") if form.get("priority") in ("high", "normal") else "high",
        **{name: str(form.get(name) or "") for name in TEXT_FIELDS},
    )
    rows = form.get("translations")
    translations = [
        TemplateTranslation(
            template=template, **{k: str(t.get(k) or "") for k in ("locale", "title", "body", "image", "deep_link")}
        )
        for t in (rows if isinstance(rows, list) else [])
        if isinstance(t, dict) and t.get("locale")
    ]
    default_locale = str(form.get("default_locale") or "")[:LOCALE_MAX] or "en"
    locales = [default_locale, *(t.locale for t in translations)]
    return _rendered(template, sample, translations, str(form.get("locale") or ""), locales)


def _rendered(
    template: MessageTemplate,
    sample: dict[str, Any],
    translations: list[TemplateTranslation],
    locale: str,
    locales: list[str],
) -> dict[str, Any]:
    try:
        content: Content = render_content(
            template, sample, user_id=str(sample.get("user_id", SAMPLE_USER)), translations=translations
        )
    except RenderError as exc:
        return {"ok": False, "field": exc.field, "error": exc.message}
    message = content.push_message(locale)
    used = locale if pick_translation(content.translations, locale) else "default"
    return {
        "ok": True,
        "locale": used,
        "locales": locales,
        "title": message.title,
        "body": message.body,
        "image": message.image,
        "deep_link": message.deep_link,
        "data": dict(message.data),
        "sizes": {name: {"bytes": size, "limit": limit} for name, (size, limit) in payload_sizes(message).items()},
    }


def _locale(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > LOCALE_MAX:
        raise PreviewRequestError("locale", f"must be a language code such as de or pt-BR, at most {LOCALE_MAX} long.")
    return raw.strip()


def _json(raw: Any, field: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise RenderError(field, f"is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    if not isinstance(value, dict):
        raise RenderError(field, "must be a JSON object.")
    return value
