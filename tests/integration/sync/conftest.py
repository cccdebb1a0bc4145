"""Sync integration tests run against the Google API emulator.

- ``settings`` (overridden): every Google endpoint on the emulator, no local quota gate (tests
  that exercise the quota configure the emulator's own quota instead).
- :func:`celery_worker` runs a real Celery worker (solo pool, in a thread of the test process)
  on a broker, consuming unique queue names, with the test's runtime installed as the worker
  runtime. Tasks therefore run exactly the production code path: broker → task → service.
- :func:`customer_mail` builds a small RFC 5322 message.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.mail_accounts.conftest import GmailConnector

T = TypeVar("T")
_n = itertools.count(1)


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """The runtime's settings with Google's endpoints on the emulator and no local quota gate."""
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
        }
    )


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Iterator[GmailConnector]:
    """Connects Gmail through the API and the emulator's consent form (the real OAuth flow)."""
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@contextmanager
def celery_worker(settings: Settings, runtime: Runtime, key_prefix: str) -> Iterator[Any]:
    """A Celery worker thread for ``settings``' broker, running tasks with ``runtime``."""
    from celery.contrib.testing.worker import start_worker

    import inboxcrm.jobs.mail_tasks  # noqa: F401  (registers the mail tasks)
    from inboxcrm.jobs.celery_app import create_celery, queue_names
    from inboxcrm.jobs.worker_runtime import use_worker_runtime

    app = create_celery(settings, key_prefix=key_prefix)
    previous = use_worker_runtime(runtime)
    try:
        with start_worker(
            app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=60.0,
            queues=queue_names(key_prefix=key_prefix),
        ):
            yield app
    finally:
        use_worker_runtime(previous)


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 90.0, interval: float = 0.1, what: str = ""
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` (a liveness bound,
    not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what or probe!r} after {timeout:.0f} s")
        time.sleep(interval)


def customer_mail(
    sender: str,
    to: str,
    subject: str = "Hello",
    *,
    cc: str = "",
    headers: tuple[str, ...] = (),
    body: str = "",
) -> bytes:
    n = next(_n)
    lines = [
        f"From: {sender}",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        f"Subject: {subject}",
        f"Message-ID: <sync{n}.{uuid.uuid4().hex[:8]}@test.example>",
        "Date: Mon, 3 Nov 2025 10:00:00 +0000",
        *headers,
        "Content-Type: text/plain; charset=utf-8",
        "",
        body or f"Message body number {n}",
    ]
    return "\r\n".join(lines).encode()


def celery_runtime(settings: Settings, key_prefix: str) -> Runtime:
    """A migrated Runtime whose jobs go to the Celery broker of ``settings`` (queues prefixed)."""
    import inboxcrm.jobs.mail_tasks  # noqa: F401  (registers the mail tasks)
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.jobs.celery_app import create_celery
    from inboxcrm.jobs.queue import CeleryJobQueue

    runtime = build_runtime(
        settings, jobs=CeleryJobQueue(create_celery(settings, key_prefix=key_prefix))
    )
    runtime.upgrade_control_plane()
    return runtime


def add_customer_contacts(
    runtime: Runtime, tenant: str, emulator: EmulatorHandle, owner: str
) -> int:
    """A CRM contact for each customer correspondent the emulator generated; returns how many."""
    from tests.factories import make_contact

    customers = sorted(
        {c["email"].lower() for c in emulator.correspondents(owner) if c["customer"]}
    )
    with runtime.tenant_uow(tenant) as uow:
        for address in customers:
            make_contact(uow, emails=[address])
    return len(customers)


StoredMail = dict[str, tuple[tuple[str, str], ...]]


def stored_mail(runtime: Runtime, tenant: str) -> StoredMail:
    """Each stored message (provider id) with its timeline links as (reason, detail) pairs.

    Fails the test on a duplicate message or a duplicate timeline entry.
    """
    from sqlalchemy import select

    from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow

    with runtime.tenant_uow(tenant) as uow:
        messages = uow.session.execute(
            select(EmailMessageRow.message_key_id.label("id"), EmailMessageRow.provider_message_id)
        ).all()
        links = uow.session.execute(
            select(
                ActivityRow.ref_id,
                ActivityRow.record_kind,
                ActivityRow.record_id,
                ActivityRow.match_reason,
                ActivityRow.match_detail,
            ).where(ActivityRow.kind == "email")
        ).all()
    provider_ids = [m.provider_message_id for m in messages]
    assert len(provider_ids) == len(set(provider_ids)), "a message was stored twice"
    keys = [(lnk.ref_id, lnk.record_kind, lnk.record_id) for lnk in links]
    assert len(keys) == len(set(keys)), "a message is on a timeline twice"
    by_row: dict[int, list[tuple[str, str]]] = {}
    for lnk in links:
        by_row.setdefault(lnk.ref_id, []).append((lnk.match_reason or "", lnk.match_detail or ""))
    assert set(by_row) <= {m.id for m in messages}, "a timeline entry points at no message"
    return {m.provider_message_id: tuple(sorted(by_row.get(m.id, []))) for m in messages}


def emulator_mailbox(emulator: EmulatorHandle, owner: str, **options: Any) -> Any:
    """The real Gmail client on ``owner``'s emulated mailbox (fast retries unless told)."""
    from inboxcrm.providers.gmail.client import GmailMailbox

    options.setdefault("backoff_base", 0.02)
    options.setdefault("backoff_cap", 0.5)
    options.setdefault("attempts", 8)
    return GmailMailbox(emulator.credentials(owner), api_base=emulator.url, **options)
