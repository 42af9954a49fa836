"""Middleware shared by the whole project."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    """Answer 413 to an API request whose declared body is over the limit.

    DRF's JSON parser reads the stream without Django's upload limit, so the
    check happens here, before any view or parser runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(
                    {"detail": "Content-Length is not a number.", "code": "bad_content_length"}, status=400
                )
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    {
                        "detail": f"Request body is {length} bytes; the limit is {limit} bytes.",
                        "code": "payload_too_large",
                    },
                    status=413,
                )
        return self.get_response(request)
