"""Scale-out: full syncs of many mailboxes on Celery + Redis + PostgreSQL, with injected latency.

The deployment is the real one (:mod:`inboxcrm.benchmarks.bench_stack`): the emulator with
``--latency-ms`` added to every Google API call (the parts of a batch wait it together, as
Google runs them in parallel: ``batch_parts_parallel``) and Gmail's per-user quota (250
units/s), one ``inboxcrm serve --no-embedded-jobs`` and one ``inboxcrm worker --concurrency N``
(prefork: N processes) per configuration; the quota gates are the shared ones in Redis (a
moving window per mailbox, a bucket for the project).

For each concurrency N a fresh tenant gets an Account for each customer company domain the
mailboxes write with (as a CRM of companies has), and
the ``mailboxes`` generated mailboxes (``messages`` each) are connected through the OAuth flow
while no worker runs (``CONNECTS_AT_ONCE`` at a time), so their first full syncs wait in the
broker; then the worker starts. The
figures come from the tenant database: each sync's start (``sync_progress.started_at``) and end
(``last_full_sync_at``), and the messages stored. Reported per N: stored messages per second
from the first start to the last end, the speed-up over N = 1, the spread of the mailboxes'
finish times and their longest sync, and the calls the emulator refused for quota (429) over
all mailboxes (0 = no mailbox went over its quota). The peak of open connections to the run's
databases is reported beside them.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from inboxcrm.benchmarks.bench_env import (
    REDIS_URL,
    NoJobs,
    load_average,
    postgres_available,
    postgres_run,
    temporary_dir,
)
from inboxcrm.benchmarks.bench_stack import connect_gmail, free_port, running_stack, wait_until
from inboxcrm.benchmarks.results import BenchResult

QUOTA_UNITS_PER_S = 250.0
SEED = 13  # with the owner address, picks each mailbox's corpus
CUSTOMER_FRACTION = 0.6
CONNECTS_AT_ONCE = 8


def _owner(n: int) -> str:
    return f"rep{n:03d}@scale-bench.example"


class _ConnectionPeak(threading.Thread):
    """The most connections to databases named ``prefix*`` seen (sampled every 0.2 s)."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        super().__init__(name="connection-peak", daemon=True)
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(admin_url, poolclass=NullPool)
        self.prefix = prefix
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        pattern = self.prefix.replace("_", "\\_") + "%"
        with self.engine.connect() as conn:
            while not self.stopping.wait(0.2):
                count = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :p"),
                    {"p": pattern},
                ).scalar_one()
                self.peak = max(self.peak, int(count) + 1)  # + this sampler's own
                conn.rollback()
        self.engine.dispose()


def _seed_tenant(runtime: Any, slug: str, domains: list[str]) -> tuple[str, str]:
    """Tenant ``slug`` with one Account per customer domain; returns (API token, session)."""
    from inboxcrm.services.identity import create_api_token, create_session, create_user
    from inboxcrm.services.tenants import create_tenant, get_tenant

    create_tenant(runtime, slug)
    now = datetime.now(UTC)
    with runtime.tenants.engine(slug).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (name, domain, created_at, updated_at) "
                "VALUES (:name, :domain, :now, :now)"
            ),
            [{"name": d.split(".")[0].title(), "domain": d, "now": now} for d in domains],
        )
    user = create_user(
        runtime, tenant_slug=slug, email=_owner(0), password=secrets.token_hex(8), role="rep"
    )
    tenant = get_tenant(runtime, slug)
    token = create_api_token(runtime, tenant_slug=slug, email=user.email)
    session_id, _ = create_session(runtime, user.id, tenant.id, ip="127.0.0.1", user_agent="bench")
    return token, session_id


