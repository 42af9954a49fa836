"""Rendering message templates safely, and refusing texts that would read "Hello ,".

The engine knows no loaders, no {% load %} and no file or debug tags, and the
context holds only the event's JSON data, so a template cannot reach settings,
the database or the file system (Django also refuses attributes that start
with an underscore). Autoescaping is off: push titles and bodies are plain
text, and the admin preview shows them as text, never as HTML.

A variable the context lacks renders as a `_Missing` that records its name
when it is printed; `{{ name|default:"there" }}` and `{% if name %}` stay
legitimate because the missing value is falsy and is never printed.

Each field's render has a budget of steps and characters (templates.safe_library):
a template over it fails with the limit it crossed, in the preview, at save and
in the worker (the notification fails with that reason), instead of holding a
process's CPU or memory.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.template import Context, Engine, TemplateSyntaxError

from notifications.records import Content
from providers.payloads import PayloadTooLargeError, check_size
from templates.safe_library import RenderLimitError, limit_nodes, render_budget

if TYPE_CHECKING:
    from templates.models import MessageTemplate, TemplateTranslation

TITLE_MAX = 200  # what a notification stores (and about what a lock screen shows)
BODY_MAX = 1000
_UNRESOLVED = "\x00unresolved:%s\x00"  # the engine's own fallback, e.g. for a list index out of range


class SafeEngine(Engine):
    default_builtins: list[str] = []


ENGINE = SafeEngine(
    autoescape=False,
    builtins=["templates.safe_library"],
    libraries={},
    loaders=[],
    string_if_invalid=_UNRESOLVED,
)


class RenderError(ValueError):
    """A template that cannot be rendered for this context: which field, and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Missing:
    __slots__ = ("_printed", "path")

    def __init__(self, path: str, printed: list[str]) -> None:
        self.path = path
        self._printed = printed

    def __str__(self) -> str:
        self._printed.append(self.path)
        return ""

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self):
        return iter(())

    def __getitem__(self, key: object) -> _Missing:
        return _Missing(f"{self.path}.{key}", self._printed)


class _Data(dict):
    """A JSON object whose absent keys come back as _Missing instead of raising."""

    def __init__(self, values: Mapping[str, Any], path: str, printed: list[str]) -> None:
        super().__init__((k, _wrap(v, f"{path}{k}.", printed)) for k, v in values.items())
        self._path = path
        self._printed = printed

    def __missing__(self, key: str) -> _Missing:
        return _Missing(f"{self._path}{key}", self._printed)


class _TopLevel(_Data):
    # Django's Context asks `name in d` before `d[name]`; the top level claims
    # every name so that unknown ones become _Missing, except the literals the
    # engine keeps in its own bottom layer.
    def __contains__(self, key: object) -> bool:
        return key not in ("True", "False", "None")


def _wrap(value: Any, path: str, printed: list[str]) -> Any:
    if isinstance(value, Mapping):
        return _Data(value, path, printed)
    if isinstance(value, list):
        return [_wrap(v, path, printed) for v in value]
    return value


@functools.lru_cache(maxsize=2048)
def _compiled(source: str):
    return limit_nodes(ENGINE.from_string(source))


def render_text(source: str, context: Mapping[str, Any], *, field: str) -> str:
    """One field's text; RenderError names the field and every variable it lacked."""
    if not source:
        return ""
    try:
        template = _compiled(source)
    except TemplateSyntaxError as exc:
        raise RenderError(field, f"template syntax error: {exc}") from None
    printed: list[str] = []
    with render_budget() as budget:
        try:
            text = template.render(Context(_TopLevel(context, "", printed), autoescape=False))
        except RenderLimitError as exc:
            budget.exceeded = budget.exceeded or str(exc)
        except Exception as exc:  # a filter given the wrong kind of value, e.g. floatformat on a list
            if not budget.exceeded:
                raise RenderError(field, f"could not be rendered: {exc}") from None
    # Checked after the render too: {% if %}'s operators swallow exceptions, the limit crossed among them.
    if budget.exceeded:
        raise RenderError(field, f"the template exceeds its render limits: {budget.exceeded}.")
    missing = list(dict.fromkeys(printed))
    missing += [part.split("\x00", 1)[0] for part in text.split("\x00unresolved:")[1:]]
    if missing:
        names = ", ".join(missing)
        raise RenderError(field, f"the data has no value for {names}; add it to the event or use a default filter.")
    return text.strip()


