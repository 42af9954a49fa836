"""The simulator's plain-HTTP side: FCM HTTP v1, its OAuth token endpoint, Web Push, control API."""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushsim.behaviour import Behaviour
from pushsim.http_server import Request, Response, Routes, json_response, text_response
from pushsim.store import MessageStore

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth always signs
FCM_MAX_MESSAGE_BYTES = 4096
WEBPUSH_MAX_BODY_BYTES = 4096
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
ACCESS_TOKEN_SECONDS = 3600

# outcome -> (HTTP status, google.rpc status, FCM errorCode)
FCM_ERRORS = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED"),
    "invalid": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    "mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "rate_limited": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "internal": (500, "INTERNAL", "INTERNAL"),
}
WEBPUSH_STATUS = {
    "unregistered": 410,
    "invalid": 404,
    "mismatch": 404,
    "unavailable": 503,
    "quota": 429,
    "rate_limited": 429,
    "internal": 500,
}
RETRY_AFTER_OUTCOMES = {"unavailable", "quota", "rate_limited"}
# RFC 8030 5.4: a Topic is at most 32 characters of the URL- and filename-safe base64 alphabet.
WEBPUSH_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def load_service_accounts(state_dir: Path) -> dict[str, tuple[str, object]]:
    """client_email -> (project_id, public key) of every service-account JSON in the state dir."""
    accounts = {}
    for path in state_dir.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("type") == "service_account":
            key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
            accounts[data["client_email"]] = (data["project_id"], key.public_key())
    return accounts


def fcm_error(status: int, rpc_status: str, message: str, error_code: str | None = None) -> dict:
    error: dict = {"code": status, "message": message, "status": rpc_status}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return {"error": error}


