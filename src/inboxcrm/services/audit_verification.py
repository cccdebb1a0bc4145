"""Verifying the audit chains of the control plane and every tenant (``inboxcrm audit verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import NotFound
from inboxcrm.services.audit import ChainReport, verify_chain

__all__ = ["ChainResult", "verify_audit_chains"]

CONTROL_PLANE = "control plane"


@dataclass(frozen=True)
class ChainResult:
    """One database's verification (``where``: a tenant slug, or the control plane)."""

    where: str
    report: ChainReport


def verify_audit_chains(runtime: Runtime, tenant: str | None = None) -> list[ChainResult]:
    """Verify ``tenant``'s chain, or the control plane's and every tenant's."""
    with runtime.control_uow() as uow:
        query = select(TenantRow.slug).where(TenantRow.database_ready.is_(True))
        if tenant is not None:
            query = query.where(TenantRow.slug == tenant)
        slugs = list(uow.session.scalars(query.order_by(TenantRow.id)))
        results = [] if tenant is not None else [ChainResult(CONTROL_PLANE, verify_chain(uow))]
    if tenant is not None and not slugs:
        raise NotFound(f"no tenant {tenant!r}")
    for slug in slugs:
        with runtime.tenant_uow(slug) as uow:
            results.append(ChainResult(slug, verify_chain(uow)))
    return results
