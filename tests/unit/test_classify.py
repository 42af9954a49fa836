"""Every provider answer the adapters tell apart, and the OutcomeKind it becomes: one row per answer.

The providers' own tests (tests/providers) send through the simulator and check that each adapter reads
the answer; these tables pin the decision itself, including which rule wins when two could apply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from providers import apns, fcm_errors, webpush
from providers.base import MAX_TTL_SECONDS, OutcomeKind, parse_retry_after

TOKEN_INVALID = OutcomeKind.TOKEN_INVALID
RETRY = OutcomeKind.RETRY
PERMANENT = OutcomeKind.PERMANENT
PROVIDER_ERROR = OutcomeKind.PROVIDER_ERROR

# (HTTP status, APNs reason) -> kind. APNs gives no Retry-After the adapter reads.
APNS = [
    (410, "Unregistered", TOKEN_INVALID),
    (410, "", TOKEN_INVALID),  # the status alone says the token is gone
    (400, "BadDeviceToken", TOKEN_INVALID),
    (400, "DeviceTokenNotForTopic", TOKEN_INVALID),
    (410, "ExpiredProviderToken", TOKEN_INVALID),  # a gone token wins over a credentials reason
    (429, "TooManyRequests", RETRY),
    (429, "TooManyProviderTokenUpdates", RETRY),
    (429, "", RETRY),
    (500, "InternalServerError", RETRY),
    (503, "ServiceUnavailable", RETRY),
    (503, "Shutdown", RETRY),
    (502, "", RETRY),
    (400, "Shutdown", RETRY),  # a retry reason under any status
    (403, "InvalidProviderToken", PROVIDER_ERROR),
    (403, "ExpiredProviderToken", PROVIDER_ERROR),
    (403, "MissingProviderToken", PROVIDER_ERROR),
    (400, "MissingProviderToken", PROVIDER_ERROR),  # the reason, not the status
    (403, "BadCertificate", PROVIDER_ERROR),
    (403, "", PROVIDER_ERROR),
    (400, "BadCollapseId", PERMANENT),
    (400, "PayloadEmpty", PERMANENT),
    (413, "PayloadTooLarge", PERMANENT),
    (405, "MethodNotAllowed", PERMANENT),
    (400, "", PERMANENT),
]


@pytest.mark.parametrize(("status", "reason", "kind"), APNS)
def test_apns(status: int, reason: str, kind: OutcomeKind) -> None:
    outcome = apns.classify(status, reason)
    assert outcome.kind is kind
    assert (outcome.code, outcome.text, outcome.status) == (reason or str(status), reason, status)
    assert outcome.retry_after is None


# (HTTP status, errorCode or google.rpc status name, Retry-After) -> kind. Both FCM transports share this table.
FCM = [
    (404, "UNREGISTERED", None, TOKEN_INVALID),
    (403, "SENDER_ID_MISMATCH", None, TOKEN_INVALID),  # a 403 that is about the token, not our credentials
    (404, "NOT_FOUND", None, TOKEN_INVALID),
    (404, "", None, TOKEN_INVALID),
    (400, "UNREGISTERED", None, TOKEN_INVALID),  # the code, whatever the status
    (429, "QUOTA_EXCEEDED", 30.0, RETRY),
    (429, "", 12.0, RETRY),
    (503, "UNAVAILABLE", 5.0, RETRY),
    (500, "INTERNAL", None, RETRY),
    (502, "", None, RETRY),
    (400, "UNAVAILABLE", None, RETRY),
    (401, "THIRD_PARTY_AUTH_ERROR", None, PROVIDER_ERROR),
    (401, "UNAUTHENTICATED", None, PROVIDER_ERROR),
    (403, "PERMISSION_DENIED", None, PROVIDER_ERROR),
    (401, "", None, PROVIDER_ERROR),
    (400, "THIRD_PARTY_AUTH_ERROR", None, PROVIDER_ERROR),
    (400, "INVALID_ARGUMENT", None, PERMANENT),
    (400, "", None, PERMANENT),
    (413, "", None, PERMANENT),
    (409, "ALREADY_EXISTS", None, PERMANENT),
]


@pytest.mark.parametrize(("status", "code", "retry_after", "kind"), FCM)
def test_fcm(status: int, code: str, retry_after: float | None, kind: OutcomeKind) -> None:
    outcome = fcm_errors.classify(status, code, "FCM said no", retry_after)
    assert outcome.kind is kind
    assert (outcome.code, outcome.text, outcome.status) == (code or str(status), "FCM said no", status)
    assert outcome.retry_after == retry_after  # passed through whatever the kind: the engine reads it for retries


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            {
                "status": "NOT_FOUND",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.BadRequest"},
                    {"@type": fcm_errors.FCM_ERROR_TYPE, "errorCode": "UNREGISTERED"},
                ],
            },
            "UNREGISTERED",
        ),
        ({"status": "INVALID_ARGUMENT", "details": [{"@type": fcm_errors.FCM_ERROR_TYPE}]}, "INVALID_ARGUMENT"),
        ({"status": "UNAVAILABLE", "details": None}, "UNAVAILABLE"),
        ({"status": "INTERNAL", "details": ["not a dict"]}, "INTERNAL"),
        ({}, ""),
    ],
)
def test_fcm_error_code_prefers_the_fcm_detail_over_the_status_name(error: dict, code: str) -> None:
    assert fcm_errors.error_code_of(error) == code


# HTTP status of the push service, Retry-After -> kind. Web Push has only statuses, and never pauses the provider.
WEBPUSH = [
    (404, None, TOKEN_INVALID),
    (410, None, TOKEN_INVALID),
    (429, 60.0, RETRY),
    (429, None, RETRY),
    (500, None, RETRY),
    (502, None, RETRY),
    (503, 3.0, RETRY),
    (400, None, PERMANENT),
    (401, None, PERMANENT),  # one subscription's VAPID mismatch says nothing sure about our credentials (issue 17)
    (403, None, PERMANENT),
    (413, None, PERMANENT),
]


@pytest.mark.parametrize(("status", "retry_after", "kind"), WEBPUSH)
def test_webpush(status: int, retry_after: float | None, kind: OutcomeKind) -> None:
    outcome = webpush.classify(status, "push service text", retry_after)
    assert outcome.kind is kind
    assert (outcome.code, outcome.text, outcome.status) == (str(status), "push service text", status)
    assert outcome.retry_after == retry_after


# A Retry-After header -> seconds. Web Push answers come from whatever push service a shopper's endpoint names.
@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),  # never in the past
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date already past
        ("nan", 0.0),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None and 110 <= seconds <= 120


# Unbounded, "inf" and "1e20" made settle's now + timedelta raise OverflowError (the whole batch unsettled), and
# 99999999999 parked the retry in the year 5195.
@pytest.mark.parametrize("header", ["inf", "1e20", "99999999999", "nan", "Sun, 01 Jan 9999 00:00:00 GMT"])
def test_a_hostile_retry_after_still_gives_a_time_the_engine_can_schedule(header: str) -> None:
    seconds = parse_retry_after(header)
    assert seconds is None or seconds <= MAX_TTL_SECONDS
