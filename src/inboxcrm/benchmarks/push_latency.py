"""Push-to-timeline latency: new mail in the emulator → visible through the HTTP API.

The deployment runs as an operator runs it (:mod:`inboxcrm.benchmarks.bench_stack`): the Google
API emulator, ``inboxcrm serve``, and either the embedded job worker (SQLite, embedded broker)
or ``inboxcrm worker`` processes on Redis with PostgreSQL. A rep's Gmail is connected through
the OAuth flow, the first full sync and the watch complete, and then ``deliveries`` customer
messages are delivered to the mailbox at a steady rate. The emulator pushes a Pub/Sub
notification signed like Google's to ``/hooks/gmail/push`` (at most one per second per mailbox,
Gmail's documented notification rate), and the app syncs the mailbox's history.

A poller reads the contact's timeline through the API every ``POLL_SECONDS``; a message's
latency is from the moment the emulator accepted it to the first poll that shows it (so the
figures include up to one poll interval). Reported: p50, p95 and max, and how many messages
never showed (0 expected).
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from inboxcrm.benchmarks.bench_env import (
    REDIS_URL,
    load_average,
    postgres_available,
    postgres_run,
    temporary_dir,
)
from inboxcrm.benchmarks.bench_stack import (
    connect_gmail,
    free_port,
    running_stack,
    wait_until,
)
from inboxcrm.benchmarks.results import BenchResult

TENANT = "push-bench"
OWNER = "rep@push-bench.example"
CUSTOMER = "carol@customer.example"
AUDIENCE = "https://crm.bench.example/hooks/gmail/push"
POLL_SECONDS = 0.05
TARGET_P95_S = 2.0


def _mail(subject: str) -> bytes:
    return "\r\n".join(
        [
            f"From: Carol Customer <{CUSTOMER}>",
            f"To: {OWNER}",
            f"Subject: {subject}",
            f"Message-ID: <{uuid.uuid4().hex}@customer.example>",
            "Date: Mon, 3 Nov 2025 10:00:00 +0000",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "A question about our order.",
        ]
    ).encode()


def _prepare(settings: dict[str, Any]) -> tuple[str, str, int]:
    """Tenant, rep, contact; returns (API token, session id, contact id)."""
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.domain.roles import Role
    from inboxcrm.services.identity import (
        Principal,
        create_api_token,
        create_session,
        create_user,
    )
    from inboxcrm.services.records import ContactCreate, create_contact
    from inboxcrm.services.tenants import create_tenant, get_tenant

    from .bench_env import NoJobs

    runtime = build_runtime(Settings(**settings), jobs=NoJobs())
    try:
        runtime.upgrade_control_plane()
        create_tenant(runtime, TENANT)
        user = create_user(
            runtime, tenant_slug=TENANT, email=OWNER, password=secrets.token_hex(8), role="rep"
        )
        tenant = get_tenant(runtime, TENANT)
        principal = Principal(user.id, user.email, "", tenant.id, TENANT, Role.REP, "token")
        with runtime.tenant_uow(TENANT) as uow:
            contact = create_contact(
                uow, principal, ContactCreate(last_name="Customer", emails=[CUSTOMER])
            )
        token = create_api_token(runtime, tenant_slug=TENANT, email=OWNER)
        session_id, _ = create_session(
            runtime, user.id, tenant.id, ip="127.0.0.1", user_agent="bench"
        )
        return token, session_id, contact.id
    finally:
        runtime.close()


def _watched(settings: dict[str, Any], account_id: int) -> bool:
    from inboxcrm.adapters.db.tenant_tables import MailAccountRow
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings

    from .bench_env import NoJobs

    runtime = build_runtime(Settings(**settings), jobs=NoJobs())
    try:
        with runtime.tenant_uow(TENANT) as uow:
            row = uow.session.scalar(select(MailAccountRow).where(MailAccountRow.id == account_id))
            return bool(
                row is not None
                and row.watch_expiration is not None
                and row.last_full_sync_at is not None
            )
    finally:
        runtime.close()


class _Poller(threading.Thread):
    """Reads the timeline every POLL_SECONDS; notes when each subject is first seen."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(name="timeline-poller", daemon=True)
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()
        self.errors = 0

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    response = client.get(self.url, headers=self.headers)
                    response.raise_for_status()
                    now = time.monotonic()
                    for item in response.json()["items"]:
                        subject = item.get("subject") or ""
                        self.seen.setdefault(subject, now)
                except httpx.HTTPError:
                    self.errors += 1
                self.stopping.wait(max(0.0, POLL_SECONDS - (time.monotonic() - started)))


