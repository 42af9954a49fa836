"""The event types the shipped trigger rules understand, with the data each needs, for the API docs.

Worked out from the rules and templates the data migrations create, by rendering the templates as the sender
does (tests/test_api_docs.py checks the list against the rules in the database).
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class EventTypeDoc:
    """One event type a shipped rule acts on, and what the rule does with it."""

    event_type: str
    rule: str
    needs: tuple[str, ...]  # data fields without which the rule sends nothing (or fails to render)
    optional: tuple[str, ...]  # data fields the template uses when present
    does: str  # in words
    example: dict[str, Any]  # the `data` of an event that the rule acts on


def _migration(module: str) -> Any:
    return importlib.import_module(module)


def _template_texts(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every text of a shipped template the sender renders: default language, data, collapse key, translations."""
    texts = [(name, str(spec.get(name) or "")) for name in ("title", "body", "image", "deep_link", "collapse_key")]
    texts += [(f"data.{key}", str(value)) for key, value in (spec.get("data") or {}).items()]
    for locale, (title, body) in (spec.get("translations") or {}).items():
        texts += [(f"{locale}: title", title), (f"{locale}: body", body)]
    return texts


def _renders(texts: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> bool:
    from templates.rendering import RenderError, build_context, render_text

    context = build_context(data, user_id="shopper-1")
    try:
        for field, source in texts:
            render_text(source, context, field=field)
    except RenderError:
        return False
    return True


def _in_words(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    if minutes % 60 or not minutes:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _quoted(names: Sequence[str], joiner: str = " or ") -> str:
    return joiner.join(f"`{name}`" for name in names)


@functools.cache
def shipped_event_types() -> tuple[EventTypeDoc, ...]:
    """The event types the shipped rules act on, with the data each needs (cancelling types too)."""
    from events.conditions import parse

    rules = _migration("events.migrations.0002_shipped_rules").RULES
    templates = {t["key"]: t for t in _migration("templates.migrations.0002_shipped_templates").TEMPLATES}
    documented: list[EventTypeDoc] = []
    for rule in rules:
        template = templates[rule["template"]]
        sample = dict(template.get("sample_context") or {})
        conditions = parse(rule.get("conditions", ""))
        match_key = rule.get("match_key", "")
        texts = _template_texts(template)
        rendered = {name for name in sample if not _renders(texts, {k: v for k, v in sample.items() if k != name})}
        required = {c.field for c in conditions} | ({match_key} if match_key else set()) | rendered
        needs = tuple(dict.fromkeys([*(n for n in sample if n in required), *sorted(required - set(sample))]))
        delay = rule.get("delay") or timedelta(0)
        when = f"when {_quoted([c.strip() for c in rule['conditions'].splitlines()], ' and ')}" if conditions else ""
        does = f"**{rule['name']}** sends “{template['name']}” ({template['category'].replace('_', ' ')})"
        does += f", {_in_words(delay)} after the event" if delay else " at once"
        does += f", {when}" if when else ""
        if rule.get("cancel_on"):
            does += f"; unless {_quoted(rule['cancel_on'])} with the same `{match_key}` arrives first"
        if delay and match_key and rule.get("replace_waiting", True):
            does += f"; a newer `{rule['event_type']}` with the same `{match_key}` restarts the wait"
        documented.append(
            EventTypeDoc(
                event_type=rule["event_type"],
                rule=rule["name"],
                needs=needs,
                optional=tuple(name for name in sample if name not in required),
                does=does + ".",
                example=sample,
            )
        )
        for cancelling in rule.get("cancel_on", []):
            documented.append(
                EventTypeDoc(
                    event_type=cancelling,
                    rule=rule["name"],
                    needs=(match_key,),
                    optional=(),
                    does=f"Cancels the waiting **{rule['name']}** send with the same `{match_key}`; sends nothing.",
                    example={match_key: sample.get(match_key, "")},
                )
            )
    return tuple(documented)


def _field_list(names: Sequence[str], example: Mapping[str, Any]) -> str:
    return ", ".join(
        f"`{name}` (e.g. `{json.dumps(example[name], ensure_ascii=False)}`)" if name in example else f"`{name}`"
        for name in names
    )


def event_types_markdown() -> str:
    """The shipped event types as a Markdown table, for the events endpoint's description."""
    rows = [
        "| Event type | `data` it needs | Optional `data` | What the shipped rule does |",
        "|---|---|---|---|",
    ]
    for doc in shipped_event_types():
        optional = _field_list(doc.optional, doc.example) or "none"
        rows.append(f"| `{doc.event_type}` | {_field_list(doc.needs, doc.example)} | {optional} | {doc.does} |")
    return "\n".join(rows)


def event_examples(user_id: str = "shopper-1") -> list[tuple[str, dict[str, Any]]]:
    """An event of each shipped type, as a service would send it, named after what it does."""
    examples: list[tuple[str, dict[str, Any]]] = []
    keys: set[str] = set()
    for doc in shipped_event_types():
        key = f"{doc.event_type}-{doc.example[doc.needs[0]]}"
        key = key if key not in keys else f"{key}-{len(keys) + 1}"
        keys.add(key)
        sends = doc.rule if doc.does.startswith("**") else f"cancels {doc.rule}"
        event = {"type": doc.event_type, "user_id": user_id, "idempotency_key": key, "data": doc.example}
        examples.append((f"{doc.event_type}: {sends}", event))
    return examples


# --- The document's own description
