"""Audit entries of sign-ins: each success and failure lands in the audit log of the tenant it
concerns; a failure for an address that is no user (so of no tenant) lands in the control plane's.

No entry carries the address that was typed or the password: a known user is named by id, and an
unknown one not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import record_event

logger = logging.getLogger(__name__)

__all__ = ["audit_login", "audit_unknown_login"]


def audit_login(
    runtime: Runtime,
    *,
    tenant_slugs: Iterable[str],
    user_id: int,
    outcome: str,
    ip: str | None,
    reason: str | None = None,
) -> None:
    """Record a sign-in (``auth.login``) or a refused one (``auth.login_failed``) per tenant."""
    action = "auth.login" if outcome == "success" else "auth.login_failed"
    for slug in tenant_slugs:
        try:
            with runtime.tenant_uow(slug) as uow:
                record_event(
                    uow,
                    action=action,
                    actor_user_id=user_id,
                    target=f"user:{user_id}",
                    outcome=outcome,
                    ip=ip,
                    details={"reason": reason} if reason else None,
                )
                uow.commit()
        except Exception:  # the sign-in itself must not fail because its audit entry did
            logger.exception("could not audit a sign-in of user %s in tenant %s", user_id, slug)


def audit_unknown_login(runtime: Runtime, *, ip: str | None) -> None:
    """Record a refused sign-in for an address that belongs to no user (control plane)."""
    try:
        with runtime.control_uow() as uow:
            record_event(
                uow,
                action="auth.login_failed",
                actor_user_id=None,
                actor_kind="system",
                target=None,
                outcome="failure",
                ip=ip,
                details={"reason": "unknown_user"},
            )
            uow.commit()
    except Exception:
        logger.exception("could not audit a refused sign-in")
