"""Record search latency: the contacts search box over a million contacts, SQLite and PostgreSQL.

A tenant is bulk-loaded (``executemany`` on SQLite, ``COPY`` on PostgreSQL, through the same
migrated schema and indexes as production: the secondary indexes of the loaded tables are read
back from the database, dropped, and made again from that same DDL once the rows are in, as a
bulk load does) with ``contacts`` contacts, one account per 20 of
them and one email address per contact. Names are drawn from syllables, so that there are
tens of thousands of distinct last names, a few hundred first names and common prefixes with
thousands of matches, as in a real customer base. The searches, through the HTTP API
(``GET /api/v1/contacts?q=...``, first page of 50), are a fixed mix of what people type: a
last name, the first three letters of one, a first name with a last name, an email address's
beginning, an account (company) name, an email domain, and a word that matches nothing.

Reported per database: p95 and median of the request latency, and the CPU time of the process
per request (the honest figure on a shared, loaded machine), with the load average.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from inboxcrm.benchmarks.bench_env import (
    cpu_seconds,
    load_average,
    postgres_available,
    postgres_run,
    postgres_settings,
    sqlite_runtime,
    temporary_dir,
)
from inboxcrm.benchmarks.results import BenchResult
from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.services.identity import create_api_token, create_user
from inboxcrm.services.tenants import create_tenant
from inboxcrm.web.app import create_app

from .bench_env import NoJobs

TENANT = "search-bench"
TARGET_MS = 50.0
PER_ACCOUNT = 20
_SYLLABLES = (
    "al",
    "ber",
    "cor",
    "dan",
    "el",
    "fin",
    "gar",
    "hol",
    "in",
    "jor",
    "kel",
    "lan",
    "mor",
    "nor",
    "os",
    "par",
    "quin",
    "ros",
    "sal",
    "tor",
    "ul",
    "var",
    "wen",
    "xan",
    "yor",
    "zel",
    "bra",
    "cri",
    "dro",
    "fle",
    "gri",
)


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def _dataset(contacts: int, seed: int = 7) -> tuple[list[tuple[Any, ...]], ...]:
    rng = random.Random(seed)
    first_names = sorted({_name(rng, 2) for _ in range(400)})
    accounts = []
    for a in range(1, contacts // PER_ACCOUNT + 2):
        accounts.append((a, f"{_name(rng, 2)} {rng.choice(['Labs', 'Group', 'Inc'])} {a}"))
    rows = []
    emails = []
    for c in range(1, contacts + 1):
        first = rng.choice(first_names)
        last = _name(rng, 3)
        account = rng.randrange(1, len(accounts) + 1)
        rows.append((c, first, last, rng.choice(["CEO", "CTO", "Buyer", None]), account))
        emails.append((c, f"{first.lower()}.{last.lower()}{c}@d{account}.example"))
    return accounts, rows, emails


def _queries(rows: list[tuple[Any, ...]], accounts: list[tuple[Any, ...]], n: int) -> list[str]:
    rng = random.Random(11)
    makers: list[Callable[[], str]] = [
        lambda: rng.choice(rows)[2],  # a last name
        lambda: rng.choice(rows)[2][:3],  # its first three letters (thousands of matches)
        lambda: f"{(r := rng.choice(rows))[1]} {r[2]}",  # first and last name
        lambda: f"{(r := rng.choice(rows))[1].lower()}.{r[2].lower()[:4]}",  # an address
        lambda: rng.choice(accounts)[1].split()[0],  # a company
        lambda: f"d{rng.randrange(1, len(accounts))}.example",  # a domain
        lambda: "zzqx",  # nothing
    ]
    return [makers[i % len(makers)]() for i in range(n)]


_LOADED = ("accounts", "contacts", "record_emails")


def _secondary_indexes(conn: Any, postgres: bool) -> list[tuple[str, str]]:
    """(name, DDL) of the loaded tables' indexes that back no constraint."""
    if postgres:
        rows = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || "
                "quote_ident(i.indexname))::regclass)"
            ),
            {"tables": list(_LOADED)},
        )
    else:
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('accounts', 'contacts', 'record_emails')"
            )
        )
    return [(str(name), str(ddl)) for name, ddl in rows]


