"""Timeline page latency: 50-item pages of a contact with 10,000 messages, through the HTTP API."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
)
from inboxcrm.benchmarks.bench_env import load_average
from inboxcrm.benchmarks.results import BenchResult
from inboxcrm.bootstrap import build_runtime
from inboxcrm.config import Settings
from inboxcrm.domain.roles import Role
from inboxcrm.services.identity import Principal, create_api_token, create_user
from inboxcrm.services.records import ContactCreate, create_contact
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.message_keys import claim_message_keys, dedup_key_of
from inboxcrm.web.app import create_app

TENANT = "timeline-bench"


class _NoJobs:
    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        return None


def _fill(uow: Any, contact_id: int, messages: int) -> None:
    session = uow.session
    account = MailAccountRow(user_id=1, provider="gmail", email="rep@bench.example")
    session.add(account)
    session.flush()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    threads = [
        {"mail_account_id": account.id, "provider_thread_id": f"t{i}", "subject": f"Thread {i}"}
        for i in range(messages // 5)
    ]
    session.execute(insert(EmailThreadRow), threads)
    thread_ids = [row.id for row in session.query(EmailThreadRow.id).order_by(EmailThreadRow.id)]
    rows = [
        {
            "mail_account_id": account.id,
            "thread_id": thread_ids[i // 5],
            "provider_message_id": f"m{i:08d}",
            "message_id_header": f"<m{i}@bench.example>",
            "from_address": "customer@bench.example",
            "to_addresses": ["rep@bench.example"],
            "subject": f"Message {i}",
            "sent_at": start + timedelta(minutes=i),
            "direction": "inbound" if i % 2 else "outbound",
            "snippet": "Hello, a short preview of the body of this message",
            "body_text": "Hello\n" * 40,
        }
        for i in range(messages)
    ]
    key_ids = claim_message_keys(session, [dedup_key_of(row) for row in rows])
    for row in rows:
        row["message_key_id"] = key_ids[dedup_key_of(row)]
    session.execute(insert(EmailMessageRow), rows)
    ids = [
        row.message_key_id
        for row in session.query(EmailMessageRow.message_key_id).order_by(EmailMessageRow.id)
    ]
    session.execute(
        insert(ActivityRow),
        [
            {
                "record_kind": "contact",
                "record_id": contact_id,
                "kind": "email",
                "ref_id": message_id,
                "occurred_at": start + timedelta(minutes=i),
                "summary": f"Message {i}",
                "match_reason": "address",
                "match_detail": "customer@bench.example",
            }
            for i, message_id in enumerate(ids)
        ],
    )
    uow.commit()


def timeline_results(messages: int = 10_000, pages: int = 300) -> list[BenchResult]:
    with tempfile.TemporaryDirectory() as data_dir:
        runtime = build_runtime(
            Settings(
                environment="test", data_dir=data_dir, database_url="", tenant_database_url=""
            ),
            jobs=_NoJobs(),
        )
        runtime.upgrade_control_plane()
        create_tenant(runtime, TENANT)
        user = create_user(
            runtime,
            tenant_slug=TENANT,
            email="rep@bench.example",
            password="bench-pass",
            role="rep",
        )
        principal = Principal(user.id, user.email, "", 1, TENANT, Role.REP, "token")
        with runtime.tenant_uow(TENANT) as uow:
            contact = create_contact(
                uow, principal, ContactCreate(last_name="Busy", emails=["customer@bench.example"])
            )
        with runtime.tenant_uow(TENANT) as uow:
            _fill(uow, contact.id, messages)
        token = create_api_token(runtime, tenant_slug=TENANT, email=user.email)
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/contacts/{contact.id}/timeline?limit=50"
        timings: list[float] = []
        cpu: list[float] = []
        load = load_average()
        with TestClient(create_app(runtime)) as client:
            client.get(url, headers=headers)  # warm caches and statements
            cursor: str | None = None
            for _ in range(pages):
                page_url = url + (f"&cursor={cursor}" if cursor else "")
                cpu_before = time.process_time()
                started = time.perf_counter()
                response = client.get(page_url, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_before) * 1000)
                response.raise_for_status()
                body = response.json()
                if len(body["items"]) != 50 and body["next_cursor"]:
                    raise RuntimeError("a timeline page came back short")
                cursor = body["next_cursor"]
        runtime.close()
        load = max(load, load_average())
    p95 = statistics.quantiles(timings, n=20)[18]
    cpu_p95 = statistics.quantiles(cpu, n=20)[18]
    size = f"{messages // 1000}k" if messages >= 1000 else str(messages)
    return [
        BenchResult(
            f"timeline page of 50 items, p95 ({size}-message record, HTTP API)",
            p95,
            "ms",
            "<= 30 ms",
            p95 <= 30,
            f"{len(timings)} pages, median {statistics.median(timings):.1f} ms, "
            f"load average {load:.1f}",
        ),
        BenchResult(
            f"timeline page of 50 items, CPU time per request, p95 ({size}-message record)",
            cpu_p95,
            "ms",
            "<= 30 ms",
            cpu_p95 <= 30,
            f"median {statistics.median(cpu):.1f} ms; the app process (SQLite in it), what one "
            "core spends whatever else loads the machine",
        ),
    ]
