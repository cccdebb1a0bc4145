"""What the layout shows about the viewer on every page: their time zone and unread count.

Both are read per full page (htmx fragments skip the count): the zone from the user's saved
preference or the browser's ``inboxcrm_tz`` cookie (``time_display``), the count from the
tenant's notifications.
"""

from __future__ import annotations

import logging
from datetime import UTC, tzinfo
from urllib.parse import unquote

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.identity import Principal
from inboxcrm.services.notifications import count_unread
from inboxcrm.web.ui.time_display import TZ_COOKIE, resolve_zone

logger = logging.getLogger(__name__)


def page_time_zone(request: Request, principal: Principal | None) -> tzinfo:
    """The zone to show times in: the user's preference, else the browser's, else UTC."""
    preferred = principal.time_zone if principal else None
    browser = unquote(request.cookies.get(TZ_COOKIE) or "")
    if not preferred and not browser:
        return UTC
    return resolve_zone(preferred, browser)


def unread_count(request: Request, principal: Principal | None) -> int:
    """Unread notifications of the signed-in user (0 for fragments and when signed out)."""
    if principal is None or request.headers.get("HX-Request"):
        return 0
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        return 0
    try:
        with runtime.tenant_uow(principal.tenant_slug) as uow:
            return count_unread(uow, principal.user_id)
    except SQLAlchemyError:  # the count is a courtesy: the page renders without it
        logger.warning("unread count failed for user %s", principal.user_id, exc_info=True)
        return 0