def build_context(data: Mapping[str, Any], *, user_id: str, locale: str = "") -> dict[str, Any]:
    """What a template sees: the event's data at the top level, and the user as `user`."""
    context = dict(data)
    context["user"] = {**(data.get("user") if isinstance(data.get("user"), Mapping) else {}), "id": user_id}
    if locale:
        context["user"]["locale"] = locale
    return context


@dataclass(frozen=True)
class Texts:
    title: str
    body: str
    image: str
    deep_link: str


def _render_texts(
    title: str, body: str, image: str, deep_link: str, context: Mapping[str, Any], prefix: str = ""
) -> Texts:
    texts = Texts(
        title=render_text(title, context, field=f"{prefix}title"),
        body=render_text(body, context, field=f"{prefix}body"),
        image=render_text(image, context, field=f"{prefix}image"),
        deep_link=render_text(deep_link, context, field=f"{prefix}deep_link"),
    )
    if not texts.title and not texts.body:
        raise RenderError(f"{prefix}title", "the rendered title and body are both empty.")
    if len(texts.title) > TITLE_MAX:
        raise RenderError(f"{prefix}title", f"renders to {len(texts.title)} characters; at most {TITLE_MAX}.")
    if len(texts.body) > BODY_MAX:
        raise RenderError(f"{prefix}body", f"renders to {len(texts.body)} characters; at most {BODY_MAX}.")
    if texts.image and not texts.image.startswith("https://"):
        raise RenderError(f"{prefix}image", f"renders to {texts.image[:80]!r}, which is not an https:// URL.")
    return texts


def render_translation(
    template: MessageTemplate, translation: TemplateTranslation, context: Mapping[str, Any]
) -> dict[str, str]:
    """One translation's texts; an empty image or deep link falls back to the template's."""
    texts = _render_texts(
        translation.title,
        translation.body,
        translation.image or template.image,
        translation.deep_link or template.deep_link,
        context,
        prefix=f"{translation.locale}: ",
    )
    return texts.__dict__


def render_content(
    template: MessageTemplate,
    data: Mapping[str, Any],
    *,
    user_id: str,
    translations: list[TemplateTranslation] | None = None,
) -> Content:
    """The push for one user, in the default language plus every translation; checked against provider limits."""
    context = build_context(data, user_id=user_id)
    default = _render_texts(template.title, template.body, template.image, template.deep_link, context)
    rendered_data = {
        str(key): render_text(str(value), context, field=f"data.{key}") for key, value in (template.data or {}).items()
    }
    localized = {
        translation.locale.lower(): render_translation(template, translation, context)
        for translation in (template.translations.all() if translations is None else translations)
    }
    collapse_key = render_text(template.collapse_key, context, field="collapse_key")[:64]
    dedup_seconds = int(template.dedup_window.total_seconds()) if collapse_key else 0
    content = Content(
        title=default.title,
        body=default.body,
        category=template.category,
        image=default.image,
        deep_link=default.deep_link,
        data=rendered_data,
        priority=template.priority,
        ttl_seconds=template.ttl_seconds,
        collapse_key=collapse_key,
        translations=localized,
        template_key=template.key,
        dedup_key=f"{template.key}:{collapse_key}" if dedup_seconds > 0 else "",
        dedup_seconds=max(dedup_seconds, 0),
    )
    for locale in ["", *localized]:
        try:
            check_size(content.push_message(locale))
        except PayloadTooLargeError as exc:
            raise RenderError(f"{locale}: body" if locale else "body", str(exc)) from None
    return content
