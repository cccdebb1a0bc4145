"""Roles of a tenant's users and what each may do."""

from __future__ import annotations

from enum import StrEnum

from inboxcrm.domain.errors import InvalidInput, MailIntegrationRequired, PermissionDenied


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    READ_ONLY = "read-only"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower().replace("_", "-"))
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInput(f"unknown role {value!r}; one of: {allowed}", field="role") from None


_RANK = {Role.READ_ONLY: 0, Role.REP: 1, Role.MANAGER: 2, Role.ADMIN: 3, Role.OWNER: 4}


def can_write(role: Role) -> bool:
    """Reps and above create and change CRM data; read-only users only look."""
    return _RANK[role] >= _RANK[Role.REP]


def is_admin(role: Role) -> bool:
    return _RANK[role] >= _RANK[Role.ADMIN]


def require_write(role: Role) -> None:
    if not can_write(role):
        raise PermissionDenied("your role is read-only")


def require_admin(role: Role) -> None:
    if not is_admin(role):
        raise PermissionDenied("only a tenant owner or admin may do this")


MAIL_INTEGRATION_DEFAULT = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REP})
"""Roles that hold the Mail Integration permission unless an admin withdrew it."""

MAIL_INTEGRATION_MISSING = (
    "you do not have the Mail Integration permission, which connecting a mailbox and sending "
    "mail need; ask a tenant owner or admin to grant it"
)


def has_mail_integration(role: Role, setting: bool | None) -> bool:
    """The Mail Integration permission: what an admin set for the user, else the role's default.

    Read-only users never hold it (they may not write), whatever was set.
    """
    if not can_write(role):
        return False
    return role in MAIL_INTEGRATION_DEFAULT if setting is None else setting


def require_mail_integration(allowed: bool) -> None:
    if not allowed:
        raise MailIntegrationRequired(MAIL_INTEGRATION_MISSING)
