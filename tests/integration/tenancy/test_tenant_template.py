"""Tenant databases on PostgreSQL are copies of one migrated template, identical to a database
migrated step by step; the template is built once per head and never blocks a tenant."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.tenant_template import template_database_name
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.tenants import create_tenant

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]


def _server(runtime: Runtime) -> Engine:
    url = make_url(runtime.tenants.url_for("probe-x")).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _databases(runtime: Runtime, like: str) -> list[str]:
    server = _server(runtime)
    try:
        with server.connect() as conn:
            rows = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p ORDER BY 1"),
                {"p": like.replace("_", "\\_") + "%"},
            )
            return [r[0] for r in rows]
    finally:
        server.dispose()


def _schema(engine: Engine) -> dict[str, Any]:
    """Tables and columns, indexes, constraints, sequences and the Alembic revision."""
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
            )
        ).all()
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
            )
        ).all()
        constraints = conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
            )
        ).all()
        sequences = conn.execute(
            text("SELECT sequence_name FROM information_schema.sequences ORDER BY 1")
        ).all()
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "sequences": sequences,
        "revision": revision,
    }


def test_tenant_copies_match_a_database_migrated_step_by_step(runtime: Runtime) -> None:
    head = migrator.head_revision("tenant")
    assert head is not None
    template = template_database_name(runtime.tenants.url_template, head)
    create_tenant(runtime, "acme")
    # A deployment of one tenant has no template: its database was migrated as it is.
    assert _databases(runtime, template) == []
    create_tenant(runtime, "globex")
    # From the second tenant on: one template, at the head, and copies of it.
    assert _databases(runtime, template) == [template]
    copied = _schema(runtime.tenants.engine("globex"))
    assert copied["revision"] == [(head,)]

    # The reference: a database created plainly and migrated revision by revision.
    reference_url = make_url(runtime.tenants.url_for("reference-x"))
    server = _server(runtime)
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{reference_url.database}"'))
    server.dispose()
    reference = create_engine(reference_url, poolclass=NullPool)
    try:
        migrator.upgrade(reference, "tenant")
        assert _schema(reference) == copied
    finally:
        reference.dispose()

    # Each copy is its own database: data in one is not in the other, nor in the template.
    with runtime.tenants.engine("acme").begin() as conn:
        conn.execute(
            text("INSERT INTO accounts (name, created_at, updated_at) VALUES ('A', now(), now())")
        )
    with runtime.tenants.engine("globex").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 0


def test_older_templates_are_replaced_and_a_busy_template_falls_back(runtime: Runtime) -> None:
    head = migrator.head_revision("tenant")
    assert head is not None
    template = template_database_name(runtime.tenants.url_template, head)
    stale = template_database_name(runtime.tenants.url_template, "0001")
    building = template + "_building"
    create_tenant(runtime, "zero-t")  # the first tenant: no template yet
    server = _server(runtime)
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{stale}"'))  # a template of an older head
        conn.execute(text(f'CREATE DATABASE "{building}"'))  # a build a crash left behind
    create_tenant(runtime, "first-t")
    stem = template[: template.rindex("_template_")]
    assert _databases(runtime, stem + "_template_") == [template]

    # A session on the template stops PostgreSQL from copying it: the tenant is still
    # created (plainly, then migrated), and at the head.
    holder = create_engine(make_url(runtime.tenants.url_for("x-x")).set(database=template))
    try:
        with holder.connect():
            create_tenant(runtime, "second-t")
    finally:
        holder.dispose()
    assert migrator.is_current(runtime.tenants.engine("second-t"), "tenant")
    server.dispose()
