"""A user's own preferences (stored on the control-plane user, so they follow the user across
tenants): for now the time zone the UI shows times in.

:func:`set_time_zone` is the one write path; ``None`` (or ``""``) goes back to the browser's zone.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inboxcrm.adapters.db.control_tables import UserRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.services.identity import Principal

__all__ = ["set_time_zone"]

logger = logging.getLogger(__name__)


def _valid_zone(name: str) -> bool:
    if len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def set_time_zone(control_uow: UnitOfWork, principal: Principal, time_zone: str | None) -> None:
    """Save the zone the user wants times shown in (an IANA name such as ``Europe/Istanbul``)."""
    name = (time_zone or "").strip() or None
    if name is not None and not _valid_zone(name):
        raise InvalidInput("choose a time zone from the list", field="time_zone")
    user = control_uow.session.get(UserRow, principal.user_id)
    if user is None:
        raise NotFound("no such user")
    user.time_zone = name
    control_uow.commit()
    logger.info("user %s set time zone %s", principal.user_id, name or "(browser)")