def _sync_times(runtime: Any, slug: str) -> tuple[list[tuple[float, float]], int]:
    from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow

    with runtime.tenant_uow(slug) as uow:
        rows = uow.session.execute(
            select(MailAccountRow.sync_progress, MailAccountRow.last_full_sync_at)
        ).all()
        stored = int(uow.session.scalar(select(func.count()).select_from(EmailMessageRow)) or 0)
    times = []
    for progress, finished in rows:
        if finished is None or not progress.get("started_at"):
            continue
        started = datetime.fromisoformat(progress["started_at"])
        times.append((started.timestamp(), finished.timestamp()))
    return times, stored


def _one_configuration(
    stack: Any,
    runtime: Any,
    control: Any,
    web_url: str,
    customers: list[str],
    mailboxes: int,
    concurrency: int,
    latency_ms: float,
) -> dict[str, Any]:
    slug = f"scale-c{concurrency}"
    token, session_id = _seed_tenant(runtime, slug, customers)
    control.set_config(latency_ms=0.0)

    def connect_group(group: list[int]) -> None:
        with httpx.Client(base_url=web_url, timeout=60) as web:
            for n in group:
                connect_gmail(web, token, session_id, _owner(n))

    connect_started = time.monotonic()
    numbers = list(range(1, mailboxes + 1))
    groups = [numbers[i::CONNECTS_AT_ONCE] for i in range(CONNECTS_AT_ONCE)]
    with ThreadPoolExecutor(CONNECTS_AT_ONCE) as pool:
        list(pool.map(connect_group, [g for g in groups if g]))
    connect_seconds = time.monotonic() - connect_started
    control.set_config(latency_ms=latency_ms, batch_parts_parallel=True)
    control.reset_counters()
    load = load_average()
    worker = stack.start(
        f"worker-c{concurrency}", "worker", "--concurrency", str(concurrency), "--pool", "prefork"
    )
    try:
        wait_until(
            lambda: len(_sync_times(runtime, slug)[0]) >= mailboxes,
            seconds=1800,
            what=f"{mailboxes} full syncs with concurrency {concurrency}",
            interval=1.0,
        )
        load = max(load, load_average())
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        stack.processes.remove(worker)
    times, stored = _sync_times(runtime, slug)
    first = min(s for s, _ in times)
    last = max(e for _, e in times)
    finishes = sorted(e - first for _, e in times)
    durations = sorted(e - s for s, e in times)
    limited = 0
    for n in range(1, mailboxes + 1):
        limited += sum(control.stats(_owner(n)).get("rate_limited", {}).values())
    return {
        "concurrency": concurrency,
        "seconds": last - first,
        "stored": stored,
        "rate": stored / max(last - first, 1e-9),
        "finish_p50": statistics.median(finishes),
        "finish_max": finishes[-1],
        "longest_sync": durations[-1],
        "median_sync": statistics.median(durations),
        "rate_limited": limited,
        "load": load,
        "connect_seconds": connect_seconds,
    }


