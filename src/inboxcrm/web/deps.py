"""FastAPI dependencies: the runtime, the calling principal, CSRF, and the tenant unit of work.

Authentication: ``Authorization: Bearer <api token>`` for the API, or the session cookie set by
the UI login. Requests authenticated by the cookie must prove CSRF on every unsafe method, with the
``X-CSRF-Token`` header or a ``csrf_token`` form field matching the session's token. Bearer requests
carry no ambient authority, so they need no CSRF token.

Wrong bearer tokens are throttled per client IP (``services.auth_throttle``): after too many,
that IP gets 429 with ``Retry-After`` instead of 401 until its lock expires.
Support staff use a staff token (``icrmstaff_...``) and name the tenant in ``X-Inboxcrm-Tenant``;
they get a read-only principal only under a live support grant (services.support_access).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import AuthenticationFailed, PermissionDenied
from inboxcrm.domain.roles import require_admin, require_write
from inboxcrm.services.auth_throttle import (
    TooManyAttempts,
    ip_key,
    locally_locked,
    record_failure,
)
from inboxcrm.services.identity import Principal, resolve_api_token, resolve_session
from inboxcrm.services.support_access import (
    STAFF_TOKEN_PREFIX,
    TENANT_HEADER,
    audit_refused_staff_request,
    audit_staff_request,
    resolve_staff_access,
)

SESSION_COOKIE = "icrm_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def principal_from_request(request: Request, runtime: Runtime) -> Principal | None:
    """The principal of a bearer token or session cookie, or None when there is neither."""
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("use 'Authorization: Bearer <token>'")
        keys = ip_key("token_ip", request.client.host if request.client else None)
        locally_locked(runtime, keys)
        if token.strip().startswith(STAFF_TOKEN_PREFIX):
            return staff_principal(request, runtime, token.strip())
        principal = resolve_api_token(runtime, token.strip())
        if principal is None:
            locked = record_failure(runtime, keys)
            if locked is not None:
                raise TooManyAttempts(locked)
            raise AuthenticationFailed("the API token is not valid")
        return principal
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        return resolve_session(runtime, session_id)
    return None


def staff_principal(request: Request, runtime: Runtime, token: str) -> Principal:
    """Support staff's read-only principal under a live grant (services.support_access);
    each request, allowed or refused, is audited."""
    ip = request.client.host if request.client else None
    try:
        principal = resolve_staff_access(runtime, token, request.headers.get(TENANT_HEADER))
        if request.method not in SAFE_METHODS:
            raise PermissionDenied("support access is read-only")
    except PermissionDenied:
        audit_refused_staff_request(runtime, method=request.method, path=request.url.path, ip=ip)
        raise
    audit_staff_request(runtime, principal, method=request.method, path=request.url.path, ip=ip)
    return principal


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse an unsafe cookie-authenticated request without the session's CSRF token."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = principal.csrf_token or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise PermissionDenied("missing or wrong CSRF token")


async def current_principal(request: Request, runtime: RuntimeDep) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = principal_from_request(request, runtime)
        if principal is None:
            raise AuthenticationFailed("authentication required")
        request.state.principal = principal
    await check_csrf(request, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def writer_principal(principal: CurrentPrincipal) -> Principal:
    require_write(principal.role)
    return principal


async def admin_principal(principal: CurrentPrincipal) -> Principal:
    require_admin(principal.role)
    return principal


WriterPrincipal = Annotated[Principal, Depends(writer_principal)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]


def tenant_uow(principal: CurrentPrincipal, runtime: RuntimeDep) -> Iterator[UnitOfWork]:
    """A unit of work on the calling principal's tenant database (the only tenant scoping)."""
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        yield uow


TenantUow = Annotated[UnitOfWork, Depends(tenant_uow)]
