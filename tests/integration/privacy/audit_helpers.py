"""Reading a tenant's (or the control plane's) audit entries in tests."""

from __future__ import annotations

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import AuditEntry, list_events, verify_chain


def audit_entries(
    runtime: Runtime, tenant: str | None, action: str | None = None
) -> list[AuditEntry]:
    """Every entry, newest first (after checking that the chain is intact)."""
    uow_factory = runtime.control_uow if tenant is None else (lambda: runtime.tenant_uow(tenant))
    with uow_factory() as uow:
        assert verify_chain(uow).ok
        return list(list_events(uow, action=action, limit=200).items)


def actions(runtime: Runtime, tenant: str | None) -> list[str]:
    return [e.action for e in audit_entries(runtime, tenant)]
