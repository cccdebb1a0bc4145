"""UI routes answer in HTML: errors become error pages, a missing login becomes a redirect.

Every UI router is ``APIRouter(route_class=PageRoute)`` (see :func:`page_router`). The JSON API
keeps its problem documents; only routes built here render pages instead:

- no or expired session → 303 to ``/login?next=<this page>`` (htmx requests get ``HX-Redirect``);
- a domain error (403 role or CSRF, 404, 409, 422) → ``error.html`` with that status;
- invalid path or query parameters → a 404 page for path parameters, 400 otherwise;
- anything unexpected → logged, and a 500 page without details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from inboxcrm.domain.errors import AuthenticationFailed, InboxCrmError
from inboxcrm.web.ui.rendering import render

logger = logging.getLogger(__name__)

_TITLES = {
    400: "That request was not valid",
    403: "You cannot do that",
    404: "Page not found",
    405: "Not allowed",
    409: "That conflicts with existing data",
    422: "That input was not valid",
    500: "Something went wrong",
}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def login_redirect(request: Request) -> Response:
    """Send the browser to the login page, coming back here afterwards when it was a GET."""
    target = "/login"
    if request.method == "GET" and request.url.path != "/":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(path, safe="")
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def error_page(request: Request, status: int, detail: str) -> Response:
    """The HTML error page for ``status``; ``detail`` is shown to the user, so keep it plain."""
    title = _TITLES.get(status, "Something went wrong")
    return render(request, "error.html", {"title": title, "status": status, "detail": detail},
                  status_code=status)  # fmt: skip


def _validation_status(exc: RequestValidationError) -> int:
    locations = {str(err.get("loc", ("",))[0]) for err in exc.errors()}
    return 404 if locations == {"path"} else 400


class PageRoute(APIRoute):
    """An APIRoute whose errors render HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationFailed:
                return login_redirect(request)
            except InboxCrmError as exc:
                status = exc.status if 400 <= exc.status < 500 else 500
                return error_page(request, status, exc.message)
            except RequestValidationError as exc:
                status = _validation_status(exc)
                detail = "No such page." if status == 404 else "Some of the input was not valid."
                return error_page(request, status, detail)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else ""
                return error_page(request, exc.status_code, detail)
            except Exception:
                logger.exception("unhandled error on %s %s", request.method, request.url.path)
                return error_page(request, 500, "The error was logged; please try again.")

        return page_handler


def page_router() -> APIRouter:
    """A router for UI pages: HTML errors, and hidden from the OpenAPI document."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)
