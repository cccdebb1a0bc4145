"""Sending from an IMAP account through the same ``/api/v1/messages`` path: the reply goes out by
SMTP (STARTTLS + AUTH) with In-Reply-To/References, a copy is appended to the IMAP Sent folder,
and it is on the timeline exactly once, also after the sync has read that copy."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow
from tests.integration.imap.conftest import CUSTOMER, MailServerRoom, mail


def _parsed(raw: bytes) -> object:
    return message_from_bytes(raw, policy=policy.default)


def test_a_reply_sent_by_smtp_has_reply_headers_is_filed_in_sent_and_is_on_the_timeline_once(
    smtp_room: MailServerRoom,
) -> None:
    room = smtp_room
    assert room.smtp is not None
    room.append(
        "INBOX", mail(CUSTOMER, room.address, "Lieferung", message_id="<ask-1@customer.example>")
    )
    room.connect()
    room.sync()
    (inbound,) = room.timeline()
    already = len(room.smtp.received)

    response = room.client.post(
        "/api/v1/messages",
        json={
            "mail_account_id": room.account_id,
            "to": [CUSTOMER],
            "subject": "",
            "body_text": "Kommt morgen. https://example.org/tracking",
            "reply_to_message_id": inbound["provider_message_id"],
            "record": {"type": "contact", "id": room.contact_id},
            "track": True,
        },
        headers=room.member.headers,
    )

    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "sent", sent
    assert sent["thread_id"] == inbound["thread_id"]

    # Delivered by SMTP, authenticated as the mailbox, with the reply headers.
    envelopes = room.smtp.received[already:]
    assert len(envelopes) == 1
    envelope = envelopes[0]
    assert envelope.login == room.address
    assert envelope.rcpt_tos == [CUSTOMER]
    delivered = message_from_bytes(envelope.content, policy=policy.default)
    assert delivered["Message-ID"] == sent["message_id_header"]
    assert delivered["In-Reply-To"] == "<ask-1@customer.example>"
    assert "<ask-1@customer.example>" in str(delivered["References"])
    assert str(delivered["Subject"]) == "Re: Lieferung"
    assert delivered["From"].addresses[0].addr_spec == room.address
    html = delivered.get_body(preferencelist=("html",))
    assert html is not None and "/t/o/" in html.get_content()  # the open pixel, as for Gmail
    assert "/t/c/" in html.get_content()

    # A copy in the IMAP Sent folder.
    sent_copies = [
        m
        for m in room.dovecot.messages(room.address, "Sent")
        if message_from_bytes(m)["Message-ID"] == sent["message_id_header"]
    ]
    assert len(sent_copies) == 1

    def on_timeline() -> list[dict[str, object]]:
        return [i for i in room.timeline() if i["message_id_header"] == sent["message_id_header"]]

    assert len(on_timeline()) == 1
    room.sync()  # reads the Sent copy: the same stable id, nothing added
    items = on_timeline()
    assert len(items) == 1
    assert items[0]["direction"] == "outbound"
    assert items[0]["thread_id"] == inbound["thread_id"]
    with room.runtime.tenant_uow(room.tenant) as uow:
        copies = uow.session.scalar(
            select(func.count())
            .select_from(EmailMessageRow)
            .where(EmailMessageRow.message_id_header == sent["message_id_header"])
        )
    assert copies == 1


def test_an_account_without_smtp_cannot_send(room: MailServerRoom) -> None:
    room.connect()
    response = room.client.post(
        "/api/v1/messages",
        json={
            "mail_account_id": room.account_id,
            "to": [CUSTOMER],
            "subject": "Hallo",
            "body_text": "Hi",
            "record": {"type": "contact", "id": room.contact_id},
        },
        headers=room.member.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "mail_account_id"


def test_sending_over_implicit_tls_smtp(room: MailServerRoom) -> None:
    from tests.fixtures.mail_servers import start_smtp

    smtps = start_smtp(room.dovecot, implicit_tls=True)
    try:
        room.connect(smtp_host="127.0.0.1", smtp_port=smtps.port, smtp_security="implicit_tls")
        response = room.client.post(
            "/api/v1/messages",
            json={
                "mail_account_id": room.account_id,
                "to": [CUSTOMER],
                "subject": "Über TLS",
                "body_text": "Hallo",
                "record": {"type": "contact", "id": room.contact_id},
            },
            headers=room.member.headers,
        )
        assert response.status_code == 201 and response.json()["status"] == "sent"
        (envelope,) = smtps.received
        assert envelope.login == room.address and envelope.rcpt_tos == [CUSTOMER]
    finally:
        smtps.stop()
