"""The admin's live preview: a template as it is being edited, rendered for a sample context and locale."""

from __future__ import annotations

import json
from typing import Any

from notifications.localization import pick_translation
from providers.payloads import payload_sizes
from templates.models import MessageTemplate, TemplateTranslation
from templates.rendering import RenderError, render_content

TEXT_FIELDS = ("title", "body", "image", "deep_link", "collapse_key", "category")


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
    translations = [
        TemplateTranslation(
            template=template, **{k: str(t.get(k) or "") for k in ("locale", "title", "body", "image", "deep_link")}
        )
        for t in form.get("translations") or []
        if isinstance(t, dict) and t.get("locale")
    ]
    try:
        content = render_content(
            template, sample, user_id=str(sample.get("user_id", "sample-user")), translations=translations
        )
    except RenderError as exc:
        return {"ok": False, "field": exc.field, "error": exc.message}
    locale = str(form.get("locale") or "")
    message = content.push_message(locale)
    used = locale if pick_translation(content.translations, locale) else "default"
    return {
        "ok": True,
        "locale": used,
        "title": message.title,
        "body": message.body,
        "image": message.image,
        "deep_link": message.deep_link,
        "data": dict(message.data),
        "sizes": {name: {"bytes": size, "limit": limit} for name, (size, limit) in payload_sizes(message).items()},
    }


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
