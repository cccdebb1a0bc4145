"""Gmail push notifications delivered by Pub/Sub to ``/hooks/gmail/push``.

:func:`verify_push_token` checks the request's OIDC bearer token (RS256 signature against the
configured JWKS or x509 certs URL, audience, issuer, expiry, a verified ``email`` always, and
the push service account when one is configured: required in production, see ``config``);
:func:`parse_push_body` extracts the mailbox address and history id.

The certificates are fetched through a small in-process cache (keyed by URL, kept for the
response's ``Cache-Control: max-age`` within [60 s, 1 h], five minutes when absent) and fetched
again once when a token names a key id the cached set does not hold (key rotation).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.transport
import google.auth.transport.requests
from google.oauth2 import id_token

from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import AuthenticationFailed, InvalidInput

__all__ = [
    "PushBodyError",
    "PushNotice",
    "PushTokenError",
    "parse_push_body",
    "verify_push_token",
]

logger = logging.getLogger(__name__)

_MAX_AGE_RE = re.compile(r"max-age=(\d+)")
_DEFAULT_CERTS_TTL = 300.0


class PushTokenError(AuthenticationFailed):
    """The push request's bearer token is missing or invalid. ``reason`` says why."""

    code = "push_token_invalid"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PushBodyError(InvalidInput):
    """The push request body is not a Gmail Pub/Sub notification."""

    code = "push_body_invalid"


@dataclass(frozen=True, slots=True)
class PushNotice:
    email: str
    history_id: int
    message_id: str | None = None
    """The Pub/Sub message id (for de-duplicating at-least-once deliveries)."""


@dataclass
class _CachedResponse:
    status: int
    headers: Mapping[str, str]
    data: bytes


class _CachingRequest(google.auth.transport.Request):
    """A google-auth transport ``Request`` that caches successful GETs of certificate URLs."""

    def __init__(self) -> None:
        self._inner = google.auth.transport.requests.Request()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, _CachedResponse]] = {}
        self._forgotten: dict[str, float] = {}

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(url)
            if hit is not None and hit[0] > now:
                return hit[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or 10)
        if response.status == 200:
            ttl = _DEFAULT_CERTS_TTL
            match = _MAX_AGE_RE.search(str(response.headers.get("cache-control", "")))
            if match:
                ttl = min(3600.0, max(60.0, float(match.group(1))))
            cached = _CachedResponse(response.status, dict(response.headers), response.data)
            with self._lock:
                self._cache[url] = (now + ttl, cached)
            return cached
        return response

    def forget(self, url: str) -> bool:
        """Drop the cached certificates of ``url`` unless that was done in the last minute.

        Returns whether they were dropped (so a flood of tokens with unknown key ids cannot make
        us hammer the certificate endpoint).
        """
        now = time.monotonic()
        with self._lock:
            if now - self._forgotten.get(url, -1e9) < 60.0:
                return False
            self._forgotten[url] = now
            self._cache.pop(url, None)
            return True


_certs_request = _CachingRequest()


def _bearer(authorization_header: str | None) -> str:
    if not authorization_header:
        raise PushTokenError("missing", "no Authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PushTokenError("missing", "Authorization is not a bearer token")
    return token.strip()


def _classify_jwt_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if "expired" in text:
        return "expired"
    if "audience" in text:
        return "wrong_audience"
    if "signature" in text or "key" in text or "certificate" in text:
        return "bad_signature"
    if "transport" in text or "fetch" in text:
        return "certs_unavailable"
    return "malformed"


def _decode(token: str, audience: str, certs_url: str) -> Mapping[str, Any]:
    claims: Mapping[str, Any] = id_token.verify_token(
        token, _certs_request, audience=audience, certs_url=certs_url
    )
    return claims


def verify_push_token(
    authorization_header: str | None,
    *,
    audience: str,
    certs_url: str,
    issuer: str = "https://accounts.google.com",
    service_account: str | None = None,
) -> Mapping[str, Any]:
    """The verified claims of a push request's bearer token, or :class:`PushTokenError`.

    ``reason`` of the error: missing, malformed, bad_signature, wrong_audience, expired,
    wrong_issuer, unverified_email (no ``email`` claim, or ``email_verified`` not true: checked
    always), wrong_account (not ``service_account``, when given), certs_unavailable.
    """
    if not audience:
        raise ValueError("a push audience must be configured")
    token = _bearer(authorization_header)
    try:
        try:
            claims = _decode(token, audience, certs_url)
        except Exception as first:
            unknown_key = "unable to find a signing key" in str(first).lower()
            # An unknown key id may mean the keys rotated: fetch them once more.
            if not unknown_key or not _certs_request.forget(certs_url):
                raise
            claims = _decode(token, audience, certs_url)
    except Exception as exc:
        reason = _classify_jwt_error(exc)
        logger.info("push token rejected: %s (%s)", reason, type(exc).__name__)
        raise PushTokenError(reason, f"push token rejected: {reason}") from exc
    if "exp" not in claims or "iat" not in claims:
        raise PushTokenError("malformed", "push token lacks exp/iat")
    if float(claims["exp"]) < time.time():
        raise PushTokenError("expired", "push token rejected: expired")
    accepted_issuers = {issuer}
    if issuer == "https://accounts.google.com":
        accepted_issuers.add("accounts.google.com")
    if claims.get("iss") not in accepted_issuers:
        raise PushTokenError("wrong_issuer", "push token rejected: wrong issuer")
    # Pub/Sub signs for a service account; an unverified or absent email is never trusted,
    # whether or not one account is pinned (any Google-signed token would pass otherwise).
    if not isinstance(claims.get("email"), str) or claims.get("email_verified") not in (
        True,
        "true",
    ):
        raise PushTokenError("unverified_email", "push token rejected: email not verified")
    if service_account is not None and claims["email"].lower() != service_account.lower():
        raise PushTokenError("wrong_account", "push token rejected: wrong service account")
    return claims


def parse_push_body(body: bytes) -> PushNotice:
    """The mailbox address and history id of a Pub/Sub push request body."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushBodyError("push body is not JSON") from exc
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise PushBodyError("push body has no message.data")
    data = message["data"]
    try:
        # Pub/Sub sends standard base64; accept the URL-safe alphabet too.
        decoded = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_")
        payload = json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise PushBodyError("message.data is not base64-encoded JSON") from exc
    if not isinstance(payload, dict):
        raise PushBodyError("message.data is not a JSON object")
    email = try_normalize_email(str(payload.get("emailAddress") or ""))
    if email is None:
        raise PushBodyError("notification has no valid emailAddress")
    raw_history = payload.get("historyId")
    if isinstance(raw_history, bool) or not isinstance(raw_history, int | str):
        raise PushBodyError("notification has no historyId")
    try:
        history_id = int(raw_history)
    except ValueError as exc:
        raise PushBodyError("historyId is not a number") from exc
    if history_id <= 0:
        raise PushBodyError("historyId is not positive")
    message_id = message.get("messageId") or message.get("message_id")
    return PushNotice(
        email=email, history_id=history_id, message_id=str(message_id) if message_id else None
    )
