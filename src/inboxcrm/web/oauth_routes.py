"""``GET /oauth/google/callback``: where Google sends the browser back after consent.

The one-time ``state`` identifies who asked (tenant and user); the callback completes only in a
login session of that user (see ``services.mail_connect``), whether the flow was started from
the UI or with an API token. Unknown states count against the client IP (``oauth_ip``
throttle: 429 with ``Retry-After`` once locked). Browsers are redirected to
``/setup/email``; clients sending ``Accept: application/json`` get JSON (or a problem document).
"""

from __future__ import annotations

import html
import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.services.auth_throttle import (
    TooManyAttempts,
    ensure_not_locked,
    ip_key,
    record_failure,
)
from inboxcrm.services.identity import Principal, resolve_session
from inboxcrm.services.mail_connect import CALLBACK_PATH, complete_gmail_authorization
from inboxcrm.web.api.mail_accounts import MailAccountOut, client_ip
from inboxcrm.web.deps import SESSION_COOKIE, RuntimeDep
from inboxcrm.web.problems import problem_response

__all__ = ["SETUP_EMAIL_PATH", "oauth_router"]

logger = logging.getLogger(__name__)

oauth_router = APIRouter(include_in_schema=False)
SETUP_EMAIL_PATH = "/setup/email"

_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · inboxcrm</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="oauth-result"><h1>{title}</h1><p>{detail}</p>
<p><a href="{back}">Back to Setup → Email</a></p></main></body></html>
"""


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept or "application/problem+json" in accept


def _session_principal(request: Request, runtime: RuntimeDep) -> Principal | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    return resolve_session(runtime, session_id) if session_id else None


def _failure(request: Request, exc: InboxCrmError) -> Response:
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
    if _wants_json(request):
        return problem_response(exc.status, exc.code, exc.message, headers=headers)
    title = "Gmail was not connected"
    page = _ERROR_PAGE.format(
        title=html.escape(title), detail=html.escape(exc.message), back=SETUP_EMAIL_PATH
    )
    return HTMLResponse(page, status_code=exc.status, headers=headers)


@oauth_router.get(CALLBACK_PATH)
def google_callback(
    request: Request,
    runtime: RuntimeDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    ip = client_ip(request)
    keys = ip_key("oauth_ip", ip)
    try:
        ensure_not_locked(runtime, keys)
        connected = complete_gmail_authorization(
            runtime,
            state=state,
            code=code,
            error=error,
            session_principal=_session_principal(request, runtime),
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    except InboxCrmError as exc:
        logger.info("OAuth callback refused: %s", exc.code)
        if exc.code == "oauth_state_invalid":  # guessing states: count it against the IP
            locked = record_failure(runtime, keys)
            if locked is not None:
                exc = TooManyAttempts(locked)
        return _failure(request, exc)
    if _wants_json(request):
        return JSONResponse(
            {
                "tenant": connected.tenant,
                "created": connected.created,
                "account": MailAccountOut.model_validate(connected.account).model_dump(mode="json"),
            }
        )
    query = urlencode({"connected": connected.account.id})
    return RedirectResponse(f"{SETUP_EMAIL_PATH}?{query}", status_code=303)
