"""Each tenant's data lives in its own physical database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.tenant_tables import AccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import Conflict, InvalidInput
from inboxcrm.services.tenants import create_tenant, get_tenant, provision_tenant_database


def test_two_tenants_live_in_two_databases(runtime: Runtime) -> None:
    create_tenant(runtime, "acme", "Acme Ltd")
    create_tenant(runtime, "globex", "Globex")

    url_a = make_url(runtime.tenants.url_for("acme"))
    url_b = make_url(runtime.tenants.url_for("globex"))
    assert url_a.database != url_b.database
    if runtime.tenants.backend == "sqlite":
        assert url_a.database is not None and url_b.database is not None
        from pathlib import Path

        assert Path(url_a.database).is_file() and Path(url_b.database).is_file()

    with runtime.tenant_uow("acme") as uow:
        uow.session.add(AccountRow(name="Only in Acme"))
        uow.commit()
    with runtime.tenant_uow("globex") as uow:
        assert uow.session.scalars(select(AccountRow)).all() == []
    with runtime.tenant_uow("acme") as uow:
        assert [a.name for a in uow.session.scalars(select(AccountRow))] == ["Only in Acme"]


def test_tenant_database_is_migrated_and_provisioning_is_idempotent(runtime: Runtime) -> None:
    create_tenant(runtime, "initech")
    assert get_tenant(runtime, "initech").database_ready
    engine = runtime.tenants.engine("initech")
    assert migrator.is_current(engine, "tenant")
    provision_tenant_database(runtime, "initech")
    assert migrator.is_current(engine, "tenant")


def test_duplicate_and_invalid_slugs_are_refused(runtime: Runtime) -> None:
    create_tenant(runtime, "acme")
    with pytest.raises(Conflict):
        create_tenant(runtime, "acme")
    for bad in ("A", "has space", "-lead", "x" * 60, "drop;table"):
        with pytest.raises(InvalidInput):
            create_tenant(runtime, bad)


def test_engine_cache_is_bounded(runtime: Runtime) -> None:
    runtime.tenants.cache_size = 2
    for slug in ("one-t", "two-t", "three-t"):
        create_tenant(runtime, slug)
    assert runtime.tenants.cached_count() <= 2
    with runtime.tenant_uow("one-t") as uow:  # an evicted tenant reopens transparently
        assert uow.session.scalars(select(AccountRow)).all() == []
