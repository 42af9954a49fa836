"""Services tell Pushcart what they know of a shopper (API key with `attributes:write`), for segments.

What API clients read is in the extend_schema; config.api_docs adds the authentication, scope and curl.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ServiceApiKeyAuthentication
from accounts.permissions import require_scope
from audience import services
from audience.api.serializers import AttributesSerializer, ProfileSerializer
from config.api import PushcartAPIView, error_responses


class UserAttributesView(PushcartAPIView):
    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("attributes:write")]

    @extend_schema(
        summary="Set a shopper's attributes (service)",
        description=(
            "Replaces everything known of the shopper (city, favourite categories, lifetime orders…) with "
            "`attributes`; campaign segments select shoppers on them. Attribute names are letters, digits and `_`. "
            "Events may also carry `attributes`, which are merged in rather than replacing."
        ),
        request=AttributesSerializer,
        examples=[
            OpenApiExample(
                "A loyal Berliner",
                value={
                    "attributes": {
                        "city": "Berlin",
                        "favourite_categories": ["dairy", "bakery"],
                        "lifetime_orders": 42,
                        "last_order_date": "2026-11-20",
                    }
                },
                request_only=True,
            ),
            OpenApiExample(
                "Stored",
                value={
                    "user_id": "shopper-1",
                    "attributes": {
                        "city": "Berlin",
                        "favourite_categories": ["dairy", "bakery"],
                        "lifetime_orders": 42,
                        "last_order_date": "2026-11-20",
                    },
                    "updated_at": "2026-11-30T09:00:00.000000Z",
                },
                response_only=True,
            ),
        ],
        responses={
            200: ProfileSerializer,
            **error_responses(
                400,
                401,
                403,
                413,
                429,
                invalid={"attributes": ["'home city' is not an attribute name (letters, digits, _)."]},
            ),
        },
        tags=["audience"],
    )
    def put(self, request: Request, user_id: str) -> Response:
        serializer = AttributesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.set_attributes(user_id, serializer.validated_data["attributes"])
        return Response(ProfileSerializer(profile).data)
