"""Tenant connections of one process are bounded by one total, idle ones are closed (issue 7,
defect 9): many active tenants never exhaust the PostgreSQL server's max_connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from inboxcrm.adapters.db.engines import ConnectionBudgetExhausted
from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.config import Settings
from tests.fixtures.servers import POSTGRES_URL

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]

TENANTS = [f"budget-{n}" for n in range(6)]


@pytest.fixture
def bounded(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(
        settings.model_copy(
            update={"tenant_connections_total": 3, "tenant_connection_idle_seconds": 1.0}
        )
    )
    for slug in TENANTS:
        runtime.tenants.create_database(slug)
    try:
        yield runtime
    finally:
        runtime.close()


def _server_connections(runtime: Runtime) -> int:
    """Connections the server has open to this test's tenant databases (from the server)."""
    prefix = make_url(runtime.tenants.url_for(TENANTS[0])).database
    assert prefix is not None
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :p"),
                    {"p": prefix.rsplit("budget_", 1)[0] + "budget_%"},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def test_many_tenants_share_one_bound_of_open_connections(bounded: Runtime) -> None:
    for slug in TENANTS:  # each tenant used once: its pool would keep a connection open
        with bounded.tenants.engine(slug).connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert bounded.tenants.budget.open_connections <= 3
    assert _server_connections(bounded) <= 3


def test_when_every_connection_is_in_use_the_next_one_waits_then_fails_clearly(
    bounded: Runtime,
) -> None:
    bounded.tenants.budget.timeout = 1.0
    with ExitStack() as held:
        for slug in TENANTS[:3]:
            held.enter_context(bounded.tenants.engine(slug).connect()).execute(text("SELECT 1"))
        with pytest.raises(ConnectionBudgetExhausted, match="INBOXCRM_TENANT_CONNECTIONS_TOTAL"):
            bounded.tenants.engine(TENANTS[3]).connect().close()
    with bounded.tenants.engine(TENANTS[3]).connect() as conn:  # free again once returned
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_idle_connections_are_closed(bounded: Runtime) -> None:
    with bounded.tenants.engine(TENANTS[0]).connect() as conn:
        conn.execute(text("SELECT 1"))
    assert bounded.tenants.budget.open_connections == 1

    def closed() -> bool:
        bounded.tenants.engine(TENANTS[1])  # any use of the cache sweeps idle engines
        return bounded.tenants.budget.open_connections == 0

    from tests.integration.sync.conftest import wait_for

    wait_for(closed, timeout=30, what="the idle connection to be closed")
    assert _server_connections(bounded) == 0
