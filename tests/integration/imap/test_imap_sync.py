"""IMAP sync against a real Dovecot: mail a real IMAP client appended to INBOX and Sent is synced,
matched and threaded exactly once; a UIDVALIDITY change resyncs with no duplicates; the
checkpoint makes a second run read nothing; mail with nobody of the CRM is never stored."""

from __future__ import annotations

from sqlalchemy import func, select

from inboxcrm.adapters.db.mailbox_folder_tables import MailFolderCheckpointRow
from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailLedgerRow
from tests.fixtures.web import TenantFactory
from tests.integration.imap.conftest import CUSTOMER, MailServerRoom, mail, make_room


def _stored_count(room: MailServerRoom) -> int:
    with room.runtime.tenant_uow(room.tenant) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(EmailMessageRow)
                .where(EmailMessageRow.mail_account_id == room.account_id)
            )
            or 0
        )


def test_inbox_and_sent_are_synced_matched_and_threaded_once(room: MailServerRoom) -> None:
    first = mail(CUSTOMER, room.address, "Angebot Q3", message_id="<q3-1@customer.example>")
    reply = mail(
        room.address,
        CUSTOMER,
        "Re: Angebot Q3",
        message_id="<q3-2@mail.test>",
        references=["<q3-1@customer.example>"],
        minute=5,
    )
    follow_up = mail(
        CUSTOMER,
        room.address,
        "Re: Angebot Q3",
        message_id="<q3-3@customer.example>",
        references=["<q3-1@customer.example>", "<q3-2@mail.test>"],
        minute=9,
    )
    stranger = mail("someone@elsewhere.example", room.address, "Unrelated")
    room.append("INBOX", first)
    room.append("Sent", reply)
    room.append("INBOX", follow_up)
    room.append("INBOX", stranger)
    # The same reply also filed in INBOX (a client that keeps a copy there): still one message.
    room.append("INBOX", reply)

    account = room.connect()
    assert account["provider"] == "imap" and account["status"] == "connected"
    report = room.sync()
    assert report.mode == "full"

    items = room.timeline()
    assert sorted(i["message_id_header"] for i in items) == [
        "<q3-1@customer.example>",
        "<q3-2@mail.test>",
        "<q3-3@customer.example>",
    ]
    assert len({i["thread_id"] for i in items}) == 1  # one thread, by References
    directions = {i["message_id_header"]: i["direction"] for i in items}
    assert directions["<q3-2@mail.test>"] == "outbound"
    assert directions["<q3-1@customer.example>"] == "inbound"
    assert _stored_count(room) == 3  # the stranger's mail is not stored

    # A second run finds the checkpoints unchanged and adds nothing.
    again = room.sync()
    assert again.listed == 0
    assert len(room.timeline()) == 3 and _stored_count(room) == 3

    # New mail in the thread is picked up incrementally and joins the same thread.
    room.append(
        "INBOX",
        mail(
            CUSTOMER,
            room.address,
            "Re: Angebot Q3",
            message_id="<q3-4@customer.example>",
            references=["<q3-1@customer.example>", "<q3-3@customer.example>"],
            minute=20,
        ),
    )
    third = room.sync()
    assert third.mode == "incremental" and third.stored == 1
    items = room.timeline()
    assert len(items) == 4 and len({i["thread_id"] for i in items}) == 1

    listing = room.client.get("/api/v1/mail-accounts", headers=room.member.headers).json()
    shown = next(a for a in listing["items"] if a["id"] == room.account_id)
    assert shown["provider"] == "imap" and shown["sync_state"] == "synced"
    assert shown["messages_stored"] == 4