def scale_out_results(
    mailboxes: int = 200,
    messages: int = 60,
    concurrencies: tuple[int, ...] = (1, 2, 4, 8),
    latency_ms: float = 100.0,
) -> list[BenchResult]:
    if not postgres_available():
        return []
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.emulator.control_client import EmulatorControl

    runs: list[dict[str, Any]] = []
    with (
        temporary_dir() as data_dir,
        postgres_run("scale") as run,
        running_stack({}, Path(data_dir)) as stack,
    ):
        emulator_url = stack.start_emulator(
            free_port(), "--quota-units-per-s", f"{QUOTA_UNITS_PER_S:g}"
        )
        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        stack.settings.update(
            environment="test",
            data_dir=data_dir,
            database_url=run.control_url,
            tenant_database_url=run.tenant_url_template,
            broker_url=REDIS_URL,
            redis_url=REDIS_URL,
            quota_key_prefix=f"inboxcrm-bench-{secrets.token_hex(3)}:quota",
            # Its own queues: another deployment may share the broker (a parallel test).
            job_key_prefix=f"inboxcrm-bench-{secrets.token_hex(3)}:",
            quota_units_per_second=QUOTA_UNITS_PER_S,
            google_api_base=emulator_url,
            google_oauth_base="",
            public_url=web_url,
            poll_interval_seconds=86_400,
            tenant_connections_total=3,
            log_level="WARNING",
        )
        runtime = build_runtime(
            Settings(**{**stack.settings, "tenant_connections_total": 6}), jobs=NoJobs()
        )
        runtime.upgrade_control_plane()
        control = EmulatorControl(emulator_url)
        customers: set[str] = set()
        for n in range(1, mailboxes + 1):
            control.create_user(_owner(n))
            control.generate(_owner(n), messages, seed=SEED, customer_fraction=CUSTOMER_FRACTION)
            customers |= {
                c["email"].lower().split("@")[1]
                for c in control.correspondents(_owner(n))
                if c["kind"] == "customer-domain"
            }
        stack.start_web(web_port, embedded_jobs=False)
        peak = _ConnectionPeak(_admin_url(), run.prefix)
        peak.start()
        try:
            for concurrency in concurrencies:
                runs.append(
                    _one_configuration(
                        stack,
                        runtime,
                        control,
                        web_url,
                        sorted(customers),
                        mailboxes,
                        concurrency,
                        latency_ms,
                    )
                )
        finally:
            peak.stopping.set()
            peak.join(timeout=10)
            control.close()
            runtime.close()
    return _results(runs, mailboxes, messages, latency_ms, peak.peak)


def _admin_url() -> str:
    from inboxcrm.benchmarks.bench_env import POSTGRES_URL

    return POSTGRES_URL


def _results(
    runs: list[dict[str, Any]], mailboxes: int, messages: int, latency_ms: float, peak: int
) -> list[BenchResult]:
    base = runs[0]["rate"]
    first = runs[0]["concurrency"]  # the speed-up is over the first configuration measured
    results: list[BenchResult] = []
    for r in runs:
        c = r["concurrency"]
        speedup = r["rate"] / base
        ideal = c / first
        results.append(
            BenchResult(
                f"scale-out, {mailboxes} mailboxes x {messages} messages, {latency_ms:g} ms API "
                f"latency, worker concurrency {c}: stored messages/s",
                r["rate"],
                "msg/s",
                "n/a",
                None,
                f"{r['stored']:,} stored in {r['seconds']:.1f} s, speed-up {speedup:.2f} x over "
                f"concurrency {first}, batch parts waiting in parallel, load average "
                f"{r['load']:.1f}; {mailboxes} connected in {r['connect_seconds']:.0f} s before",
            )
        )
        results.append(
            BenchResult(
                f"scale-out, worker concurrency {c}: speed-up over concurrency {first}",
                speedup,
                "x",
                f">= {0.75 * ideal:.2f} (near-linear)",
                speedup >= 0.75 * ideal if c > first else None,
                "",
            )
        )
        results.append(
            BenchResult(
                f"scale-out, worker concurrency {c}: calls refused for quota (429), all mailboxes",
                float(r["rate_limited"]),
                "calls",
                "0",
                r["rate_limited"] == 0,
                f"{QUOTA_UNITS_PER_S:g} units/s per mailbox, shared windows in Redis",
            )
        )
        results.append(
            BenchResult(
                f"scale-out, worker concurrency {c}: longest single mailbox sync",
                r["longest_sync"],
                "s",
                "n/a",
                None,
                f"median sync {r['median_sync']:.1f} s; finish times: median "
                f"{r['finish_p50']:.1f} s, last {r['finish_max']:.1f} s after the first start",
            )
        )
    results.append(
        BenchResult(
            "scale-out, peak connections to the run's PostgreSQL databases (all processes)",
            float(peak),
            "connections",
            "<= 40",
            peak <= 40,
            "web + worker processes + the benchmark's own",
        )
    )
    return results
