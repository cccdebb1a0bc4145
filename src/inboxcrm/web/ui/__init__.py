"""The server-rendered UI (Jinja2 + htmx), mounted at /.

Each page area is one module with its own ``router = page_router()`` (HTML error pages, login
redirects); this package includes them into :data:`ui_router`. To add a page area (e.g. Setup →
Email): write ``web/ui/<area>_pages.py`` with its routes and ``templates/<area>/*.html`` extending
``base.html``, include its router below, and add a ``NavItem`` to ``navigation.NAV_ITEMS``.
"""

from __future__ import annotations

from fastapi import APIRouter

from inboxcrm.web.ui import (
    deal_pages,
    home_pages,
    notification_pages,
    record_pages,
    session_pages,
)

ui_router = APIRouter(include_in_schema=False)
ui_router.include_router(session_pages.router)
ui_router.include_router(home_pages.router)
ui_router.include_router(record_pages.router)
ui_router.include_router(deal_pages.router)
ui_router.include_router(notification_pages.router)
