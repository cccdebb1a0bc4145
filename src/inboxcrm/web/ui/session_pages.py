"""Logging in and out of the UI: ``GET/POST /login`` and ``POST /logout``.

The login form is protected against login CSRF with a double-submit cookie: ``GET /login`` sets a
random token in an HttpOnly, SameSite=Strict cookie scoped to ``/login`` and repeats it in a hidden
field; the POST must carry both, equal. A wrong email, password or tenant all get the same answer,
so the form does not reveal which accounts exist. Sign-ins are throttled per submitted account and
per client IP: while locked, the form answers 429 with ``Retry-After``, for unknown and known
accounts alike (see ``services.auth_throttle``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.domain.errors import AuthenticationFailed
from inboxcrm.services.auth_throttle import TooManyAttempts
from inboxcrm.services.identity import SESSION_LIFETIME, create_session, end_session, verify_login
from inboxcrm.web.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    CurrentPrincipal,
    RuntimeDep,
    principal_from_request,
)
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.rendering import render

logger = logging.getLogger(__name__)

router = page_router()

LOGIN_CSRF_COOKIE = "icrm_login_csrf"
_LOGIN_PATH = "/login"


def _secure_cookies(runtime: RuntimeDep) -> bool:
    return runtime.settings.public_url.lower().startswith("https://")


def _signed_in(request: Request, runtime: RuntimeDep) -> bool:
    try:
        return principal_from_request(request, runtime) is not None
    except AuthenticationFailed:
        return False


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else (other hosts, schemes) becomes /."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\"):
        return "/"
    return target


def _login_form(
    request: Request,
    runtime: RuntimeDep,
    *,
    error: str = "",
    email: str = "",
    tenant: str = "",
    next_path: str = "/",
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "error": error,
            "email": email,
            "tenant": tenant,
            "next_path": next_path,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=_LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure_cookies(runtime),
    )
    return response


@router.get("/login")
def login_page(
    request: Request, runtime: RuntimeDep, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    if _signed_in(request, runtime):
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_form(request, runtime, next_path=safe_next(next_path))


@router.post("/login")
def login_submit(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    tenant: Annotated[str, Form(max_length=63)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next_field: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    next_path = safe_next(next_field)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not cookie_token or not hmac.compare_digest(csrf_token, cookie_token):
        return _login_form(
            request,
            runtime,
            error="The login form expired. Please sign in again.",
            email=email,
            tenant=tenant,
            next_path=next_path,
            status_code=403,
        )
    client = request.client
    try:
        user_id, tenant_id = verify_login(
            runtime, email, password, tenant.strip() or None, ip=client.host if client else None
        )
    except TooManyAttempts as exc:
        logger.info("UI login refused: throttled")
        locked = _login_form(
            request,
            runtime,
            error=f"Too many sign-in attempts. Try again in {exc.retry_after} seconds.",
            email=email,
            tenant=tenant,
            next_path=next_path,
            status_code=429,
        )
        locked.headers["Retry-After"] = str(exc.retry_after)
        return locked
    except AuthenticationFailed:
        logger.info("failed UI login")
        return _login_form(
            request,
            runtime,
            error="Wrong email, password or workspace.",
            email=email,
            tenant=tenant,
            next_path=next_path,
            status_code=401,
        )
    session_id, _ = create_session(
        runtime,
        user_id,
        tenant_id,
        ip=client.host if client else None,
        user_agent=request.headers.get("user-agent"),
    )
    logger.info("user %s logged in to tenant %s", user_id, tenant_id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure_cookies(runtime),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=_LOGIN_PATH)
    return response


@router.post("/logout")
def logout(request: Request, principal: CurrentPrincipal, runtime: RuntimeDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        end_session(runtime, session_id)
    logger.info("user %s logged out", principal.user_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