class HttpServices:
    def __init__(self, behaviour: Behaviour, store: MessageStore, state_dir: Path) -> None:
        self.behaviour = behaviour
        self.store = store
        self.accounts = load_service_accounts(state_dir)
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (project, expiry)
        self.vapid_verified: dict[str, float] = {}  # Authorization header -> exp
        self.ids = itertools.count(1)

    def routes(self) -> Routes:
        routes = Routes()
        routes.add("POST", "/token", self.token)
        routes.add("POST", "/v1/projects/*/messages:send", self.fcm_send)
        routes.add("POST", "/wp/*", self.webpush)
        routes.add("GET", "/control/health", self.health)
        routes.add("GET", "/control/stats", self.stats)
        routes.add("GET", "/control/messages", self.messages)
        routes.add("GET", "/control/received", self.received)
        routes.add("POST", "/control/config", self.config)
        routes.add("POST", "/control/reset", self.reset)
        return routes

    # --- OAuth 2.0 (the service account's token_uri) -------------------------
    def token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return json_response({"error": "unsupported_grant_type"}, status=400)
        assertion = str(form.get("assertion", ""))
        try:
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
            project, public_key = self.accounts[issuer]
            jwt.decode(assertion, public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE)
        except (KeyError, jwt.InvalidTokenError) as exc:
            detail = "unknown service account" if isinstance(exc, KeyError) else str(exc)
            return json_response({"error": "invalid_grant", "error_description": detail}, status=400)
        token = f"ya29.sim-{secrets.token_urlsafe(24)}"
        self.access_tokens[token] = (project, time.time() + ACCESS_TOKEN_SECONDS)
        return json_response({"access_token": token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer"})

    # --- FCM HTTP v1 ---------------------------------------------------------------
    def fcm_send(self, request: Request) -> Response:
        project = request.match
        bearer = request.headers.get("authorization", "")
        granted = self.access_tokens.get(bearer[7:]) if bearer.startswith("Bearer ") else None
        if granted is None or granted[1] < time.time():
            self.behaviour.count("fcm", "unauthenticated")
            return json_response(
                fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), status=401
            )
        if granted[0] != project:
            self.behaviour.count("fcm", "permission_denied")
            return json_response(
                fcm_error(403, "PERMISSION_DENIED", f"Permission denied on project {project}."), status=403
            )
        body = request.body
        try:
            message = json.loads(body)["message"]
            assert isinstance(message, dict)
        except (ValueError, KeyError, AssertionError):
            return self._fcm_invalid("Invalid JSON payload received.")
        targets = [name for name in ("token", "fid", "topic", "condition") if message.get(name)]
        if len(targets) != 1:
            return self._fcm_invalid("Exactly one of token, fid, topic or condition must be specified.")
        data = message.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return self._fcm_invalid("Invalid value at 'message.data': data values must be strings.")
        # The message re-encoded compactly is never longer than the request body holding it, so only a long
        # body is measured (re-encoding every message was a tenth of the simulator's CPU).
        if len(body) > FCM_MAX_MESSAGE_BYTES:
            size = len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())
            if size > FCM_MAX_MESSAGE_BYTES:
                return self._fcm_invalid(f"Message is too big: {size} bytes, the limit is {FCM_MAX_MESSAGE_BYTES}.")
        token = str(message.get(targets[0]))
        outcome = self.behaviour.decide(token)
        self.behaviour.count("fcm", outcome)
        self.store.add("fcm", token, message, {}, outcome)
        if outcome == "ok":
            name = f"projects/{project}/messages/{next(self.ids)}"
            response = Response(200, b'{"name": "%s"}' % name.encode(), "application/json")
        else:
            status, rpc_status, error_code = FCM_ERRORS[outcome]
            response = json_response(
                fcm_error(status, rpc_status, f"Simulated {outcome}.", error_code),
                status=status,
                headers=self._retry_after(outcome),
            )
        response.delay = self.behaviour.latency()
        return response

    def _fcm_invalid(self, message: str) -> Response:
        self.behaviour.count("fcm", "invalid_request")
        return json_response(fcm_error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT"), status=400)

    # --- Web Push (RFC 8030, VAPID RFC 8292) -----------------------------------
    def webpush(self, request: Request) -> Response:
        subscription = request.match
        refusal = self._check_vapid(request)
        if refusal:
            self.behaviour.count("webpush", "unauthorized")
            return text_response(refusal, 401)
        if "ttl" not in request.headers:
            return text_response("TTL header required", 400)
        if request.headers.get("content-encoding", "").lower() != "aes128gcm":
            return text_response("Content-Encoding must be aes128gcm", 400)
        if "topic" in request.headers and not WEBPUSH_TOPIC.fullmatch(request.headers["topic"]):
            return text_response("Topic must be 1-32 characters of the URL-safe base64 alphabet", 400)
        body = request.body
        if len(body) > WEBPUSH_MAX_BODY_BYTES:
            self.behaviour.count("webpush", "too_large")
            return text_response("Payload Too Large", 413)
        outcome = self.behaviour.decide(subscription)
        self.behaviour.count("webpush", outcome)
        kept = ("content-encoding", "authorization", "ttl", "urgency", "topic")
        headers = {name: request.headers[name] for name in kept if name in request.headers}
        # The body as received (base64), so that a test holding the subscription's private key can decrypt it.
        encrypted = {"encrypted_bytes": len(body), "body": base64.b64encode(body).decode()}
        self.store.add("webpush", subscription, encrypted, headers, outcome)
        if outcome == "ok":
            response = Response(201, headers={"Location": f"/wp/messages/{next(self.ids)}"})
        else:
            response = text_response(f"Simulated {outcome}", WEBPUSH_STATUS[outcome], self._retry_after(outcome))
        response.delay = self.behaviour.latency()
        return response

    def _check_vapid(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        expiry = self.vapid_verified.get(header)
        if expiry and expiry > time.time():
            return None
        if not header.lower().startswith("vapid "):
            return "VAPID Authorization required"
        params = dict(part.strip().split("=", 1) for part in header[6:].split(",") if "=" in part)
        try:
            point = base64.urlsafe_b64decode(params["k"] + "=" * (-len(params["k"]) % 4))
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
            claims = jwt.decode(
                params["t"], public_key, algorithms=["ES256"], audience=f"{request.scheme}://{request.host}"
            )
        except (KeyError, ValueError, jwt.InvalidTokenError) as exc:
            return f"Invalid VAPID authorization: {exc}"
        self.vapid_verified[header] = float(claims["exp"])
        return None

    # --- Control -----------------------------------------------------------------
    def health(self, request: Request) -> Response:
        return json_response({"ok": True})

    def stats(self, request: Request) -> Response:
        return json_response(self.behaviour.stats())

    def messages(self, request: Request) -> Response:
        return json_response(self.store.get(request.query.get("token", "")))

    def received(self, request: Request) -> Response:
        """How many messages each token (with the given prefix) received."""
        return json_response(self.store.counts(request.query.get("prefix", "")))

    def config(self, request: Request) -> Response:
        try:
            self.behaviour.configure(request.json())
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(self.behaviour.config.as_dict())

    def reset(self, request: Request) -> Response:
        self.behaviour.reset()
        self.store.clear()
        return json_response(self.behaviour.config.as_dict())

    # --- helpers -------------------------------------------------------------------
    def _retry_after(self, outcome: str) -> dict[str, str]:
        return {"Retry-After": str(self.behaviour.config.retry_after)} if outcome in RETRY_AFTER_OUTCOMES else {}