def _bulk_load(runtime: Runtime, data: tuple[list[tuple[Any, ...]], ...]) -> float:
    engine = runtime.tenants.engine(TENANT)
    postgres = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    with engine.begin() as conn:
        indexes = _secondary_indexes(conn, postgres)
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    _load_rows(runtime, data)
    with engine.begin() as conn:
        for _, ddl in indexes:
            conn.execute(text(ddl))
    with engine.begin() as conn:
        restored = {name for name, _ in _secondary_indexes(conn, postgres)}
    if restored != {name for name, _ in indexes}:
        raise RuntimeError("the search indexes were not all made again after the bulk load")
    _analyze(runtime)
    return time.perf_counter() - started


def _analyze(runtime: Runtime) -> None:
    engine = runtime.tenants.engine(TENANT)
    if engine.dialect.name == "postgresql":
        # The state autovacuum keeps a live table in: statistics, and the visibility map that
        # lets the search read its covering indexes only.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _load_rows(runtime: Runtime, data: tuple[list[tuple[Any, ...]], ...]) -> None:
    accounts, rows, emails = data
    now = datetime.now(UTC)
    engine = runtime.tenants.engine(TENANT)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            cursor: Any = conn.connection.cursor()
            for table, columns, values in (
                (
                    "accounts",
                    "id, name, created_at, updated_at",
                    [(*a, now, now) for a in accounts],
                ),
                (
                    "contacts",
                    "id, first_name, last_name, title, account_id, created_at, updated_at",
                    [(*r, now, now) for r in rows],
                ),
                (
                    "record_emails",
                    "record_kind, record_id, email, position, auto_created, created_at",
                    [("contact", c, e, 0, False, now) for c, e in emails],
                ),
            ):
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
            for table in ("accounts", "contacts"):
                conn.execute(
                    text("SELECT setval(:seq, (SELECT max(id) FROM " + table + "))"),  # noqa: S608
                    {"seq": f"{table}_id_seq"},
                )
    else:
        stamp = now.isoformat(sep=" ")
        with engine.begin() as conn:
            raw: Any = conn.connection.driver_connection
            raw.executemany(
                "INSERT INTO accounts (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [(*a, stamp, stamp) for a in accounts],
            )
            raw.executemany(
                "INSERT INTO contacts (id, first_name, last_name, title, account_id, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*r, stamp, stamp) for r in rows],
            )
            raw.executemany(
                "INSERT INTO record_emails (record_kind, record_id, email, position, "
                "auto_created, created_at) VALUES ('contact', ?, ?, 0, 0, ?)",
                [(c, e, stamp) for c, e in emails],
            )


def _explain(runtime: Runtime, query: str) -> str:
    """The database's plan of the search statement for ``query`` (for the decision record)."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from inboxcrm.adapters.db.tenant_tables import ContactRow
    from inboxcrm.services.record_search import search_conditions

    postgres = runtime.tenants.backend == "postgresql"
    with runtime.tenant_uow(TENANT) as uow:
        statement = (
            select(ContactRow.id)
            .where(
                ContactRow.deleted_at.is_(None),
                *search_conditions(uow.session, "contact", ContactRow.id, query),
            )
            .order_by(ContactRow.id)
            .limit(51)
        )
        dialect: Any = postgresql.dialect() if postgres else sqlite.dialect()  # type: ignore[no-untyped-call]
        compiled = statement.compile(
            dialect=dialect,
            compile_kwargs={"literal_binds": True},
        )
        prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)" if postgres else "EXPLAIN QUERY PLAN"
        rows = uow.session.connection().exec_driver_sql(f"{prefix} {compiled}").all()
    if postgres:
        return "\n".join(r[0] for r in rows)
    return "\n".join(f"{r[1]:>3} {r[2]:>3} {r[3]}" for r in rows)


def _backend_pids(runtime: Runtime) -> list[int]:
    """The server processes of the tenant's pooled connections (PostgreSQL; none on SQLite)."""
    if runtime.tenants.backend != "postgresql":
        return []
    database = make_url(runtime.tenants.url_for(TENANT)).database
    with runtime.control_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}
        )
        return [int(r[0]) for r in rows]


