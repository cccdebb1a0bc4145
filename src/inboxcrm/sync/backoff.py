"""How to react to a failed provider call, and retrying with exponential backoff.

:func:`classify` sorts an exception into one of three kinds:

- ``"auth"``: the credentials are revoked or expired (google-auth ``RefreshError``, HTTP 401 —
  AuthorizedHttp has already refreshed and retried once when a 401 reaches us — and 403
  ``authError``). Retrying cannot help: stop the account and tell its owner.
- ``"permission"``: 403 ``insufficientPermissions``: the grant lacks the scope of this call.
  Retrying cannot help either, but only the feature needing the scope stops
  (:class:`~inboxcrm.domain.errors.ProviderPermissionError`).
- ``"transient"``: rate limits (429; 403 ``rateLimitExceeded``/``userRateLimitExceeded``), 408,
  5xx, timeouts, reset/refused connections, DNS and other transport failures. Back off, retry.
- ``"client"``: everything else (400, 404, a bug). Retrying would give the same answer.

:func:`retry_call` retries transient failures with "full jitter" backoff (sleep a random time in
``[0, min(cap, base * 2**attempt)]``, honouring a larger ``Retry-After``). Rate-limit answers
(:func:`is_rate_limit`) do not use up attempts: a run never fails for rate limits alone; they
are retried for up to ``rate_limit_wait_s`` of waiting in all, and each is reported to the
mailbox's pacer (:class:`~inboxcrm.sync.quota.PacingFeedback`) so it slows down. The final
outcome is translated into :class:`~inboxcrm.domain.errors.ProviderAuthError` or
:class:`~inboxcrm.domain.errors.ProviderTransientError`. Client errors propagate unchanged, since
some of them carry meaning for the caller (e.g. 404 on an expired history id).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import HttpError

from inboxcrm.domain.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderPermissionError,
    ProviderTransientError,
)
from inboxcrm.sync.quota import PacingFeedback

__all__ = [
    "ErrorKind",
    "backoff_delay",
    "classify",
    "error_reasons",
    "http_status",
    "is_concurrency_limit",
    "is_rate_limit",
    "retry_after_seconds",
    "retry_call",
    "to_provider_error",
]

logger = logging.getLogger(__name__)

ErrorKind = Literal["auth", "permission", "transient", "client"]
T = TypeVar("T")

_RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "quotaExceeded"}
)
_AUTH_403_REASONS = frozenset({"authError", "accessNotConfigured"})
_QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
RATE_LIMIT_WAIT_SECONDS = 1800.0
"""How long a call keeps waiting out rate limits before it reports a transient failure."""


def is_rate_limit(exc: BaseException) -> bool:
    """429, or 403 with a quota reason: Google refused the call before doing anything."""
    status = http_status(exc)
    if status == 429:
        return True
    return status == 403 and bool(set(error_reasons(exc)) & _QUOTA_REASONS)


def is_concurrency_limit(exc: BaseException) -> bool:
    """A 429 for too many calls of the user in flight at once (batch parts count one by one)."""
    if http_status(exc) != 429 or not isinstance(exc, HttpError):
        return False
    content: Any = exc.content
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    return "concurrent" in text.lower()


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a googleapiclient ``HttpError``, else None."""
    if isinstance(exc, HttpError):
        try:
            return int(exc.resp.status)
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def error_reasons(exc: BaseException) -> list[str]:
    """``error.errors[].reason`` values of a Google JSON error body (empty if none)."""
    if not isinstance(exc, HttpError):
        return []
    content: Any = exc.content
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return []
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return []
    reasons = [
        str(item["reason"])
        for item in error.get("errors") or ()
        if isinstance(item, dict) and item.get("reason")
    ]
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("reason"):
            reasons.append(str(detail["reason"]))
    return reasons


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` header of an ``HttpError`` in seconds, when it is a number."""
    if not isinstance(exc, HttpError):
        return None
    try:
        value = exc.resp.get("retry-after")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def classify(exc: BaseException) -> ErrorKind:
    """``"auth"``, ``"permission"``, ``"transient"`` or ``"client"``; see the module docstring."""
    if isinstance(exc, ProviderAuthError):
        return "auth"
    if isinstance(exc, ProviderTransientError):
        return "transient"
    if isinstance(exc, HttpError):
        status = http_status(exc) or 0
        if status == 401:
            return "auth"
        if status in (408, 429) or status >= 500:
            return "transient"
        if status == 403:
            reasons = set(error_reasons(exc))
            if reasons & _RATE_LIMIT_REASONS:
                return "transient"
            if "insufficientPermissions" in reasons:
                return "permission"
            if reasons & _AUTH_403_REASONS:
                return "auth"
        return "client"
    if isinstance(exc, auth_exceptions.RefreshError):
        return "transient" if getattr(exc, "retryable", False) else "auth"
    if isinstance(exc, auth_exceptions.TransportError):
        return "transient"
    if isinstance(
        exc,
        TimeoutError
        | socket.timeout
        | ConnectionError
        | socket.gaierror
        | ssl.SSLError
        | http.client.HTTPException
        | httplib2.HttpLib2Error,
    ):
        return "transient"
    return "client"


def to_provider_error(exc: BaseException) -> Exception:
    """The domain error for ``exc`` (auth/transient), or ``exc`` itself for client errors."""
    kind = classify(exc)
    if isinstance(exc, ProviderError):
        return exc
    summary = _summary(exc)
    if kind == "auth":
        return ProviderAuthError(f"provider rejected the credentials: {summary}")
    if kind == "permission":
        return ProviderPermissionError(f"the grant lacks a permission: {summary}")
    if kind == "transient":
        return ProviderTransientError(f"provider temporarily unavailable: {summary}")
    return exc if isinstance(exc, Exception) else ProviderError(summary)


def _summary(exc: BaseException) -> str:
    status = http_status(exc)
    if status is not None:
        reasons = ",".join(error_reasons(exc)) or "-"
        return f"HTTP {status} ({reasons})"
    return type(exc).__name__


def retry_call(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base: float = 0.5,
    cap: float = 32.0,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    pacer: PacingFeedback | None = None,
    rate_limit_wait_s: float = RATE_LIMIT_WAIT_SECONDS,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures up to ``attempts`` times.

    Rate-limit refusals do not count as attempts (see the module docstring). Raises
    ProviderAuthError at the first auth failure, ProviderTransientError when the attempts (or
    the rate-limit wait) are used up, and re-raises client errors unchanged.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    failures = 0
    counted = 0
    waited = 0.0
    while True:
        try:
            result = fn()
        except Exception as exc:
            kind = classify(exc)
            if kind == "client":
                raise
            error = to_provider_error(exc)
            limited = kind == "transient" and is_rate_limit(exc)
            if not limited:
                counted += 1
            if (
                kind in ("auth", "permission")
                or counted >= attempts
                or (limited and waited >= rate_limit_wait_s)
            ):
                if error is exc:
                    raise
                raise error from exc
            delay = backoff_delay(failures, base=base, cap=cap, rand=rand)
            failures += 1
            hinted = retry_after_seconds(exc)
            if hinted is not None:
                delay = max(delay, min(hinted, cap))
            if limited:
                waited += delay
                if pacer is not None:
                    pacer.rate_limited(hinted)
            logger.info(
                "transient provider error (%s), retry %d in %.2fs",
                _summary(exc),
                failures,
                delay,
            )
            sleep(delay)
            continue
        if pacer is not None:
            pacer.succeeded()
        return result


def backoff_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Full-jitter delay before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
    return rand() * min(cap, base * 2.0**attempt)
