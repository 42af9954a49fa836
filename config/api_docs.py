"""What the OpenAPI document (/api/schema/, /api/docs/) tells an app developer, derived from the code it documents.

- Each operation states who may call it: the shopper's JWT, or an API key and the scope the view's permission
  checks (accounts.permissions.require_scope's `required_scope`), so the docs can't name another scope.
- Each operation gets a curl example built from its first request example and its path.
- The event types the shipped trigger rules understand are listed by events.api.catalogue.
- Docstrings stay with the engineers: drf-spectacular would publish a view's or serializer's docstring as its
  description; here only `extend_schema(description=…)` and `extend_schema_serializer(description=…)` are
  published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.drainage import get_override, warn
from drf_spectacular.openapi import AutoSchema
from rest_framework.views import APIView

# Where the examples send their requests: what `make run` serves.
BASE_URL = "http://127.0.0.1:8000"
# The device token of the examples (the registration example registers it; update and delete name it).
EXAMPLE_TOKEN = "fMEP0vJqS0yq3Lc1:APA91bHqL-example"
# A value for each path parameter in the curl examples.
PATH_EXAMPLES = {"user_id": "shopper-1", "token": EXAMPLE_TOKEN, "notification_id": "$NOTIFICATION_ID"}
# What each path parameter is, where no extend_schema says.
PATH_DESCRIPTIONS = {
    "user_id": "The shopper's user id in the shop (what the shop's JWTs carry as `sub`).",
    "notification_id": "The notification's id: the push's `pushcart_notification_id`.",
}


@dataclass(frozen=True)
class Access:
    """Who may call a view: its authentication classes and the scopes its permissions require."""

    authentication: tuple[type, ...]
    scopes: tuple[str, ...]

    @classmethod
    def of(cls, view: APIView) -> Access:
        scopes = tuple(p.required_scope for p in view.permission_classes if hasattr(p, "required_scope"))
        return cls(tuple(view.authentication_classes), scopes)

    def text(self) -> str:
        """Who may call it, in words: the paragraph after the operation's own description."""
        lines = []
        for authentication in self.authentication:
            # Each authentication class describes itself (accounts.authentication): config can't import the apps.
            if hasattr(authentication, "docs_text"):
                lines.append(authentication.docs_text(self.scopes))
            else:
                warn(f"{authentication.__name__} has no docs_text: the API docs can't describe it to API clients.")
        for scope in self.scopes:
            if scope not in settings.API_KEY_SCOPES:
                warn(f"The scope {scope!r} is not one of settings.API_KEY_SCOPES.")
        return "\n\n".join(lines)

    def credentials(self) -> str:
        return next((a.docs_credentials for a in self.authentication if hasattr(a, "docs_credentials")), "")


def unwrap(markdown: str) -> str:
    """Markdown written wrapped in the source, with each paragraph and list item on one line.

    Swagger UI renders a description's single line breaks as breaks (Remarkable's `breaks: true`), so a
    paragraph wrapped at 120 characters would show broken mid-sentence. Code blocks and tables stay as written.
    """
    lines: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            lines.append(line)
            continue
        # A line continues the one before unless either is blank, a heading, a table row or a code fence,
        # or it starts a list item.
        starts_block = not line.strip() or line.startswith(("- ", "|", "#"))
        if in_code or not lines or starts_block or not lines[-1].strip() or lines[-1].startswith(("|", "#", "```")):
            lines.append(line)
        else:
            lines[-1] = f"{lines[-1]} {line.strip()}"
    return "\n".join(lines)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def curl_sample(method: str, path: str, access: Access, body: Any = None) -> str:
    """A curl command calling `path` (an OpenAPI path, its parameters filled from PATH_EXAMPLES) with `body`."""
    url = BASE_URL + path
    for name, value in PATH_EXAMPLES.items():
        url = url.replace("{" + name + "}", value)
    if "{" in url:
        warn(f"config.api_docs.PATH_EXAMPLES has no value for a parameter of {path}.")
    first = f"curl {url}" if method.upper() == "GET" else f"curl -X {method.upper()} {url}"
    lines = [first]
    if access.credentials():
        lines.append(f'-H "Authorization: {access.credentials()}"')
    if body is not None:
        lines.append("-H 'Content-Type: application/json'")
        lines.append("-d " + _shell_quote(json.dumps(body, indent=2, ensure_ascii=False)))
    return " \\\n  ".join(lines)


