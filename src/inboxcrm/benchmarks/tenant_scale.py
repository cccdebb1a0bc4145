"""Tenancy at scale: 1,000 tenants on one PostgreSQL server, within a bounded connection total.

One process (this one) plays an app server with ``INBOXCRM_TENANT_CONNECTIONS_TOTAL`` =
``total``:

1. creates ``tenants`` tenants, each with its own database created and migrated
   (``create_tenant``, ``creators`` at a time), and a member with an API token (the members
   are one user row each, written beforehand in one statement with one password hash: an
   argon2 hash is a fifth of a CPU-second, which would otherwise be most of what creating a
   tenant costs here, and is what signing up a person costs, not a tenant);
2. serves ``rounds`` rounds of API requests round-robin over every tenant (``GET
   /api/v1/contacts`` through the app), while
3. ``synced`` of the tenants each connect a generated Gmail mailbox (OAuth flow against the
   in-process emulator) and run its full sync, ``sync_threads`` at a time.

Measured: the cost of creating a tenant (wall and this process's CPU), request latency p50/p95
over all tenants, failed requests (a "too many clients" refusal would be one), syncs completed,
and the peak of connections the server saw to this run's databases, beside the configured
bound (``total`` + the control-plane pool). Every database of the run is dropped at the end.
"""

from __future__ import annotations

import multiprocessing
import resource
import secrets
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inboxcrm.benchmarks.bench_env import (
    POSTGRES_URL,
    NoJobs,
    cpu_seconds,
    load_average,
    postgres_available,
    postgres_run,
    postgres_settings,
    temporary_dir,
)
from inboxcrm.benchmarks.bench_stack import connect_gmail
from inboxcrm.benchmarks.results import BenchResult

CONTROL_POOL = 15  # the control plane's pool: 5 kept + 10 overflow (adapters.db.engines)


def _member(n: int) -> str:
    """Tenant ``n``'s admin (one each, written before the tenants: :func:`_members`)."""
    return f"ops{n}@tenants-bench.example"


def _members(runtime: Any, tenants: int, password: str) -> None:
    """The user rows of every tenant's admin, in one statement, sharing one password hash;
    ``create_user`` then finds each and makes it a member (no hash of its own)."""
    from sqlalchemy import insert

    from inboxcrm.adapters.db.control_tables import UserRow
    from inboxcrm.services.identity import hash_password

    shared = hash_password(password)
    with runtime.control_uow() as uow:
        uow.session.execute(
            insert(UserRow),
            [{"email": _member(n), "password_hash": shared} for n in range(tenants)],
        )
        uow.commit()


def _slug(n: int) -> str:
    return f"tn{n:04d}"


class _Peak(threading.Thread):
    """Samples the connections the server has to databases named ``prefix*``."""

    def __init__(self, prefix: str) -> None:
        super().__init__(name="connection-peak", daemon=True)
        self.prefix = prefix
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        engine = create_engine(POSTGRES_URL, poolclass=NullPool)
        pattern = self.prefix.replace("_", "\\_") + "%"
        with engine.connect() as conn:
            while not self.stopping.wait(0.05):
                count = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :p"),
                    {"p": pattern},
                ).scalar_one()
                conn.rollback()
                self.peak = max(self.peak, int(count))
        engine.dispose()


_CREATOR: dict[str, Any] = {}


