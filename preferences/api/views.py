"""The app's preference endpoints: a shopper reads and changes their own, and nobody else's."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import error_responses
from devices.api.views import AppUserAPIView
from preferences import services
from preferences.api.serializers import PreferencesSerializer, PreferencesUpdateSerializer
from preferences.selectors import preferences_for

UPDATE_EXAMPLE = OpenApiExample(
    "No promotions, quiet from 22:00 to 07:30 in Berlin",
    value={
        "categories": {"promotions": False, "price_drops": True},
        "quiet_hours": {"enabled": True, "start": "22:00", "end": "07:30"},
        "timezone": "Europe/Berlin",
    },
    request_only=True,
)


class PreferencesView(AppUserAPIView):
    """`/preferences/` is the caller's; `/users/<user_id>/preferences/` answers 404 for anyone else's."""

    def _owner(self, request: Request, user_id: str | None) -> str:
        if user_id is not None and user_id != request.user.id:
            raise Http404  # the same answer as for a user that doesn't exist: nothing to learn
        return request.user.id

    @extend_schema(
        summary="Read the shopper's notification preferences (app)",
        responses={200: PreferencesSerializer, **error_responses(400, 401, 404)},
        tags=["preferences"],
    )
    def get(self, request: Request, user_id: str | None = None) -> Response:
        owner = self._owner(request, user_id)
        return Response(PreferencesSerializer.of(preferences_for([owner])[owner]))

    @extend_schema(
        summary="Change the shopper's notification preferences (app)",
        description=(
            "Switch categories on or off, set quiet hours and the time zone they follow. Anything left out keeps "
            "its value. Mandatory categories (order updates) can't be switched off. Switching a category off also "
            "withdraws its notifications that are not delivered yet."
        ),
        request=PreferencesUpdateSerializer,
        examples=[UPDATE_EXAMPLE],
        responses={200: PreferencesSerializer, **error_responses(400, 401, 404)},
        tags=["preferences"],
    )
    def put(self, request: Request, user_id: str | None = None) -> Response:
        owner = self._owner(request, user_id)
        serializer = PreferencesUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quiet = data.get("quiet_hours")
        services.update_preferences(
            owner,
            categories=data.get("categories"),
            quiet_hours=services.QuietHoursChange(**quiet) if quiet is not None else None,
            timezone_name=data.get("timezone"),
        )
        return Response(PreferencesSerializer.of(preferences_for([owner])[owner]))
