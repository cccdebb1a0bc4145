"""Use cases of tenants: create one with its own database, provision and migrate that database."""

from __future__ import annotations

import logging

from sqlalchemy import select

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.engines import validate_slug
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)


def create_tenant(runtime: Runtime, slug: str, name: str | None = None) -> TenantRow:
    """Register tenant ``slug`` in the control plane and create and migrate its database."""
    slug = slug.strip().lower()
    try:
        validate_slug(slug)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="slug") from exc
    with runtime.control_uow() as uow:
        if uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == slug)) is not None:
            raise Conflict(f"tenant {slug!r} already exists", field="slug")
        tenant = TenantRow(slug=slug, name=name or slug)
        uow.session.add(tenant)
        uow.commit()
    provision_tenant_database(runtime, slug)
    logger.info("created tenant %s", slug)
    return get_tenant(runtime, slug)


def provision_tenant_database(runtime: Runtime, slug: str) -> None:
    """Create tenant ``slug``'s database if missing and migrate it to head. Idempotent."""
    with runtime.control_uow() as uow:
        tenant = uow.session.scalar(select(TenantRow).where(TenantRow.slug == slug))
        if tenant is None:
            raise NotFound(f"no tenant {slug!r}")
        others = uow.session.scalar(
            select(TenantRow.id).where(TenantRow.slug != slug, TenantRow.database_ready).limit(1)
        )
    # The first tenant's database is migrated as it is; from the second on they are copies of a
    # migrated template, which a deployment of one tenant never needs.
    created = runtime.tenants.create_database(slug, from_template=others is not None)
    engine = runtime.tenants.engine(slug)
    if not migrator.is_current(engine, "tenant"):  # a copy of the template already is
        migrator.upgrade(engine, "tenant")
    with runtime.control_uow() as uow:
        tenant = uow.session.scalar(select(TenantRow).where(TenantRow.slug == slug))
        if tenant is not None and not tenant.database_ready:
            tenant.database_ready = True
            uow.commit()
    logger.info("tenant %s database %s and migrated", slug, "created" if created else "present")


def upgrade_all_tenants(runtime: Runtime) -> int:
    """Migrate every active tenant's database to head; returns how many were migrated."""
    with runtime.control_uow() as uow:
        slugs = list(
            uow.session.scalars(select(TenantRow.slug).where(TenantRow.status == "active"))
        )
    for slug in slugs:
        provision_tenant_database(runtime, slug)
    return len(slugs)


def get_tenant(runtime: Runtime, slug: str) -> TenantRow:
    with runtime.control_uow() as uow:
        tenant = uow.session.scalar(select(TenantRow).where(TenantRow.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant
