"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error a client can cause comes back as ``{"type", "title", "status", "detail", "code"}``
(plus ``errors`` for validation failures), never as a bare 500 with a stack trace.

One exception: a browser (``Accept: text/html``) asking for a path no route serves outside
``/api`` gets the UI's HTML 404 page, with the navigation when it is signed in.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from inboxcrm.domain.errors import InboxCrmError

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://inboxcrm.dev/problems/"
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    502: "Upstream provider error",
    503: "Service unavailable",
}


def problem_response(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _inboxcrm_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InboxCrmError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers = {"Retry-After": str(retry_after)}
    return problem_response(exc.status, exc.code, exc.message, headers=headers, field=exc.field)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422, "validation_failed", "the request is not valid", errors=_jsonable_errors(exc.errors())
    )


API_PREFIX = "/api"


def _wants_html_page(request: Request, status: int) -> bool:
    path = request.url.path
    if status != 404 or path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _signed_in_principal(request: Request) -> object | None:
    """The session's principal for the page's navigation, or None (never an error here)."""
    from inboxcrm.web.deps import principal_from_request

    try:
        return principal_from_request(request, request.app.state.runtime)
    except InboxCrmError:
        return None


async def _html_not_found(request: Request) -> Response:
    from inboxcrm.web.ui.page_routes import error_page

    if getattr(request.state, "principal", None) is None:
        request.state.principal = await run_in_threadpool(_signed_in_principal, request)
    return error_page(request, 404, "There is no page at this address.")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _wants_html_page(request, exc.status_code):
        return await _html_not_found(request)
    code = {404: "not_found", 405: "method_not_allowed", 401: "authentication_required"}.get(
        exc.status_code, "http_error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
    return problem_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal_error", "an unexpected error happened; it was logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InboxCrmError, _inboxcrm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
