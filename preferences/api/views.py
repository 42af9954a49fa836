"""The app's preference endpoints: a shopper reads and changes their own, and nobody else's.

What API clients read is in each extend_schema; config.api_docs adds the authentication and curl.
"""

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
PREFERENCES = {
    "user_id": "shopper-1",
    "categories": {
        "order_updates": {"enabled": True, "mandatory": True, "kind": "transactional"},
        "cart_reminders": {"enabled": True, "mandatory": False, "kind": "marketing"},
        "promotions": {"enabled": False, "mandatory": False, "kind": "marketing"},
        "restocks": {"enabled": True, "mandatory": False, "kind": "marketing"},
        "price_drops": {"enabled": True, "mandatory": False, "kind": "marketing"},
    },
    "quiet_hours": {"enabled": True, "start": "22:00", "end": "07:30"},
    "timezone": "Europe/Berlin",
}
ANSWER_EXAMPLE = OpenApiExample("The shopper's preferences", value=PREFERENCES, response_only=True)


class PreferencesView(AppUserAPIView):
    """Served at two paths; _owner() makes the second one the caller's own or a 404."""

    def _owner(self, request: Request, user_id: str | None) -> str:
        if user_id is not None and user_id != request.user.id:
            raise Http404  # the same answer as for a user that doesn't exist: nothing to learn
        return request.user.id

    @extend_schema(
        summary="Read the shopper's notification preferences (app)",
        description=(
            "Each category on or off (mandatory ones can't be switched off), the quiet hours and the time zone "
            "they follow. `/api/v1/users/<user_id>/preferences/` is the same for the caller's own user id, and 404 "
            "for anyone else's."
        ),
        examples=[ANSWER_EXAMPLE],
        responses={
            200: PreferencesSerializer,
            **error_responses(400, 401, 404, invalid={"user_id": ["Is 300 characters long; at most 255."]}),
        },
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
            "withdraws its notifications that are not delivered yet. Answers the preferences as they now are."
        ),
        request=PreferencesUpdateSerializer,
        examples=[UPDATE_EXAMPLE, ANSWER_EXAMPLE],
        responses={
            200: PreferencesSerializer,
            **error_responses(
                400,
                401,
                404,
                invalid={
                    "categories.order_updates": ["This category is mandatory: order updates can't be switched off."]
                },
            ),
        },
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
