"""What every endpoint of the API shares: one error shape, and strict input.

Every error answer is a JSON object with `detail` (a sentence for people) and
`code` (a stable string for programs). Validation errors add `errors`, which
maps each bad field (dotted for nested ones) to its messages, so a client can
always tell which field was refused.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

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


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (for the OpenAPI schema)."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="A stable code for programs, e.g. `invalid`, `not_found`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: each bad field (dotted when nested) and its messages.",
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all in the shared error shape."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each bad field.",
    401: "Missing, expired or badly signed credentials.",
    403: "Authenticated, but not allowed (e.g. the API key lacks the scope).",
    404: "Not found, or not yours.",
    413: "Request body over the size limit.",
    429: "Rate limited; retry after the `Retry-After` header's seconds.",
}


class StrictFieldsMixin:
    """Refuse fields a serializer does not know, instead of silently dropping them.

    A typo such as `timezon` would otherwise be accepted and ignored.
    """

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


class PushcartAPIView(APIView):
    """Base of every API view.

    DRF checks throttles after authentication and permissions, so requests with
    no or bad credentials would never be rate limited, and guessing keys or
    tokens would be free. Here every refused authentication counts against the
    caller's address (the `anon` rate), and past it the answer is 429.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed):
            throttle = AnonRateThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            raise
