"""Mailbox routes (control plane): which tenants' mail accounts hold a provider mailbox.

A push notification names only a mailbox address (``emailAddress``), never a tenant. The same
Gmail mailbox may be connected in several tenants (a consultant working for two customers, a
shared support address), each with its own account row in its own tenant database. So a route
is one row per (provider, address, tenant), and a notification fans out to every route: each
tenant's copy of the mailbox is synced, and none is starved by another tenant connecting the
same address later (each keeps its push, nobody falls back to polling).

- :func:`put_route` / :func:`drop_route`: written by connect, disconnect and revocation.
- :func:`find_mailbox_routes`: every (tenant slug, account id) holding an address; the push
  hook syncs them all.
- :func:`mailbox_held_elsewhere`: whether another tenant still holds the mailbox (then a
  disconnect must not stop the mailbox's single Gmail watch, which serves them all).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from inboxcrm.adapters.db.control_tables import MailboxRouteRow, TenantRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import NotFound

__all__ = [
    "GMAIL",
    "drop_route",
    "find_mailbox_route",
    "find_mailbox_routes",
    "mailbox_held_elsewhere",
    "put_route",
]

GMAIL = "gmail"


def _tenant_id(uow: UnitOfWork, slug: str) -> int:
    tenant_id = uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == slug))
    if tenant_id is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant_id


def put_route(runtime: Runtime, slug: str, provider: str, email: str, account_id: int) -> None:
    """Record that ``slug``'s account ``account_id`` holds mailbox ``email``."""
    with runtime.control_uow() as uow:
        tenant_id = _tenant_id(uow, slug)
        route = uow.session.scalar(
            select(MailboxRouteRow).where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == email,
                MailboxRouteRow.tenant_id == tenant_id,
            )
        )
        if route is None:
            uow.session.add(
                MailboxRouteRow(
                    provider=provider, email=email, tenant_id=tenant_id, account_id=account_id
                )
            )
        else:
            route.account_id = account_id
        uow.commit()


def drop_route(runtime: Runtime, slug: str, provider: str, email: str) -> None:
    """Forget ``slug``'s route for ``email`` (other tenants' routes stay)."""
    with runtime.control_uow() as uow:
        tenant_id = _tenant_id(uow, slug)
        uow.session.execute(
            delete(MailboxRouteRow).where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == email,
                MailboxRouteRow.tenant_id == tenant_id,
            )
        )
        uow.commit()


def find_mailbox_routes(
    runtime: Runtime, email: str, provider: str = GMAIL
) -> list[tuple[str, int]]:
    """Every (tenant slug, account id) with ``email`` connected, most recent connection first."""
    canonical = try_normalize_email(email)
    if canonical is None:
        return []
    with runtime.control_uow() as uow:
        rows = uow.session.execute(
            select(TenantRow.slug, MailboxRouteRow.account_id)
            .join(TenantRow, TenantRow.id == MailboxRouteRow.tenant_id)
            .where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == canonical,
                TenantRow.status == "active",
            )
            .order_by(MailboxRouteRow.id.desc())
        ).all()
    return [(slug, account_id) for slug, account_id in rows]


def find_mailbox_route(runtime: Runtime, email: str) -> tuple[str, int] | None:
    """The most recent route of ``email`` (for callers that need any one; push uses them all)."""
    routes = find_mailbox_routes(runtime, email)
    return routes[0] if routes else None


def mailbox_held_elsewhere(runtime: Runtime, slug: str, provider: str, email: str) -> bool:
    """Whether a tenant other than ``slug`` still has ``email`` connected."""
    return any(tenant != slug for tenant, _ in find_mailbox_routes(runtime, email, provider))
