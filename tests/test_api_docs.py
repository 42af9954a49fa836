"""The API docs (/api/schema/, shown at /api/docs/) are enough for an app developer to integrate from.

Every operation says who may call it (the shopper's JWT, or an API key and its scope), and the scope it states
is the one the endpoint enforces; every operation has request and answer examples and a curl command, and the
curl commands, run as written, get the answers the examples show; the event types the shipped rules act on are
listed with the data each needs, and that data is what the rules and templates really need; no docstring
written for engineers reaches the docs.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.authentication import AppUserJWTAuthentication, ServiceApiKeyAuthentication
from accounts.jwt_tokens import mint_app_token
from accounts.services import create_api_key
from config.api_docs import PATH_EXAMPLES
from events.api.catalogue import shipped_event_types
from events.conditions import ABSENT, lookup, matches_all, parse
from events.models import TriggerRule
from providers.payloads import NOTIFICATION_ID_KEY
from templates.rendering import RenderError, render_content

README = Path(__file__).resolve().parent.parent / "README.md"
DOCUMENTED_MODULES = [
    "config.api",
    "devices.api.views",
    "devices.api.serializers",
    "notifications.api.views",
    "notifications.api.serializers",
    "events.api.views",
    "events.api.serializers",
    "preferences.api.views",
    "preferences.api.serializers",
    "audience.api.views",
    "audience.api.serializers",
]
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The document exactly as /api/schema/ serves it as JSON."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            if method in METHODS:
                yield path, method, operation


def view_of(path: str) -> type:
    concrete = path
    for name, value in PATH_EXAMPLES.items():
        concrete = concrete.replace("{" + name + "}", value.replace("$NOTIFICATION_ID", "1"))
    return resolve(concrete).func.view_class


def scopes_enforced_by(view: type) -> list[str]:
    # The permission itself is asked which scope it admits (it checks required_scope).
    return [p.required_scope for p in view.permission_classes if hasattr(p, "required_scope")]


@pytest.mark.django_db
def test_the_schema_is_served_as_generated(client, schema) -> None:
    served = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    assert served == schema


def test_every_operation_says_who_may_call_it(schema) -> None:
    for path, method, operation in operations(schema):
        view = view_of(path)
        description = operation["description"]
        where = f"{method.upper()} {path}"
        if AppUserJWTAuthentication in view.authentication_classes:
            assert "the shopper's JWT from the shop's auth server" in description, where
            assert "`Authorization: Bearer <jwt>`" in description, where
            assert operation["security"] == [{"appUserJWT": []}], where
        else:
            assert view.authentication_classes == [ServiceApiKeyAuthentication], where
            [scope] = scopes_enforced_by(view)
            assert scope in settings.API_KEY_SCOPES
            assert f"**Scope**: `{scope}`." in description, where
            assert operation["x-required-scopes"] == [scope], where
            assert operation["security"] == [{"serviceApiKey": []}], where
            forbidden = operation["responses"]["403"]["content"]["application/json"]["examples"]["Error"]["value"]
            assert forbidden == {"detail": f"This API key lacks the scope '{scope}'.", "code": "permission_denied"}


def test_every_operation_has_examples_and_a_curl_command(schema) -> None:
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"].get("examples"), where
        answers = 0
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if content is None:
                assert status == "204", where
                continue
            assert content.get("examples"), f"{where} {status} has no example"
            answers += status.startswith("2")
        assert answers or "204" in operation["responses"], where
        [curl] = [sample["source"] for sample in operation["x-codeSamples"] if sample["label"] == "curl"]
        assert curl.startswith("curl "), where
        assert f"```sh\n{curl}\n```" in operation["description"], where


def test_the_app_side_call_that_reports_an_open_is_shown_for_each_platform(schema) -> None:
    operation = schema["paths"]["/api/v1/notifications/{notification_id}/opened/"]["post"]
    samples = {sample["label"]: sample["source"] for sample in operation["x-codeSamples"]}
    assert set(samples) == {"curl", "Android", "iOS", "Web (service worker)"}
    for label in ("Android", "iOS", "Web (service worker)"):
        assert NOTIFICATION_ID_KEY in samples[label], label
        assert "/opened/" in samples[label] and "Bearer" in samples[label], label
        assert samples[label] in operation["description"], label  # Swagger UI shows only the description
    assert samples["curl"] == (
        "curl -X POST http://127.0.0.1:8000/api/v1/notifications/$NOTIFICATION_ID/opened/ \\\n"
        '  -H "Authorization: Bearer $JWT"'
    )


# --- The curl commands, run as written


def parse_curl(command: str) -> tuple[str, str, dict[str, str], str | None]:
    words = shlex.split(command.replace("\\\n", " "))
    assert words.pop(0) == "curl"
    method, url, headers, body = "GET", "", {}, None
    while words:
        word = words.pop(0)
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = words.pop(0)
        else:
            url = word
    assert url.startswith("http://127.0.0.1:8000/api/v1/"), url
    return method, url.removeprefix("http://127.0.0.1:8000"), headers, body


def shape(value: Any) -> Any:
    """What a client relies on: the keys and JSON types (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def run_order(item: tuple[str, str, dict[str, Any]]) -> int:
    operation = item[2]
    # Register the device the others name first, send the notification before reporting it opened, and
    # unregister the device last.
    return {"devices_register": 0, "notifications_send": 1, "notifications_opened": 2, "devices_unregister": 9}.get(
        operation["operationId"], 5
    )


@pytest.mark.django_db
def test_each_curl_command_gets_the_answer_its_example_shows(schema) -> None:
    _, key = create_api_key(name="docs-reader", scopes=list(settings.API_KEY_SCOPES))
    variables = {"$JWT": mint_app_token("shopper-1"), "$KEY": key}
    client = Client()
    for _, method, operation in sorted(operations(schema), key=run_order):
        [curl] = [sample["source"] for sample in operation["x-codeSamples"] if sample["label"] == "curl"]
        verb, url, headers, body = parse_curl(curl)
        assert verb == method.upper()
        for name, value in variables.items():
            url = url.replace(name, value)
            headers = {header: text.replace(name, value) for header, text in headers.items()}
        answer = client.generic(
            verb,
            url,
            data=body or "",
            content_type=headers.get("Content-Type", ""),
            HTTP_AUTHORIZATION=headers["Authorization"],
        )
        where = f"{verb} {url}"
        status = str(answer.status_code)
        assert status.startswith("2") and status in operation["responses"], f"{where}: {answer.content!r}"
        if operation["operationId"] == "notifications_send":
            variables["$NOTIFICATION_ID"] = str(answer.json()["notification_ids"][0])
        if status == "204":
            assert not answer.content
            continue
        examples = operation["responses"][status]["content"]["application/json"]["examples"]
        assert any(shape(example["value"]) == shape(answer.json()) for example in examples.values()), (
            f"{where} answered {answer.json()}, unlike its examples {examples}"
        )


@pytest.mark.django_db
def test_the_scope_each_operation_states_is_the_one_it_enforces(schema) -> None:
    jwt = mint_app_token("shopper-1")
    client = Client()
    for _, _, operation in operations(schema):
        [curl] = [sample["source"] for sample in operation["x-codeSamples"] if sample["label"] == "curl"]
        verb, url, headers, body = parse_curl(curl.replace("$NOTIFICATION_ID", "1"))
        kwargs = {"data": body or "", "content_type": headers.get("Content-Type", "")}
        stated = operation.get("x-required-scopes", [])
        others = [scope for scope in settings.API_KEY_SCOPES if scope not in stated]
        _, without = create_api_key(name=f"without {stated}", scopes=others)
        answer = client.generic(verb, url, HTTP_AUTHORIZATION=f"Api-Key {without}", **kwargs)
        if stated:
            assert answer.status_code == 403, f"{verb} {url} admitted a key without {stated}"
            _, only = create_api_key(name=f"only {stated}", scopes=stated)
            admitted = client.generic(verb, url, HTTP_AUTHORIZATION=f"Api-Key {only}", **kwargs)
            assert admitted.status_code not in (401, 403), f"{verb} {url}: {admitted.content!r}"
        else:  # the app's: API keys are not accepted at all, the shopper's JWT is
            assert answer.status_code == 401, f"{verb} {url} admitted an API key"
            admitted = client.generic(verb, url, HTTP_AUTHORIZATION=f"Bearer {jwt}", **kwargs)
            assert admitted.status_code not in (401, 403), f"{verb} {url}: {admitted.content!r}"


# --- No engineers' docstrings


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _docstrings() -> Iterator[tuple[str, str]]:
    """Every docstring of the API's modules: their functions, classes and the classes' own methods."""
    for module_name in DOCUMENTED_MODULES:
        for name, member in vars(importlib.import_module(module_name)).items():
            if getattr(member, "__module__", None) != module_name:
                continue
            if inspect.isfunction(member) and member.__doc__:
                yield f"{module_name}.{name}", inspect.cleandoc(member.__doc__)
            elif inspect.isclass(member):
                if member.__doc__:
                    yield f"{module_name}.{name}", inspect.cleandoc(member.__doc__)
                for attribute, value in vars(member).items():
                    function = getattr(value, "__func__", value)
                    if inspect.isfunction(function) and function.__doc__:
                        yield f"{module_name}.{name}.{attribute}", inspect.cleandoc(function.__doc__)


def test_no_docstring_written_for_engineers_reaches_the_docs(schema) -> None:
    published = [_flat(text) for text in _descriptions(schema)]
    views = {view_of(path) for path, _, _ in operations(schema)}
    docstrings = [*_docstrings(), *((view.__name__, inspect.cleandoc(view.__doc__)) for view in views if view.__doc__)]
    assert len(docstrings) > 20  # the modules' classes and functions were found
    for where, doc in docstrings:
        first_paragraph = _flat(doc.split("\n\n")[0])
        for text in published:
            assert first_paragraph not in text, f"the docstring of {where} is published: {text[:200]}"


# --- The event types of the shipped rules


def test_the_documented_event_types_are_those_the_active_rules_act_on(db, schema) -> None:
    documented = {(doc.event_type, doc.rule) for doc in shipped_event_types()}
    rules = list(TriggerRule.objects.filter(is_active=True))
    assert rules
    acted_on = {(rule.event_type, rule.name) for rule in rules}
    acted_on |= {(cancelling, rule.name) for rule in rules for cancelling in rule.cancel_on}
    assert documented == acted_on

    description = schema["paths"]["/api/v1/events/"]["post"]["description"]
    examples = schema["paths"]["/api/v1/events/"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for doc in shipped_event_types():
        [row] = [
            line for line in description.splitlines() if line.startswith(f"| `{doc.event_type}` |") and doc.rule in line
        ]
        needs, optional = row.split(" | ")[1:3]
        assert re.findall(r"`(\w+)` \(e\.g\.", needs) == list(doc.needs), row
        assert all(f"`{name}`" in optional for name in doc.optional), row
        assert any(
            e["value"].get("type") == doc.event_type and e["value"]["data"] == doc.example for e in examples.values()
        )


def _acts(rule: TriggerRule, data: dict[str, Any]) -> bool:
    """Whether the rule, given an event with this data, sends its push (the trigger engine's own steps)."""
    if not matches_all(parse(rule.conditions), data):
        return False
    if rule.match_key and lookup(data, rule.match_key) is ABSENT:
        return False
    try:
        render_content(rule.template, data, user_id="shopper-1", translations=list(rule.template.translations.all()))
    except RenderError:
        return False
    return True


def test_the_data_each_event_type_needs_is_what_its_rule_needs(db) -> None:
    rules = {rule.name: rule for rule in TriggerRule.objects.select_related("template")}
    for doc in shipped_event_types():
        rule = rules[doc.rule]
        if doc.event_type in rule.cancel_on:  # a cancelling event: it names the waiting send by the match key
            assert doc.needs == (rule.match_key,)
            continue
        assert doc.event_type == rule.event_type
        assert _acts(rule, doc.example), doc
        for name in doc.needs:
            assert not _acts(rule, {k: v for k, v in doc.example.items() if k != name}), f"{doc.rule} without {name}"
        for name in doc.optional:
            assert _acts(rule, {k: v for k, v in doc.example.items() if k != name}), f"{doc.rule} without {name}"


def test_the_readme_lists_the_same_event_types_and_data() -> None:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    for doc in shipped_event_types():
        if not doc.does.startswith("**"):  # cancelling types are told in the abandoned cart's row
            continue
        [row] = [line for line in table if line.startswith(f"| `{doc.event_type}` |") and f"**{doc.rule}**" in line]
        assert all(f"`{name}`" in row for name in (*doc.needs, *doc.optional)), row