def _first_request_example(operation: Mapping[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    examples = content.get("examples") or {}
    return next(iter(examples.values()), {}).get("value")


class PushcartAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, publishing only descriptions written for API clients (module docstring)."""

    def get_description(self) -> str:  # type: ignore[override]
        # Not the view's or the method's docstring: extend_schema(description=…) overrides this when given.
        return ""

    def get_examples(self) -> list[Any]:
        # Examples a view builds only when the schema is built (its `schema_examples`), before extend_schema's.
        build = getattr(self.view, "schema_examples", None)
        return [*super().get_examples(), *(build() if build else [])]

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if not get_override(serializer, "description"):
            schema.pop("description", None)  # the class docstring, which AutoSchema falls back to
        return schema

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and not parameter.get("description"):
                parameter["description"] = PATH_DESCRIPTIONS.get(parameter["name"], "")
        access = Access.of(self.view)
        body = _first_request_example(operation)
        if "requestBody" in operation and body is None:
            warn(f"{method} {path} takes a body but has no request example (OpenApiExample(request_only=True)).")
        curl = curl_sample(method, path, access, body)
        parts = [str(operation.get("description", "")), access.text(), f"**Example**\n\n```sh\n{curl}\n```"]
        operation["description"] = "\n\n".join(part for part in parts if part)
        operation["x-codeSamples"] = [
            {"lang": "Shell", "label": "curl", "source": curl},
            *operation.get("x-codeSamples", []),
        ]
        if access.scopes:
            # OpenAPI 3.0 allows scopes in `security` only for OAuth2, so they are stated here (and in the text).
            operation["x-required-scopes"] = list(access.scopes)
        _add_error_examples(operation, self.view)
        return operation


def _add_error_examples(operation: dict[str, Any], view: APIView) -> None:
    """An example body for each error answer that has none (400 examples are each view's own)."""
    from config.api import error_example

    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {}).get("application/json")
        if content is None or content.get("examples") or not status.startswith(("4", "5")):
            continue
        example = error_example(int(status), view)
        if example is not None:
            content["examples"] = {"Error": {"value": example, "summary": response.get("description", "")}}


def describe_api(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the document's introduction, with the scopes API keys can carry."""
    from providers.payloads import NOTIFICATION_ID_KEY

    scopes = "\n".join(f"| `{scope}` | {what} |" for scope, what in settings.API_KEY_SCOPES.items())
    result.setdefault("info", {})["description"] = unwrap(f"""\
Push notifications for an online grocery shop. The shop's **app** registers the shopper's devices, sets their
notification preferences and reports the pushes they open; the shop's **business services** send events
(an order cancelled, a cart left) that Pushcart's rules turn into pushes, or send pushes directly.

## Authentication

- **The app** sends the shopper's JWT from the shop's auth server: `Authorization: Bearer <jwt>`. Its `sub` is
  the shopper's user id; the app can only ever see and change that shopper's own devices and preferences.
- **Business services** send an API key: `Authorization: Api-Key <key>`. An Administrator creates keys in the
  admin (Service API keys) or with `manage.py create_api_key`, with the scopes the service needs; each endpoint
  names its scope:

| Scope | Allows |
|---|---|
{scopes}

## Reporting opens

Every push carries its notification's id as the string `{NOTIFICATION_ID_KEY}` (FCM: in `data`; APNs: a key
beside `aps`; Web Push: in `data` of the JSON). When the shopper opens a push, the app calls
`POST /api/v1/notifications/<id>/opened/` with the shopper's JWT; see that endpoint for each platform's code.

## Errors

Every error is JSON: `detail` (a sentence for people), `code` (stable, for programs) and, for invalid input,
`errors` naming each bad field (`events.2.data` for a field of the third event of a batch). 429 and 503 carry
`Retry-After`: retry after that many seconds (events and notifications with an `idempotency_key` are safe to
resend).

## Examples

Each endpoint shows a request and its answer, and a `curl` command for {BASE_URL} (what `make run` serves),
where `$JWT` holds a shopper's JWT (`manage.py mint_jwt shopper-1`) and `$KEY` an API key
(`manage.py create_api_key order-service --scopes events:write`).
""")
    return result
