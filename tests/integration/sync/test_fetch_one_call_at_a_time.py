"""The fetch phase uses the mailbox client one call at a time: a batch's large messages
(format=full, alone) are never fetched while the next batch's fetch-ahead is in flight. The
client's HTTP connection, batch size and pace are not shared between threads; overlapping
calls garbled answers and lost a message now and then."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import add_customer_contacts, emulator_mailbox

OWNER = "rep@overlap-sales.example"
HOLD_SECONDS = 3.0
"""How long a fetch-ahead waits for another call to start (a bound, never a result)."""


class _OverlapWatch:
    """The real Gmail client; counts ``fetch_messages`` and ``fetch_threads`` calls running at
    the same time.

    The first few fetch-ahead calls wait (up to :data:`HOLD_SECONDS`) for another call to
    begin, so that an overlap the engine allows shows up on every run."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._running = 0
        self._holds = 3
        self._other_started = threading.Event()
        self.overlaps = 0
        self.calls = 0
        self.bigger: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fetch_messages(self, ids: Sequence[str], **options: Any) -> Any:
        if options.get("fmt") == "full":
            self.bigger.update(ids)  # medium and large messages, fetched without attachments
        return self._counted(self._inner.fetch_messages, ids, **options)

    def fetch_threads(self, ids: Sequence[str], **options: Any) -> Any:
        return self._counted(self._inner.fetch_threads, ids, **options)

    def _counted(self, fetch: Any, ids: Sequence[str], **options: Any) -> Any:
        ahead = threading.current_thread().name.startswith("mail-fetch")
        with self._lock:
            self._running += 1
            self.calls += 1
            if self._running > 1:
                self.overlaps += 1
            hold = ahead and self._holds > 0
            if hold:
                self._holds -= 1
                self._other_started.clear()
            elif not ahead:
                self._other_started.set()
        try:
            if hold:
                self._other_started.wait(HOLD_SECONDS)
            return fetch(ids, **options)
        finally:
            with self._lock:
                self._running -= 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_large_messages_are_not_fetched_while_the_next_batch_is(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 400, seed=11, customer_fraction=0.6, huge=3)
    create_tenant(runtime, "acme")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    with runtime.tenant_uow("acme") as uow:
        account_id = make_mail_account(uow, email=OWNER, status="connected").id
    watch = _OverlapWatch(emulator_mailbox(emulator, OWNER))

    report = sync_account(runtime, "acme", account_id, full=True, mailbox=watch)

    assert report.status == "ok", report
    large = watch.bigger
    assert large, "the mailbox has large messages fetched alone"
    assert watch.calls > len(large) + 1
    assert watch.overlaps == 0
    with runtime.tenant_uow("acme") as uow:
        stored = set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))
    assert large <= stored