def _create(payload: dict[str, Any], n: int) -> str:
    """In a creator process: create tenant ``n`` (one runtime per process) and its admin member;
    returns the member's API token."""
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.services.identity import create_api_token, create_user
    from inboxcrm.services.tenants import create_tenant

    if "runtime" not in _CREATOR:
        options = {k: v for k, v in payload.items() if k != "password"}
        settings = Settings(**options, tenant_connections_total=2)
        _CREATOR["runtime"] = build_runtime(settings, jobs=NoJobs())
    runtime = _CREATOR["runtime"]
    slug = _slug(n)
    create_tenant(runtime, slug)
    create_user(
        runtime, tenant_slug=slug, email=_member(n), password=payload["password"], role="admin"
    )
    token = create_api_token(runtime, tenant_slug=slug, email=_member(n))
    runtime.tenants.forget(slug)
    return token


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _add_contacts(runtime: Any, slug: str, addresses: list[str]) -> None:
    now = datetime.now(UTC)
    with runtime.tenants.engine(slug).begin() as conn:
        for n, address in enumerate(addresses, start=1):
            conn.execute(
                text(
                    "INSERT INTO contacts (id, first_name, last_name, created_at, updated_at) "
                    "VALUES (:id, '', :last, :now, :now)"
                ),
                {"id": n, "last": address.split("@")[0], "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO record_emails (record_kind, record_id, email, position, "
                    "auto_created, created_at) VALUES ('contact', :id, :email, 0, false, :now)"
                ),
                {"id": n, "email": address, "now": now},
            )
        conn.execute(text("SELECT setval('contacts_id_seq', :n)"), {"n": len(addresses) + 1})


