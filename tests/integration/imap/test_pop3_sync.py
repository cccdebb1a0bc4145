"""POP3 sync against a real Dovecot: UIDL checkpoints (a second run reads nothing, new mail is
picked up), matched and threaded like IMAP mail, and the mail stays on the server."""

from __future__ import annotations

from sqlalchemy import func, select

from inboxcrm.adapters.db.mailbox_folder_tables import Pop3SeenRow
from tests.integration.imap.conftest import CUSTOMER, MailServerRoom, mail


def _seen(room: MailServerRoom) -> int:
    with room.runtime.tenant_uow(room.tenant) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(Pop3SeenRow)
                .where(Pop3SeenRow.mail_account_id == room.account_id)
            )
            or 0
        )


def test_pop3_sync_uses_uidl_checkpoints_and_leaves_mail_on_the_server(
    room: MailServerRoom,
) -> None:
    room.append(
        "INBOX", mail(CUSTOMER, room.address, "Termin", message_id="<t-1@customer.example>")
    )
    room.append("INBOX", mail("other@elsewhere.example", room.address, "Newsletter"))
    account = room.connect(protocol="pop3", port=room.dovecot.pop3s_port, security="implicit_tls")
    assert account["provider"] == "pop3"

    first = room.sync()
    assert (first.listed, first.stored, first.skipped) == (2, 1, 1)
    assert [i["message_id_header"] for i in room.timeline()] == ["<t-1@customer.example>"]
    assert _seen(room) == 2

    second = room.sync()
    assert second.listed == 0 and len(room.timeline()) == 1

    room.append(
        "INBOX",
        mail(
            CUSTOMER,
            room.address,
            "Re: Termin",
            message_id="<t-2@customer.example>",
            references=["<t-1@customer.example>"],
            minute=3,
        ),
    )
    third = room.sync()
    assert (third.listed, third.stored) == (1, 1)
    items = room.timeline()
    assert len(items) == 2 and len({i["thread_id"] for i in items}) == 1

    assert len(room.dovecot.messages(room.address, "INBOX")) == 3  # nothing deleted


def test_pop3_over_starttls(room: MailServerRoom) -> None:
    room.append("INBOX", mail(CUSTOMER, room.address, "Hallo"))
    room.connect(protocol="pop3", port=room.dovecot.pop3_port, security="starttls")
    assert room.sync().stored == 1
