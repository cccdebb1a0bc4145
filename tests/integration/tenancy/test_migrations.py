"""Both schemas have one migration head, and the migrations build exactly what the models say."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.control_tables import ControlBase
from inboxcrm.adapters.db.search_indexes import DIALECT_ONLY_INDEXES
from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.tenants import create_tenant


@pytest.mark.parametrize("schema", ["control", "tenant"])
def test_one_head_per_schema(schema: migrator.Schema) -> None:
    heads = ScriptDirectory.from_config(migrator.alembic_config(schema)).get_heads()
    assert len(heads) == 1, f"{schema} migrations have several heads: {heads}"


def _compared(obj: object, name: str | None, type_: str, *_args: object) -> bool:
    return not (type_ == "index" and name in DIALECT_ONLY_INDEXES)


def _diff(engine: object, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _compared}
        )
        return list(compare_metadata(context, metadata))


# SQLite's reflection cannot read the search box's expression indexes (migration 1301): it
# skips them with a warning, and the comparison of the other indexes stands.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrations_match_models(runtime: Runtime) -> None:
    assert _diff(runtime.control_engine, ControlBase.metadata) == []
    create_tenant(runtime, "schema-check")
    assert _diff(runtime.tenants.engine("schema-check"), TenantBase.metadata) == []
