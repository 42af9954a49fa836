"""FCM HTTP v1 through firebase-admin's own sending: the reference transport.

firebase-admin has no option for the FCM endpoint; everything that reaches
into its internals is in `configure_sdk` below, so there is one place to
check when firebase-admin is upgraded.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Sequence

import firebase_admin
import google.auth.exceptions
import requests.adapters
from firebase_admin import credentials, exceptions, messaging

from providers import fcm_errors
from providers.base import Outcome, OutcomeKind, OutcomeReport, PushProvider, SendRequest, parse_retry_after
from providers.payloads import PayloadTooLargeError, encode_fcm_message, fcm_message

SEND_EACH_LIMIT = 500  # firebase-admin refuses more per call


def configure_sdk(app: firebase_admin.App, endpoint: str, pool_size: int) -> None:
    """Point firebase-admin's messaging at `endpoint` and leave retries to Pushcart.

    - `_MessagingService.FCM_URL` is the class attribute the SDK formats into
      each service's send URL when the service is created (first messaging call
      on an app), so it is set first.
    - The SDK retries 500/503 itself (seconds per message); the delivery
      engine owns retries and backoff, so an adapter without retries is
      mounted on the endpoint itself. requests picks the longest matching
      prefix, and the SDK mounts its retrying adapter on
      "https://fcm.googleapis.com": a mount on "https://" would lose to it
      in production (tests/providers/test_library_contracts.py).
    """
    base = endpoint.rstrip("/")
    messaging._MessagingService.FCM_URL = f"{base}/v1/projects/{{0}}/messages:send"
    service = messaging._get_messaging_service(app)
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    service._client.session.mount(base, adapter)


class FcmSdkProvider(PushProvider):
    name = "fcm"

    def __init__(self, *, credentials_file: str, endpoint: str, max_concurrency: int = 64) -> None:
        credential = credentials.Certificate(credentials_file)
        self.app = firebase_admin.initialize_app(credential, name=f"pushcart-fcm-{uuid.uuid4().hex[:8]}")
        configure_sdk(self.app, endpoint, pool_size=max_concurrency)
        self._max_concurrency = max_concurrency

    async def send_batch(self, requests: Sequence[SendRequest], report: OutcomeReport | None = None) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(requests)
        sendable: list[tuple[int, messaging.Message]] = []
        for index, request in enumerate(requests):
            try:
                sendable.append((index, _sdk_message(request)))
            except PayloadTooLargeError as exc:
                outcomes[index] = Outcome(OutcomeKind.PERMANENT, code="payload_too_large", text=str(exc))
        size = min(SEND_EACH_LIMIT, self._max_concurrency)
        for chunk in (sendable[i : i + size] for i in range(0, len(sendable), size)):
            results = await asyncio.to_thread(self._send_each, [message for _, message in chunk])
            for (index, _), outcome in zip(chunk, results, strict=True):
                outcomes[index] = outcome
                if report:
                    report(index, outcome)  # a chunk at a time: send_each answers when all of it is answered
        return outcomes  # type: ignore[return-value]

    def _send_each(self, batch: list[messaging.Message]) -> list[Outcome]:
        try:
            response = messaging.send_each(batch, app=self.app)
        except (google.auth.exceptions.GoogleAuthError, exceptions.FirebaseError) as exc:
            return [_failure_without_answer(exc)] * len(batch)
        return [_outcome(r) for r in response.responses]

    async def close(self) -> None:
        # delete_app closes the SDK's async client with asyncio.run(), which
        # can't run inside this event loop.
        await asyncio.to_thread(firebase_admin.delete_app, self.app)


def _sdk_message(request: SendRequest) -> messaging.Message:
    """The SDK's Message for the same v1 JSON the fast transport posts."""
    wire = fcm_message(request.target.token, request.message, request.notification_id)
    encode_fcm_message(wire)  # the same size check as the fast transport
    with warnings.catch_warnings():
        # firebase-admin 7.7 deprecates `token` for `fid`; the v1 API's `token`
        # field is what FCM registration tokens go in, as the fast transport sends.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _message(request, wire)


def _message(request: SendRequest, wire: dict) -> messaging.Message:
    android = wire["android"]
    apns = wire["apns"]
    return messaging.Message(
        token=request.target.token,
        notification=messaging.Notification(**wire["notification"]),
        data=wire.get("data"),
        android=messaging.AndroidConfig(
            priority=android["priority"].lower(),
            ttl=int(android["ttl"].rstrip("s")),
            collapse_key=android.get("collapse_key"),
            notification=messaging.AndroidNotification(tag=android["notification"]["tag"])
            if "notification" in android
            else None,
        ),
        apns=messaging.APNSConfig(
            headers=apns["headers"],
            payload=messaging.APNSPayload(aps=messaging.Aps(mutable_content=True)) if "payload" in apns else None,
            fcm_options=messaging.APNSFCMOptions(image=apns["fcm_options"]["image"]) if "fcm_options" in apns else None,
        ),
    )


def _outcome(response: messaging.SendResponse) -> Outcome:
    if response.success:
        return Outcome.delivered(response.message_id)
    exc = response.exception
    http = getattr(exc, "http_response", None)
    status = getattr(http, "status_code", None)
    retry_after = parse_retry_after(http.headers.get("Retry-After")) if http is not None else None
    if status is None:
        return _failure_without_answer(exc)
    try:
        error = http.json().get("error") or {}
    except ValueError:
        error = {}
    code = fcm_errors.error_code_of(error) or _SDK_CODES.get(type(exc), "")
    return fcm_errors.classify(status, code, str(error.get("message") or exc), retry_after)


_SDK_CODES = {
    messaging.UnregisteredError: "UNREGISTERED",
    messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
    messaging.QuotaExceededError: "QUOTA_EXCEEDED",
    messaging.ThirdPartyAuthError: "THIRD_PARTY_AUTH_ERROR",
}


def _failure_without_answer(exc: BaseException | None) -> Outcome:
    """No answer from FCM: our OAuth credentials were refused, or the network failed."""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, google.auth.exceptions.RefreshError) or isinstance(cause, google.auth.exceptions.RefreshError):
        return Outcome(OutcomeKind.PROVIDER_ERROR, code="auth", text=f"OAuth token refused: {cause or exc}")
    return Outcome(OutcomeKind.RETRY, code="network", text=str(exc))
