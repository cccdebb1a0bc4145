"""Template rendering: the Jinja2 environment, its filters, and the context every page gets.

Every page template extends ``base.html``, which needs ``principal`` (or None on the login page),
``csrf_token`` and the navigation; :func:`render` supplies them from the request, so routes pass
only what their page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from inboxcrm.domain.roles import can_write, is_admin
from inboxcrm.services.identity import Principal
from inboxcrm.web.static_files import TEMPLATES_DIR
from inboxcrm.web.ui.mail_html import ImageProxy, SafeMailHtml, clean_mail_html, sanitize_mail_html
from inboxcrm.web.ui.navigation import nav_for
from inboxcrm.web.ui.page_context import page_time_zone, unread_count
from inboxcrm.web.ui.time_display import time_element


@pass_context
def format_when(context: Context, value: datetime | date | None) -> Markup:
    """A ``<time>`` element in the viewer's zone, relative when recent (``time_display``)."""
    zone = context.get("time_zone")
    return time_element(value, zone if isinstance(zone, tzinfo) else UTC)


def format_money(amount: Decimal | int | float | None, currency: str = "") -> str:
    """An amount with thousands separators and its currency code: ``12,500.00 EUR``."""
    if amount is None:
        return ""
    return f"{Decimal(amount):,.2f} {currency}".strip()


def safe_mail_html(html: str | None) -> Markup:
    """Sanitised mail HTML, marked safe for the template (it is the only ``Markup`` source)."""
    return Markup(sanitize_mail_html(html or ""))  # noqa: S704 - sanitised by nh3 just above


def safe_mail_body(html: str | None, proxy_image: ImageProxy | None = None) -> SafeMailHtml:
    """Sanitised mail HTML with its count of remote images (blocked unless ``proxy_image``)."""
    cleaned = clean_mail_html(html or "", proxy_image=proxy_image)
    return SafeMailHtml(Markup(cleaned.html), cleaned.remote_images)  # noqa: S704 - nh3 output


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.filters["money"] = format_money
    env.filters["mail_html"] = safe_mail_html
    env.globals["safe_mail_body"] = safe_mail_body
    return env


templates = Jinja2Templates(env=_environment())


def page_principal(request: Request) -> Principal | None:
    """The principal the auth dependency found for this request, if any."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with the page context every layout needs plus ``context``."""
    principal = page_principal(request)
    base: dict[str, Any] = {
        "principal": principal,
        "csrf_token": (principal.csrf_token or "") if principal else "",
        "can_write": bool(principal and can_write(principal.role)),
        "is_admin": bool(principal and is_admin(principal.role)),
        "nav_main": nav_for(principal.role, "main") if principal else [],
        "nav_setup": nav_for(principal.role, "setup") if principal else [],
        "current_path": request.url.path,
        "time_zone": page_time_zone(request, principal),
        "unread_notifications": unread_count(request, principal),
    }
    base.update(context or {})
    response = templates.TemplateResponse(
        request, template, base, status_code=status_code, headers=dict(headers or {})
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response
