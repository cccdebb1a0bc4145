"""The server-rendered UI (Jinja2 + htmx), mounted at /.

Each page area is one module with its own ``router = page_router()`` (HTML error pages, login
redirects). :data:`PAGE_ROUTERS` lists them and :data:`ui_router` includes them all; the UI
tests walk :data:`PAGE_ROUTERS`, so every new route is checked for login, CSRF and role rules.

To add a page area (e.g. Setup → Email): write ``web/ui/<area>_pages.py`` with
``router = page_router()`` and its routes, put its templates in ``templates/<area>/`` extending
``base.html``, append its router to :data:`PAGE_ROUTERS`, and add a ``NavItem`` (section
``"setup"`` for the Setup menu) to ``navigation.NAV_ITEMS``.
"""

from __future__ import annotations

from fastapi import APIRouter

from inboxcrm.web.ui import (
    admin_pages,
    api_docs_pages,
    deal_pages,
    home_pages,
    mail_body_pages,
    notification_pages,
    preference_pages,
    record_pages,
    search_pages,
    session_pages,
    setup_email_pages,
)

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    session_pages.router,
    home_pages.router,
    record_pages.router,
    deal_pages.router,
    notification_pages.router,
    setup_email_pages.router,
    mail_body_pages.router,
    admin_pages.router,
    api_docs_pages.router,
    preference_pages.router,
    search_pages.router,
)

from inboxcrm.web.ui import composer_pages  # noqa: E402  (compose, reply, tracking default)

PAGE_ROUTERS = (*PAGE_ROUTERS, composer_pages.router)
from inboxcrm.web.ui import message_action_pages  # noqa: E402  (per-message menu)

PAGE_ROUTERS += (message_action_pages.router,)
from inboxcrm.web.ui import meeting_pages  # noqa: E402  (the record page's meeting form)

PAGE_ROUTERS += (meeting_pages.router,)
from inboxcrm.web.ui import mail_server_pages  # noqa: E402  (Connect IMAP/POP3)

PAGE_ROUTERS += (mail_server_pages.router,)
from inboxcrm.web.ui import google_setup_pages  # noqa: E402  (Setup → Email → Google)

PAGE_ROUTERS += (google_setup_pages.router,)

ui_router = APIRouter(include_in_schema=False)
for _router in PAGE_ROUTERS:
    ui_router.include_router(_router)
