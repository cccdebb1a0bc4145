"""IMAP IDLE: with the watcher running, mail a client appends reaches the timeline within seconds
(no poll involved); stopping an account's connection ends its loop."""

from __future__ import annotations

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.services.mail_server_watch import MailServerWatcher
from inboxcrm.services.mail_sync import sync_account
from tests.integration.imap.conftest import CUSTOMER, TENANT, MailServerRoom, mail, wait_for


def test_idle_brings_new_mail_to_the_timeline_within_seconds(room: MailServerRoom) -> None:
    room.connect()
    room.sync()
    assert room.timeline() == []
    changes: list[int] = []

    def on_change(tenant: str, account_id: int) -> None:
        changes.append(account_id)
        sync_account(room.runtime, tenant, account_id)

    watcher = MailServerWatcher(room.runtime, on_change=on_change, rescan_seconds=0.5)
    watcher.start()
    try:
        wait_for(lambda: (TENANT, room.account_id) in watcher.idling, what="IDLE to start")
        before = len(changes)
        room.append(
            "INBOX", mail(CUSTOMER, room.address, "Eilig", message_id="<idle-1@customer.example>")
        )
        items = wait_for(
            lambda: [
                i for i in room.timeline() if i["message_id_header"] == "<idle-1@customer.example>"
            ],
            what="the new mail on the timeline",
        )
        assert len(items) == 1
        assert len(changes) > before  # the server's IDLE notice triggered the sync

        # An account that stops being connected loses its IDLE loop at the next rescan.
        with room.runtime.tenant_uow(room.tenant) as uow:
            row = uow.session.get(MailAccountRow, room.account_id)
            assert row is not None
            row.status = "refused"
            uow.commit()
        assert (TENANT, room.account_id) in watcher.watching()
        wait_for(
            lambda: (TENANT, room.account_id) not in watcher.watching(), what="the loop to end"
        )
    finally:
        watcher.stop()


def test_the_periodic_poll_serves_imap_accounts_too(room: MailServerRoom) -> None:
    """The fallback for servers without IDLE (and for any IDLE notice lost)."""
    from inboxcrm.services.mail_sync import queue_polls
    from tests.fixtures.runtime import RecordedJobs

    room.connect()
    room.sync()
    jobs = room.runtime.jobs
    assert isinstance(jobs, RecordedJobs)
    jobs.queued.clear()
    assert queue_polls(room.runtime, everything=True) >= 1
    assert (
        "inboxcrm.mail.sync_account",
        {"tenant": TENANT, "account_id": room.account_id, "full": False},
    ) in jobs.queued
    room.append("INBOX", mail(CUSTOMER, room.address, "Per Poll"))
    assert room.sync().stored == 1  # what the queued job runs
