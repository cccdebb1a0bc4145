"""The UI's navigation: the entries of the top bar and of the Setup menu.

A new page area adds one :class:`NavItem` to :data:`NAV_ITEMS` (and its router to
``web/ui/__init__.py``); the layout renders the list, marks the current entry, and hides entries
the user's role may not open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inboxcrm.domain.roles import Role, is_admin

NavSection = Literal["main", "setup"]


@dataclass(frozen=True)
class NavItem:
    """One link in the navigation; ``path`` also marks it current for every page under it."""

    label: str
    path: str
    section: NavSection = "main"
    admin_only: bool = False

    def is_current(self, request_path: str) -> bool:
        if self.path == "/":
            return request_path == "/"
        return request_path == self.path or request_path.startswith(self.path.rstrip("/") + "/")

    def visible_to(self, role: Role) -> bool:
        return not self.admin_only or is_admin(role)


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Home", "/"),
    NavItem("Leads", "/leads"),
    NavItem("Contacts", "/contacts"),
    NavItem("Accounts", "/accounts"),
    NavItem("Deals", "/deals"),
    NavItem("Email", "/setup/email", section="setup", admin_only=False),
    NavItem("Users", "/setup/users", section="setup", admin_only=True),
    NavItem("Audit log", "/setup/audit-log", section="setup", admin_only=True),
    NavItem("Privacy", "/setup/privacy", section="setup", admin_only=True),
    NavItem("Preferences", "/preferences", section="setup"),
)


def nav_for(role: Role, section: NavSection) -> list[NavItem]:
    """The entries of ``section`` that ``role`` may open, in display order."""
    return [item for item in NAV_ITEMS if item.section == section and item.visible_to(role)]
