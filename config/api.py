"""What every endpoint of the API shares: one error shape, and strict input.

Every error answer is a JSON object with `detail` (a sentence for people) and
`code` (a stable string for programs). Validation errors add `errors`, which
maps each bad field (dotted for nested ones) to its messages, so a client can
always tell which field was refused.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from config.limits import MAX_USER_ID_LENGTH
from config.parsers import JSONInputError, check_json, has_unstorable_text
from config.throttling import AnonRateThrottle


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            # A nested list's own error (e.g. too many items) is named after the list.
            nested_own = key == "non_field_errors" and prefix
            name = prefix if nested_own else (f"{prefix}.{key}" if prefix else str(key))
            flat.update(_flatten(value, name))
    elif isinstance(errors, list) and errors and all(isinstance(e, (dict, list)) for e in errors):
        for index, value in enumerate(errors):
            flat.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(errors, list):
        flat[prefix or "non_field_errors"] = [str(e) for e in errors]
    else:
        flat[prefix or "non_field_errors"] = [str(errors)]
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        fields = ", ".join(sorted(errors))
        response.data = {"detail": f"Invalid input: {fields}.", "code": "invalid", "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "detail": str(exc.detail) if not isinstance(exc.detail, (dict, list)) else exc.detail,
            "code": codes if isinstance(codes, str) else "error",
        }
    else:  # Http404 and PermissionDenied from Django, turned into DRF answers above
        response.data = {"detail": response.data.get("detail", "Error."), "code": _code_for(response.status_code)}
    return response


def _code_for(status: int) -> str:
    return {404: "not_found", 403: "permission_denied"}.get(status, "error")


@extend_schema_serializer(
    description="The body of every error answer: `detail` for people, `code` for programs, and for invalid input "
    "`errors` naming each bad field."
)
class ErrorSerializer(serializers.Serializer):
    # Only declares the error shape in the OpenAPI schema; exception_handler builds the answers.

    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="A stable code for programs, e.g. `invalid`, `not_found`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: each bad field (dotted when nested) and its messages.",
    )


def error_responses(*statuses: int, invalid: dict[str, list[str]] | None = None) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all in the shared error shape.

    `invalid` is the `errors` of the 400 example (a realistic mistake for this endpoint); the other statuses get
    their examples in config.api_docs, where the view's permissions are known.
    """
    if (400 in statuses) != (invalid is not None):
        raise ValueError("error_responses: a 400 answer needs its `invalid` example, and only a 400 answer.")
    responses = {}
    for status in statuses:
        examples = []
        if status == 400 and invalid is not None:
            examples = [OpenApiExample("Invalid input", value=invalid_answer(invalid), status_codes=[400])]
        responses[status] = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status], examples=examples)
    return responses


def invalid_answer(errors: dict[str, list[str]]) -> dict[str, Any]:
    """The 400 answer exception_handler gives for these validation errors."""
    return {"detail": f"Invalid input: {', '.join(sorted(errors))}.", "code": "invalid", "errors": errors}


ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each bad field.",
    401: "Missing, expired or badly signed credentials.",
    403: "Authenticated, but not allowed (e.g. the API key lacks the scope).",
    404: "Not found, or not yours.",
    413: "Request body over the size limit.",
    429: "Rate limited; retry after the `Retry-After` header's seconds.",
    503: "The server is busy or a store it needs is unavailable; retry after the `Retry-After` header's seconds.",
}


