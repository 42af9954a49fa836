"""Notifications: services send them (API key), the app reports the ones its shopper opened (JWT).

What API clients read is in each extend_schema; config.api_docs adds the authentication, scope and curl.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import AppUserJWTAuthentication, ServiceApiKeyAuthentication
from accounts.permissions import IsAppUser, require_scope
from config.api import PushcartAPIView, error_responses
from config.api_docs import unwrap
from notifications import services
from notifications.api.serializers import (
    NotificationCreatedSerializer,
    NotificationCreateSerializer,
    OpenedSerializer,
)
from notifications.engine import submit
from notifications.models import Source
from providers.payloads import NOTIFICATION_ID_KEY


class NotificationCreateView(PushcartAPIView):
    authentication_classes = [ServiceApiKeyAuthentication]
    permission_classes = [require_scope("notifications:write")]

    @extend_schema(
        operation_id="notifications_send",
        summary="Send a notification (service)",
        description=(
            "Queues one notification per shopper (`user_id`, or up to 1,000 `user_ids`) and answers 202 at "
            "once; workers send it to each of the shopper's active devices, in the shopper's preferences, "
            "quiet hours and frequency caps. A shopper without an active device gets a notification marked "
            "`no_device`. `send_at` sends it later. With `idempotency_key`, a repeat answers as the first call "
            "did and sends nothing."
        ),
        request=NotificationCreateSerializer,
        examples=[
            OpenApiExample(
                "Order delayed",
                value={
                    "user_id": "shopper-1",
                    "title": "Your order is running late",
                    "body": "Order 1042 will arrive between 15:00 and 16:00.",
                    "category": "order_updates",
                    "deep_link": "shop://orders/1042",
                    "data": {"order_id": "1042"},
                    "idempotency_key": "order-1042-delayed-1",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Accepted",
                value={"notification_ids": [101], "status": "pending"},
                response_only=True,
                status_codes=[202],
            ),
        ],
        responses={
            202: NotificationCreatedSerializer,
            **error_responses(400, 401, 403, 413, 429, invalid={"category": ['"offers" is not a valid choice.']}),
        },
        tags=["notifications"],
    )
    def post(self, request: Request) -> Response:
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = data.get("idempotency_key")
        created = submit(
            user_ids=data["recipients"],
            content=data["content"],
            source=Source.API,
            source_ref=f"api-key:{request.user.key_id}",
            send_at=data.get("send_at"),
            idempotency=(request.user.pk, key) if key else None,
        )
        return Response(created.as_answer(), status=status.HTTP_202_ACCEPTED)


# The app-side call on each platform, in the platform's own language: the open is reported where the app
# learns that the shopper tapped the push.
KOTLIN_SAMPLE = f"""\
// Android: in the Activity the notification opens (FCM puts the push's `data` in the intent's extras).
val notificationId = intent.getStringExtra("{NOTIFICATION_ID_KEY}") ?: return
val request = Request.Builder()
    .url("https://pushcart.example/api/v1/notifications/$notificationId/opened/")
    .header("Authorization", "Bearer $shopperJwt")
    .post(ByteArray(0).toRequestBody())
    .build()
okHttpClient.newCall(request).enqueue(callback)  // OkHttp; 200 and 404 both mean: nothing more to do"""

SWIFT_SAMPLE = f"""\
// iOS: in your UNUserNotificationCenterDelegate.
func userNotificationCenter(_ center: UNUserNotificationCenter, didReceive response: UNNotificationResponse,
                            withCompletionHandler completionHandler: @escaping () -> Void) {{
    let userInfo = response.notification.request.content.userInfo
    if let notificationId = userInfo["{NOTIFICATION_ID_KEY}"] as? String {{
        let url = URL(string: "https://pushcart.example/api/v1/notifications/\\(notificationId)/opened/")!
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("Bearer \\(shopperJwt)", forHTTPHeaderField: "Authorization")
        URLSession.shared.dataTask(with: request).resume()
    }}
    completionHandler()
}}"""

JAVASCRIPT_SAMPLE = f"""\
// Web: in the service worker. Show the push under its `tag` (a copy sent twice replaces the first, silently),
// keep its `data` on the notification, report the open on click.
self.addEventListener("push", (event) => {{
  const push = event.data.json();
  const options = {{ body: push.body, tag: push.tag, renotify: false, data: push.data }};
  event.waitUntil(self.registration.showNotification(push.title, options));
}});
self.addEventListener("notificationclick", (event) => {{
  const id = event.notification.data.{NOTIFICATION_ID_KEY};
  event.waitUntil(
    shopperJwt().then((jwt) =>  // your own: e.g. read from IndexedDB, where the page stored it
      fetch(`/api/v1/notifications/${{id}}/opened/`, {{
        method: "POST",
        headers: {{ Authorization: `Bearer ${{jwt}}` }},
      }})
    )
  );
}});"""

APP_SIDE_SAMPLES = [
    {"lang": "Kotlin", "label": "Android", "source": KOTLIN_SAMPLE},
    {"lang": "Swift", "label": "iOS", "source": SWIFT_SAMPLE},
    {"lang": "JavaScript", "label": "Web (service worker)", "source": JAVASCRIPT_SAMPLE},
]

OPENED_DESCRIPTION = unwrap(f"""\
Call it when the shopper opens (taps) a push. Every push carries its notification's id as the string
`{NOTIFICATION_ID_KEY}`:

- **Android (FCM)**: in the message's `data` (`remoteMessage.data["{NOTIFICATION_ID_KEY}"]`, or the extras of the
  intent that opens the app from the notification).
- **iOS (APNs)**: a custom key of the payload beside `aps` (`userInfo["{NOTIFICATION_ID_KEY}"]`).
- **Web Push**: in the `data` object of the JSON the service worker receives
  (`event.data.json().data.{NOTIFICATION_ID_KEY}`); pass it on to the notification to read it in
  `notificationclick`. Pushcart sends no CORS headers, so the service worker calls it on its own origin
  (the shop's web server forwards `/api/v1/notifications/` to Pushcart).

Only the recipient can mark it (anyone else: 404); repeating the call changes nothing (the first time is kept).
Opens feed a campaign's open rate and A/B results.

**The app-side call**

Android (Kotlin, OkHttp):

```kotlin
{KOTLIN_SAMPLE}
```

iOS (Swift):

```swift
{SWIFT_SAMPLE}
```

Web (service worker):

```javascript
{JAVASCRIPT_SAMPLE}
```""")


class NotificationOpenedView(PushcartAPIView):
    authentication_classes = [AppUserJWTAuthentication]
    permission_classes = [IsAppUser]

    @extend_schema(
        operation_id="notifications_opened",
        summary="Report a push opened (app)",
        description=OPENED_DESCRIPTION,
        request=None,
        examples=[
            OpenApiExample("Opened", value={"id": 101, "opened_at": "2026-11-30T09:15:02.123456Z"}, response_only=True),
        ],
        responses={200: OpenedSerializer, **error_responses(401, 404, 429)},
        extensions={"x-codeSamples": APP_SIDE_SAMPLES},
        tags=["notifications"],
    )
    def post(self, request: Request, notification_id: int) -> Response:
        opened_at = services.mark_opened(notification_id, user_id=request.user.id)
        if opened_at is None:
            raise Http404
        return Response({"id": notification_id, "opened_at": opened_at})
