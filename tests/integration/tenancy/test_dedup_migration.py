"""Migration 0411 on existing mail: colleagues' copies of one email merge into one entry."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from inboxcrm.adapters.db import migrator
from inboxcrm.config import Settings


def _empty_tenant_database(settings: Settings) -> sa.Engine:
    url = make_url(settings.tenant_database_url.format(tenant="migcheck"))
    if url.get_backend_name() == "postgresql":  # (the fixture drops it after the test)
        admin = sa.create_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    else:
        settings.data_dir.joinpath("tenants").mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, poolclass=NullPool)


def test_existing_duplicate_entries_merge_into_one_per_record(settings: Settings) -> None:
    engine = _empty_tenant_database(settings)
    try:
        migrator.upgrade(engine, "tenant", "0301")
        sent = datetime(2025, 3, 1, 9, 0, tzinfo=UTC).isoformat()
        with engine.begin() as conn:
            for account_id, email in ((1, "alice@acme.example"), (2, "bob@acme.example")):
                conn.execute(
                    sa.text(
                        "INSERT INTO mail_accounts (id, user_id, provider, email, display_name,"
                        " status, scopes, sync_phase, sync_progress, settings, created_at)"
                        " VALUES (:id, :id, 'gmail', :email, '', 'connected', '[]', 'idle',"
                        " '{}', '{}', :now)"
                    ),
                    {"id": account_id, "email": email, "now": sent},
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO email_threads (id, mail_account_id, provider_thread_id,"
                        " subject) VALUES (:id, :id, 't', 'Renewal')"
                    ),
                    {"id": account_id},
                )
            rows = [  # (message id, account, Message-ID header)
                (10, 1, "<renewal@customer.example>"),
                (20, 2, "<Renewal@customer.example>"),
                (30, 2, "<other@customer.example>"),
            ]
            for message_id, account_id, header in rows:
                conn.execute(
                    sa.text(
                        "INSERT INTO email_messages (id, mail_account_id, thread_id,"
                        " provider_message_id, message_id_header, \"references\", from_address,"
                        " to_addresses, cc_addresses, bcc_addresses, subject, sent_at, direction,"
                        " snippet, labels, size_estimate, created_at) VALUES (:id, :acc, :acc,"
                        " :pid, :header, '[]', 'carol@customer.example', '[]', '[]', '[]',"
                        " 'Renewal', :sent, 'inbound', '', '[]', 0, :sent)"
                    ),
                    {"id": message_id, "acc": account_id, "pid": f"p{message_id}",
                     "header": header, "sent": sent},
                )  # fmt: skip
            for activity_id, record, ref in ((1, 5, 10), (2, 5, 20), (3, 6, 20), (4, 5, 30),
                                              (5, 5, 99)):  # fmt: skip
                conn.execute(
                    sa.text(
                        "INSERT INTO activities (id, record_kind, record_id, kind, ref_id,"
                        " occurred_at, summary, created_at) VALUES (:id, 'contact', :record,"
                        " 'email', :ref, :sent, 'Renewal', :sent)"
                    ),
                    {"id": activity_id, "record": record, "ref": ref, "sent": sent},
                )
        migrator.upgrade(engine, "tenant", "0411")
        with engine.connect() as conn:
            keys = dict(
                conn.execute(sa.text("SELECT id, message_key_id FROM email_messages")).all()
            )
            entries = conn.execute(
                sa.text("SELECT id, record_id, ref_id FROM activities ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert keys[10] == keys[20] != keys[30]
    # Entry 2 (Bob's copy on record 5) merged into entry 1; record 6 keeps its entry; the
    # entry whose message was gone (ref 99) is dropped.
    assert [tuple(e) for e in entries] == [(1, 5, keys[10]), (3, 6, keys[10]), (4, 5, keys[30])]