def tenant_results(
    tenants: int = 1000,
    synced: int = 50,
    rounds: int = 1,
    total: int = 20,
    creators: int = 2,
    sync_threads: int = 4,
    messages: int = 30,
) -> list[BenchResult]:
    if not postgres_available():
        return []
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.emulator import EmulatorConfig, start_emulator
    from inboxcrm.emulator.control_client import EmulatorControl
    from inboxcrm.services.identity import create_api_token, create_session, create_user
    from inboxcrm.services.mail_sync import sync_account
    from inboxcrm.web.app import create_app

    emulator = start_emulator(EmulatorConfig())
    control = EmulatorControl(emulator.url)
    with temporary_dir() as data_dir, postgres_run("tenants") as run:
        settings = postgres_settings(
            run,
            data_dir,
            tenant_connections_total=total,
            google_api_base=emulator.url,
            google_oauth_base="",
            public_url="http://testserver",
            log_level="WARNING",
        )
        runtime = build_runtime(settings, jobs=NoJobs())
        runtime.upgrade_control_plane()
        peak = _Peak(run.prefix)
        peak.start()
        password = secrets.token_hex(8)
        tokens: dict[str, str] = {}
        failures: list[str] = []
        try:
            # 1. Tenants, each with its own migrated database, and a member with a token.
            # Migrations (Alembic) are not thread-safe: the creators are processes, which also
            # make the members.
            _members(runtime, tenants, password)
            children_before = _children_cpu()
            cpu_before, started = cpu_seconds(), time.perf_counter()
            context = multiprocessing.get_context("spawn")
            payload = {
                "environment": "test",
                "data_dir": str(data_dir),
                "database_url": run.control_url,
                "tenant_database_url": run.tenant_url_template,
                "password": password,
            }
            with ProcessPoolExecutor(creators, mp_context=context) as pool:
                made = pool.map(_create, [payload] * tenants, range(tenants), chunksize=25)
                tokens.update(zip((_slug(n) for n in range(tenants)), made, strict=True))
            create_seconds = time.perf_counter() - started
            create_cpu = cpu_seconds() - cpu_before + _children_cpu() - children_before
            load = load_average()

            # 3. Mailboxes for the synced tenants, connected through the OAuth flow.
            app = create_app(runtime)
            accounts: dict[str, int] = {}
            with TestClient(app) as web:
                for n in range(synced):
                    slug, owner = _slug(n), f"rep{n}@tenants-bench.example"
                    control.create_user(owner)
                    control.generate(owner, messages, seed=n, customer_fraction=0.5)
                    customers = sorted(
                        {c["email"].lower() for c in control.correspondents(owner) if c["customer"]}
                    )
                    _add_contacts(runtime, slug, customers)
                    from inboxcrm.services.tenants import get_tenant

                    user_id = create_user(
                        runtime, tenant_slug=slug, email=owner, password=password, role="rep"
                    ).id
                    session_id, _ = create_session(
                        runtime,
                        user_id,
                        get_tenant(runtime, slug).id,
                        ip="127.0.0.1",
                        user_agent="bench",
                    )
                    token = create_api_token(runtime, tenant_slug=slug, email=owner)
                    accounts[slug] = connect_gmail(web, token, session_id, owner)  # type: ignore[arg-type]

            # 2 and 3 together: requests round-robin over all tenants while the syncs run.
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            sync_status: dict[str, int] = {}

            def serve() -> None:
                with TestClient(app) as client:
                    for _ in range(rounds):
                        for n in range(tenants):
                            slug = _slug(n)
                            t = time.perf_counter()
                            response = client.get(
                                "/api/v1/contacts",
                                headers={"Authorization": f"Bearer {tokens[slug]}"},
                            )
                            latencies.append((time.perf_counter() - t) * 1000)
                            statuses[response.status_code] = (
                                statuses.get(response.status_code, 0) + 1
                            )
                            if response.status_code != 200:
                                failures.append(response.text[:200])

            def sync(slug: str) -> None:
                report = sync_account(runtime, slug, accounts[slug], full=True)
                sync_status[report.status] = sync_status.get(report.status, 0) + 1

            started = time.perf_counter()
            server = threading.Thread(target=serve, name="round-robin")
            server.start()
            with ThreadPoolExecutor(sync_threads) as syncs:
                list(syncs.map(sync, list(accounts)))
            syncs_seconds = time.perf_counter() - started
            server.join()
            serve_seconds = time.perf_counter() - started
            load = max(load, load_average())
            cached = runtime.tenants.cached_count()
        finally:
            peak.stopping.set()
            peak.join(timeout=10)
            runtime.close()
            control.close()
            emulator.stop()
        dropped = run.drop_all()
    bound = total + CONTROL_POOL
    requests = len(latencies)
    ok_requests = statuses.get(200, 0)
    too_many = sum(1 for f in failures if "too many clients" in f.lower())
    p95 = statistics.quantiles(latencies, n=20)[18]
    per_tenant = create_seconds / tenants
    return [
        BenchResult(
            f"tenancy: create a tenant and its first member (own PostgreSQL database, migrated; "
            f"{creators} processes)",
            per_tenant * 1000,
            "ms",
            "n/a",
            None,
            f"{tenants:,} tenants in {create_seconds:.0f} s, app-side CPU "
            f"{create_cpu * 1000 / tenants:.0f} ms per tenant, load average {load:.1f}; the "
            "members' user rows written beforehand with one password hash",
        ),
        BenchResult(
            f"tenancy: API requests round-robin over {tenants:,} tenants, p95",
            p95,
            "ms",
            "n/a",
            None,
            f"{requests:,} requests in {serve_seconds:.0f} s, median "
            f"{statistics.median(latencies):.1f} ms, while {synced} full syncs ran "
            f"({sync_threads} at a time, {syncs_seconds:.0f} s)",
        ),
        BenchResult(
            "tenancy: failed requests (any non-200, 'too many clients' included)",
            float(requests - ok_requests),
            "requests",
            "0",
            requests == ok_requests and too_many == 0,
            f"statuses {dict(sorted(statuses.items()))}",
        ),
        BenchResult(
            f"tenancy: full syncs completed of {synced}",
            float(sync_status.get("ok", 0)),
            "syncs",
            f"{synced}",
            sync_status.get("ok", 0) == synced,
            f"statuses {dict(sorted(sync_status.items()))}",
        ),
        BenchResult(
            "tenancy: peak server connections to the run's databases (one process)",
            float(peak.peak),
            "connections",
            f"<= {bound} (INBOXCRM_TENANT_CONNECTIONS_TOTAL={total} + control pool {CONTROL_POOL}"
            "); target <= 50",
            peak.peak <= min(bound, 50),
            f"{cached} tenant engines cached at the end; {dropped} databases dropped afterwards",
        ),
    ]