def test_a_uidvalidity_change_resyncs_the_folder_without_duplicates(room: MailServerRoom) -> None:
    for n in range(3):
        room.append("INBOX", mail(CUSTOMER, room.address, f"Frage {n}", minute=n))
    room.connect()
    room.sync()
    assert len(room.timeline()) == 3
    with room.runtime.tenant_uow(room.tenant) as uow:
        before = uow.session.scalar(
            select(MailFolderCheckpointRow.uidvalidity).where(
                MailFolderCheckpointRow.mail_account_id == room.account_id,
                MailFolderCheckpointRow.folder == "INBOX",
            )
        )
    new_validity = int(before or 0) + 1000
    room.dovecot.rebuild_folder(room.address, "INBOX", new_validity)
    assert room.dovecot.uidvalidity(room.address, "INBOX") == new_validity
    room.append("INBOX", mail(CUSTOMER, room.address, "Frage 3", minute=30))

    report = room.sync()

    assert report.resynced
    assert report.stored == 4  # every message read again ...
    assert len(room.timeline()) == 4  # ... and on the timeline once each
    assert _stored_count(room) == 4
    with room.runtime.tenant_uow(room.tenant) as uow:
        after = uow.session.scalar(
            select(MailFolderCheckpointRow.uidvalidity).where(
                MailFolderCheckpointRow.mail_account_id == room.account_id,
                MailFolderCheckpointRow.folder == "INBOX",
            )
        )
        ledger_rows = uow.session.scalar(
            select(func.count())
            .select_from(MailLedgerRow)
            .where(MailLedgerRow.mail_account_id == room.account_id)
        )
    assert after == new_validity
    assert ledger_rows == 4


def test_an_address_a_record_gains_is_back_filled_from_the_mailbox(room: MailServerRoom) -> None:
    from inboxcrm.adapters.db.tenant_tables import RecordEmailRow
    from inboxcrm.services.mail_sync import backfill_addresses

    late = "einkauf@customer.example"
    room.append(
        "INBOX", mail(late, room.address, "Bestellung", message_id="<late-1@customer.example>")
    )
    room.append("Sent", mail(room.address, late, "Re: Bestellung", minute=4))
    room.connect()
    room.sync()
    assert room.timeline() == []  # nobody of the CRM yet

    with room.runtime.tenant_uow(room.tenant) as uow:
        uow.session.add(
            RecordEmailRow(record_kind="contact", record_id=room.contact_id, email=late)
        )
        uow.commit()
    (report,) = backfill_addresses(room.runtime, room.tenant, [late])

    assert report.status == "ok" and report.stored == 2
    assert len(room.timeline()) == 2


def test_the_same_email_in_a_colleagues_imap_mailbox_is_one_timeline_entry(
    room: MailServerRoom, tenants: TenantFactory
) -> None:
    raw = mail(CUSTOMER, room.address, "An alle", message_id="<both@customer.example>")
    room.append("INBOX", raw)
    room.connect()
    room.sync()
    colleague = make_room(
        room.runtime,
        room.client,
        room.dovecot,
        tenants,
        None,
        member_email="colleague@acme.example.com",
        contact_id=room.contact_id,
    )
    colleague.append("INBOX", raw)
    colleague.connect()
    colleague.sync()

    items = room.timeline()
    assert [i["message_id_header"] for i in items] == ["<both@customer.example>"]
    with room.runtime.tenant_uow(room.tenant) as uow:
        copies = uow.session.scalar(
            select(func.count())
            .select_from(EmailMessageRow)
            .where(EmailMessageRow.message_id_header == "<both@customer.example>")
        )
    assert copies == 2  # each mailbox keeps its copy (its owner's sharing applies to it)


def test_the_ledger_page_of_an_imap_account_speaks_of_the_mail_server(
    room: MailServerRoom,
) -> None:
    from tests.integration.ui.ui_session import sign_in

    room.append("INBOX", mail(CUSTOMER, room.address, "Ledger"))
    room.append("INBOX", mail("someone@elsewhere.example", room.address, "Noise"))
    room.connect()
    room.sync()
    sign_in(room.client, room.member)
    page = room.client.get(f"/setup/email/{room.account_id}/ledger")
    assert page.status_code == 200
    assert "every message the mail server reported in scope" in page.text
    assert "label in Gmail" not in page.text
