"""Google-style error responses.

Every emulated API answers errors with Google's JSON envelope::

    {"error": {"code": 404, "message": "...", "errors": [{"message", "domain", "reason"}],
               "status": "NOT_FOUND"}}

Raise :class:`ApiError` anywhere inside a handler; the dispatcher turns it into that envelope.
OAuth endpoints use the flat OAuth form instead (:class:`OAuthError`).
"""

from __future__ import annotations

import math
from typing import Any

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error answered in Google's API error format."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str = "",
        domain: str = "global",
        status: str | None = None,
        extra: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        details: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.extra = extra or {}
        self.headers = headers or []
        self.details = details

    def body(self) -> dict[str, Any]:
        item: dict[str, str] = {"message": self.message, "domain": self.domain}
        if self.reason:
            item["reason"] = self.reason
        item.update(self.extra)
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "errors": [item],
            "status": self.status,
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


class OAuthError(Exception):
    """An error answered in the OAuth 2.0 token-endpoint form ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", reason="notFound")


def bad_request(message: str, reason: str = "invalidArgument") -> ApiError:
    return ApiError(400, message, reason=reason)


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason="authError",
        extra={"location": "Authorization", "locationType": "header"},
        headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')],
    )


def insufficient_scopes() -> ApiError:
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        reason="insufficientPermissions",
    )


def rate_limited(status: int) -> ApiError:
    if status == 403:
        return ApiError(
            403, "User Rate Limit Exceeded", reason="userRateLimitExceeded", domain="usageLimits"
        )
    return ApiError(
        429,
        "Too many concurrent requests for user",
        reason="rateLimitExceeded",
        domain="usageLimits",
    )


def quota_exceeded(limit: str, retry_after_s: float) -> ApiError:
    """A per-minute or project-wide quota refusal (Google's wording), with ``Retry-After``."""
    return ApiError(
        429,
        f"Quota exceeded for quota metric 'Queries' and limit '{limit}' of service "
        "'gmail.googleapis.com'.",
        reason="rateLimitExceeded",
        domain="usageLimits",
        headers=[("Retry-After", str(max(1, math.ceil(retry_after_s))))],
    )


def too_many_concurrent() -> ApiError:
    """Too many calls of one user in flight at once (inner calls of a batch count one by one)."""
    return ApiError(
        429,
        "Too many concurrent requests for user.",
        reason="rateLimitExceeded",
        domain="usageLimits",
    )


def injected_failure(status: int) -> ApiError:
    if status in (429, 403):
        return rate_limited(status)
    if status == 503:
        return ApiError(503, "The service is currently unavailable.", reason="backendError")
    return ApiError(status, "Internal error encountered.", reason="backendError")