def _measure(
    runtime: Runtime, label: str, contacts: int, searches: int
) -> tuple[list[BenchResult], dict[str, str]]:
    create_tenant(runtime, TENANT)
    data = _dataset(contacts)
    load_seconds = _bulk_load(runtime, data)
    user = create_user(
        runtime, tenant_slug=TENANT, email="rep@bench.example", password="bench-pass", role="rep"
    )
    token = create_api_token(runtime, tenant_slug=TENANT, email=user.email)
    headers = {"Authorization": f"Bearer {token}"}
    queries = _queries(data[1], data[0], searches)
    timings: list[float] = []
    cpu: list[float] = []
    hits: list[int] = []
    with TestClient(create_app(runtime)) as client:
        for q in queries[:10]:  # warm caches and statements
            client.get("/api/v1/contacts", params={"q": q, "limit": 50}, headers=headers)
        servers = _backend_pids(runtime)
        load = load_average()

        def used() -> float:
            return cpu_seconds() + sum(cpu_seconds(pid) for pid in servers)

        for q in queries:
            cpu_before = used()
            started = time.perf_counter()
            response = client.get("/api/v1/contacts", params={"q": q, "limit": 50}, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((used() - cpu_before) * 1000)
            response.raise_for_status()
            hits.append(len(response.json()["items"]))
        load = max(load, load_average())
    samples = data[1][5]
    plans = {
        q: _explain(runtime, q)
        for q in (samples[2], samples[2][:3], f"{samples[1]} {samples[2]}", "zzqx")
    }
    p95 = _p95(timings)
    cpu_p95 = _p95(cpu)
    note = (
        f"{contacts:,} contacts bulk-loaded in {load_seconds:.0f} s, {len(timings)} searches, "
        f"median {statistics.median(timings):.1f} ms, {sum(1 for h in hits if h == 50)} full "
        f"pages, load average {load:.1f}"
    )
    server = " + database server" if servers else ""
    return [
        BenchResult(
            f"record search, p95 ({label}, HTTP API)",
            p95,
            "ms",
            f"<= {TARGET_MS:.0f} ms",
            p95 <= TARGET_MS,
            note,
        ),
        BenchResult(
            f"record search, CPU time per request, p95 ({label}, app process{server})",
            cpu_p95,
            "ms",
            f"<= {TARGET_MS:.0f} ms",
            cpu_p95 <= TARGET_MS,
            f"median {statistics.median(cpu):.1f} ms; what one core spends, whatever else "
            "loads the machine",
        ),
    ], plans


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


@contextmanager
def _sqlite() -> Iterator[Runtime]:
    with temporary_dir() as data_dir:
        runtime = sqlite_runtime(data_dir)
        try:
            yield runtime
        finally:
            runtime.close()


@contextmanager
def _postgres() -> Iterator[Runtime]:
    with temporary_dir() as data_dir, postgres_run("search") as run:
        runtime = build_runtime(
            postgres_settings(run, data_dir, tenant_connections_total=4), jobs=NoJobs()
        )
        runtime.upgrade_control_plane()
        try:
            yield runtime
        finally:
            runtime.close()


LAST_PLANS: dict[str, dict[str, str]] = {}


def search_results(
    contacts: int = 1_000_000,
    searches: int = 210,
    databases: tuple[str, ...] = ("sqlite", "postgres"),
) -> list[BenchResult]:
    results: list[BenchResult] = []
    if "sqlite" in databases:
        with _sqlite() as runtime:
            found, LAST_PLANS["SQLite"] = _measure(runtime, "SQLite", contacts, searches)
            results += found
    if "postgres" in databases and postgres_available():
        with _postgres() as runtime:
            found, LAST_PLANS["PostgreSQL"] = _measure(runtime, "PostgreSQL", contacts, searches)
            results += found
    return results