# What the layers in front of the views answer (DRF, config.body_limit, config.overload, the throttles).
ERROR_EXAMPLES: dict[int, dict[str, str]] = {
    401: {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"},
    404: {"detail": "Not found.", "code": "not_found"},
    413: {"detail": "Request body is 2000000 bytes; the limit is 1048576 bytes.", "code": "payload_too_large"},
    429: {"detail": "Request was throttled. Expected available in 42 seconds.", "code": "throttled"},
    503: {"detail": "The server is busy; retry after 1 s.", "code": "unavailable"},
}


def error_example(status: int, view: APIView | None = None) -> dict[str, str] | None:
    """An example answer of `status`; a 403 says what the view's permission says (the missing scope)."""
    if status == 403:
        messages = [getattr(permission, "message", None) for permission in (view.permission_classes if view else [])]
        detail = next((m for m in messages if m), exceptions.PermissionDenied.default_detail)
        return {"detail": str(detail), "code": "permission_denied"}
    return ERROR_EXAMPLES.get(status)


def declare_shared_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: declare on every API operation the errors any of them can answer.

    They come from layers in front of the views, so no view's `extend_schema` would think of them: 503 from
    admission control (config.overload), 429 from the throttles (refused authentications count too,
    PushcartAPIView), 401 from authentication, and 413 from the body limit (config.body_limit) wherever a
    body is taken. schemathesis holds the answers to the schema (tests/security/test_schema_conformance.py).
    """
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            statuses = [401, 429, 503] + ([413] if "requestBody" in operation else [])
            for status in statuses:
                error = {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": {"Error": {"value": ERROR_EXAMPLES[status], "summary": ERROR_DESCRIPTIONS[status]}},
                }
                operation["responses"].setdefault(
                    str(status), {"description": ERROR_DESCRIPTIONS[status], "content": {"application/json": error}}
                )
    return result


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404: under /api/, the API's JSON error shape, as the API's own 404s; elsewhere the page.

    Without it, a URL no API route matches (`/api/v1/notifications/abc/opened/`) answered an HTML page.
    """
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField turns 42 into "42", which hides a client's bug.

    For identifiers a client must send as it stores them (`idempotency_key`, `app_version`, `replaces`).
    """

    default_error_messages = {"not_a_string": "Must be a string, not {type}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string", type=_json_type(data))
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON field whose value is an object (its validators refuse anything else): the schema says `object`.

    A plain JSONField is declared as any JSON value, so the schema allowed `"attributes": 0`, refused with 400.
    """


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "an object", list: "an array"}.get(type(value), "null" if value is None else "another type")


class StrictFieldsMixin:
    # Refuse fields a serializer does not know, instead of silently dropping them: a typo such as `timezon`
    # would otherwise be accepted and ignored. (A comment, not a docstring: drf-spectacular would show a
    # docstring as the description of every serializer using the mixin.)

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []  # type: ignore[attr-defined]
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                errors = {**exc.detail, **errors}
            raise serializers.ValidationError(errors or exc.detail) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictFieldsSchema(OpenApiSerializerExtension):
    """In the OpenAPI schema, a StrictFieldsMixin serializer's request body says `additionalProperties: false`.

    drf-spectacular finds this extension by its target class (subclasses too) once this module is imported.
    """

    target_class = StrictFieldsMixin
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def validate_storable_json(value: Any) -> Any:
    """A JSON field's value: nested at most config.parsers.MAX_DEPTH deep, with only text PostgreSQL can store.

    The API's parser already refuses such bodies; this names the field for callers that don't come through
    it (the Kafka consumer), and must run before anything that recurses over the value (json.dumps).
    """
    try:
        check_json(value)
    except JSONInputError as exc:
        raise serializers.ValidationError(f"At {exc.path}: {exc.message}" if exc.path else exc.message) from None
    return value


def check_path_parameters(parameters: dict[str, Any]) -> None:
    """Refuse with 400 naming it a path parameter PostgreSQL can't store or compare: `%00`, or a user id too long.

    `%00` in a URL arrives as NUL, which PostgreSQL refuses even in a WHERE clause (a 500 before); a user id
    longer than the column failed on write.
    """
    errors: dict[str, list[str]] = {}
    for name, value in parameters.items():
        if not isinstance(value, str):
            continue
        if has_unstorable_text(value):
            errors[name] = ["Contains %00 (NUL) or a lone surrogate."]
        elif name == "user_id" and len(value) > MAX_USER_ID_LENGTH:
            errors[name] = [f"Is {len(value)} characters long; at most {MAX_USER_ID_LENGTH}."]
    if errors:
        raise exceptions.ValidationError(errors)


class PushcartAPIView(APIView):
    """Base of every API view.

    DRF checks throttles after authentication and permissions, so requests with
    no or bad credentials would never be rate limited, and guessing keys or
    tokens would be free. Here every refused authentication counts against the
    caller's address (the `anon` rate), and past it the answer is 429.

    Path parameters are checked once the caller is known (config.api.check_path_parameters).
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed):
            throttle = AnonRateThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            raise
        check_path_parameters(kwargs)