def _run(
    label: str, settings: dict[str, Any], embedded: bool, deliveries: int, rate: float, workers: int
) -> list[BenchResult]:
    from inboxcrm.emulator.control_client import EmulatorControl

    with temporary_dir() as logs, running_stack(settings, Path(logs)) as stack:
        emulator_url = stack.start_emulator(free_port())
        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        stack.settings.update(
            google_api_base=emulator_url,
            google_oauth_base="",
            public_url=web_url,
            push_jwks_url=emulator_url + "/oauth2/v3/certs",
        )
        token, session_id, contact_id = _prepare(stack.settings)
        control = EmulatorControl(emulator_url)
        control.create_user(OWNER)
        control.set_config(push_endpoint=web_url + "/hooks/gmail/push", push_audience=AUDIENCE)
        control.deliver(OWNER, _mail("Before connecting"))
        stack.start_web(web_port, embedded_jobs=embedded)
        if not embedded:
            stack.start_workers(1, workers)
        with httpx.Client(base_url=web_url, timeout=60) as web:
            account_id = connect_gmail(web, token, session_id, OWNER)
        wait_until(
            lambda: _watched(stack.settings, account_id),
            seconds=120,
            what="the first full sync and the watch",
            interval=0.2,
        )
        poller = _Poller(f"{web_url}/api/v1/contacts/{contact_id}/timeline?limit=50", token)
        poller.start()
        delivered: dict[str, float] = {}
        load = load_average()
        start = time.monotonic()
        for i in range(deliveries):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            subject = f"Push probe {i}"
            control.deliver(OWNER, _mail(subject))
            delivered[subject] = time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(delivered) <= set(poller.seen):
            time.sleep(0.1)
        poller.stopping.set()
        poller.join(timeout=30)
        load = max(load, load_average())
        pushes = len(control.pushes(OWNER))
        control.close()
    latencies = sorted(poller.seen[s] - t for s, t in delivered.items() if s in poller.seen)
    missing = deliveries - len(latencies)
    if not latencies:
        raise RuntimeError(f"push benchmark ({label}): no delivered message became visible")
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 20 else latencies[-1]
    note = (
        f"{deliveries} deliveries at {rate:g}/s, {pushes} pushes, poll every "
        f"{POLL_SECONDS * 1000:.0f} ms, {missing} never visible, load average {load:.1f}"
    )
    target = f"<= {TARGET_P95_S:g} s" if embedded else "n/a"
    return [
        BenchResult(
            f"push to timeline, p50 ({label})", statistics.median(latencies), "s", "n/a", None, note
        ),
        BenchResult(
            f"push to timeline, p95 ({label})",
            p95,
            "s",
            target,
            (p95 <= TARGET_P95_S and missing == 0) if embedded else None,
            note,
        ),
        BenchResult(f"push to timeline, max ({label})", latencies[-1], "s", "n/a", None, note),
    ]


def push_results(deliveries: int = 100, rate: float = 4.0, workers: int = 2) -> list[BenchResult]:
    common = {
        "environment": "test",
        "push_audience": AUDIENCE,
        "poll_interval_seconds": 86_400,
        "log_level": "WARNING",
    }
    results: list[BenchResult] = []
    with temporary_dir() as data_dir:
        settings = {**common, "data_dir": data_dir, "database_url": "", "tenant_database_url": ""}
        results += _run("embedded: SQLite, in-process worker", settings, True, deliveries, rate, 0)
    if postgres_available():
        with temporary_dir() as data_dir, postgres_run("push") as run:
            settings = {
                **common,
                "data_dir": data_dir,
                "database_url": run.control_url,
                "tenant_database_url": run.tenant_url_template,
                "broker_url": REDIS_URL,
                "redis_url": REDIS_URL,
                "quota_key_prefix": f"inboxcrm-bench-{secrets.token_hex(3)}:quota",
                # Its own queues: another deployment may share the broker (a parallel test).
                "job_key_prefix": f"inboxcrm-bench-{secrets.token_hex(3)}:",
                "tenant_connections_total": 6,
            }
            label = f"Celery on Redis, PostgreSQL, 1 worker process x {workers}"
            results += _run(label, settings, False, deliveries, rate, workers)
    return results
