"""Both schemas have one migration head, and the migrations build exactly what the models say."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.control_tables import ControlBase
from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.tenants import create_tenant


@pytest.mark.parametrize("schema", ["control", "tenant"])
def test_one_head_per_schema(schema: migrator.Schema) -> None:
    heads = ScriptDirectory.from_config(migrator.alembic_config(schema)).get_heads()
    assert len(heads) == 1, f"{schema} migrations have several heads: {heads}"


def _diff(engine: object, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrations_match_models(runtime: Runtime) -> None:
    assert _diff(runtime.control_engine, ControlBase.metadata) == []
    create_tenant(runtime, "schema-check")
    assert _diff(runtime.tenants.engine("schema-check"), TenantBase.metadata) == []
