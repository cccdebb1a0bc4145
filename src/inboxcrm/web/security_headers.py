"""Security headers on every response, including a strict Content-Security-Policy.

Mail bodies are attacker-controlled HTML: besides nh3 sanitising, the CSP forbids inline scripts
and any script not served by inboxcrm itself, so a payload that slips through still cannot run.

Also on every response: ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``;
``Strict-Transport-Security`` when the app is served over https (``INBOXCRM_PUBLIC_URL``
starts with ``https://``: browsers then never try plain http for a year); and
``Cache-Control: no-store`` on every JSON answer (API items, problem documents, the OAuth
callback's JSON), so no shared or browser cache keeps customer data or tokens' metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def content_security_policy(form_targets: Sequence[str] = ()) -> str:
    """The policy; ``form_targets`` are origins a form may lead to (the OAuth consent page).

    Browsers apply ``form-action`` to the redirects that follow a form post too, so the
    "Connect Gmail" post, answered by a redirect to Google's consent page, needs that origin.
    """
    return CSP_BASE + "; form-action " + " ".join(["'self'", *form_targets])


HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"
_JSON_TYPES = ("application/json", "application/problem+json")


def hsts_wanted(public_url: str) -> bool:
    """Whether the app is served over https (then every answer carries HSTS)."""
    return public_url.strip().lower().startswith("https://")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    def __init__(
        self, app: ASGIApp, form_targets: Sequence[str] = (), *, https: bool = False
    ) -> None:
        super().__init__(app)
        self.csp = content_security_policy(form_targets)
        self.https = https

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if self.https:
            response.headers["Strict-Transport-Security"] = HSTS
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in _JSON_TYPES:
            response.headers["Cache-Control"] = NO_STORE
        return response
