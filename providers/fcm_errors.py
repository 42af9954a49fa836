"""FCM's answers, classified. Both FCM transports use this one table, so the
same answer from FCM gives the same Outcome whichever transport sent it."""

from __future__ import annotations

from providers.base import Outcome, OutcomeKind

TOKEN_INVALID_CODES = {"UNREGISTERED", "SENDER_ID_MISMATCH"}
RETRY_CODES = {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"}
# THIRD_PARTY_AUTH_ERROR: Firebase's APNs certificate or key was refused; the
# project's configuration is wrong, not this message.
PROVIDER_ERROR_CODES = {"THIRD_PARTY_AUTH_ERROR", "UNAUTHENTICATED"}
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def error_code_of(error: dict) -> str:
    """FCM's specific errorCode if it gave one, else the google.rpc status name."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error.get("status") or "")


def classify(status: int, code: str, text: str, retry_after: float | None) -> Outcome:
    """An error answer of FCM (HTTP status, errorCode or status name, message, Retry-After)."""

    def outcome(kind: OutcomeKind) -> Outcome:
        return Outcome(kind, code=code or str(status), text=text, retry_after=retry_after, status=status)

    if code in TOKEN_INVALID_CODES or code == "NOT_FOUND" or status == 404:
        return outcome(OutcomeKind.TOKEN_INVALID)
    if code in RETRY_CODES or status == 429 or status >= 500:
        return outcome(OutcomeKind.RETRY)
    if code in PROVIDER_ERROR_CODES or status in (401, 403):
        return outcome(OutcomeKind.PROVIDER_ERROR)
    return outcome(OutcomeKind.PERMANENT)  # INVALID_ARGUMENT and other 4xx
