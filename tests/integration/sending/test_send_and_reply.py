"""Sending through the emulator with the real Gmail client: replies land in the Gmail thread with
rebuilt In-Reply-To/References and intact non-ASCII headers, appear once on the timeline (also
after the next sync), new messages start new threads, failures are kept and retried once."""

from __future__ import annotations

from email.utils import getaddresses

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.dedup_tables import EmailMessageKeyRow
from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow
from inboxcrm.sync.message_keys import dedup_key_of
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail

SUBJECT = "Angebot für Q3 — Grüße aus Köln"


def _email_items(room: Mailroom, provider_id: str) -> list[dict[str, object]]:
    return [
        i
        for i in room.timeline()
        if i["kind"] == "email" and i["provider_message_id"] == provider_id
    ]


def test_reply_lands_in_the_gmail_thread_and_once_on_the_timeline(mailroom: Mailroom) -> None:
    inbound = mailroom.deliver(
        customer_mail(
            f"Jörg Müller <{CUSTOMER}>",
            OWNER,
            SUBJECT,
            message_id="<first@kunde.example>",
        )
    )
    mailroom.sync()

    response = mailroom.send(
        to=[f"Jörg Müller <{CUSTOMER}>"],
        subject="",
        body_text="Danke, Jörg! Hier ist das Angebot.",
        reply_to_message_id=inbound["id"],
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "sent" and sent["error"] is None
    assert sent["thread_id"] == inbound["threadId"]

    raw = mailroom.raw_of(sent["provider_message_id"])
    assert str(raw["Subject"]) == f"Re: {SUBJECT}"
    assert raw["In-Reply-To"] == "<first@kunde.example>"
    assert "<first@kunde.example>" in raw["References"]
    assert getaddresses([str(raw["To"])]) == [("Jörg Müller", CUSTOMER)]
    assert raw["Message-ID"] == sent["message_id_header"]
    assert (
        mailroom.gmail_message(sent["provider_message_id"], "minimal")["threadId"]
        == (inbound["threadId"])
    )

    # On the timeline at once, and still once after the sync has seen the Sent copy.
    assert len(_email_items(mailroom, sent["provider_message_id"])) == 1
    mailroom.sync()
    items = _email_items(mailroom, sent["provider_message_id"])
    assert len(items) == 1
    assert items[0]["thread_id"] == inbound["threadId"]
    assert items[0]["direction"] == "outbound"
    with mailroom.runtime.tenant_uow("acme") as uow:
        copies = uow.session.scalar(
            select(func.count())
            .select_from(EmailMessageRow)
            .where(EmailMessageRow.provider_message_id == sent["provider_message_id"])
        )
    assert copies == 1


def test_reply_subject_gets_one_prefix_and_a_second_reply_references_the_chain(
    mailroom: Mailroom,
) -> None:
    inbound = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Re: RE: Pricing"))
    mailroom.sync()
    first = mailroom.send(subject="Re: Re: Pricing", reply_to_message_id=inbound["id"]).json()
    assert first["subject"] == "Re: Pricing"
    second = mailroom.send(reply_to_message_id=first["provider_message_id"], subject="").json()
    assert second["status"] == "sent"
    assert second["thread_id"] == inbound["threadId"]
    raw = mailroom.raw_of(second["provider_message_id"])
    assert raw["In-Reply-To"] == first["message_id_header"]
    assert first["message_id_header"] in raw["References"]


def test_the_sent_copys_timeline_entry_points_at_its_message_identity(
    mailroom: Mailroom,
) -> None:
    """An ``email`` entry names the tenant-wide identity, so colleagues' copies of the sent
    message (same Message-ID and sender) reconcile with it as one entry."""
    with mailroom.runtime.tenant_uow("acme") as uow:
        for n in range(3):  # identity ids run ahead of copy ids
            uow.session.add(EmailMessageKeyRow(dedup_key=f"unrelated-{n:054d}"))
        uow.commit()
    sent = mailroom.send(subject="Identity").json()
    assert sent["status"] == "sent"
    with mailroom.runtime.tenant_uow("acme") as uow:
        copy = uow.session.scalars(
            select(EmailMessageRow).where(
                EmailMessageRow.provider_message_id == sent["provider_message_id"]
            )
        ).one()
        refs = list(
            uow.session.scalars(
                select(ActivityRow.ref_id).where(
                    ActivityRow.kind == "email", ActivityRow.record_id == mailroom.contact_id
                )
            )
        )
        expected_key = uow.session.get(EmailMessageKeyRow, copy.message_key_id)
        assert expected_key is not None
        assert expected_key.dedup_key == dedup_key_of(
            {
                "message_id_header": sent["message_id_header"],
                "from_address": copy.from_address,
            }
        )
    assert copy.message_key_id != copy.id
    assert refs == [copy.message_key_id]


def test_a_new_message_starts_a_new_thread(mailroom: Mailroom) -> None:
    inbound = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Hello"))
    mailroom.sync()
    sent = mailroom.send(subject="Hello").json()
    assert sent["status"] == "sent"
    assert sent["thread_id"] != inbound["threadId"]
    raw = mailroom.raw_of(sent["provider_message_id"])
    assert raw["In-Reply-To"] is None and raw["References"] is None


def test_a_failed_send_is_kept_with_its_error_and_a_retry_sends_it_once(
    mailroom: Mailroom,
) -> None:
    mailroom.emulator.set_config(fault_rate=1.0, fault_statuses=[500])
    response = mailroom.send(subject="Will fail first", body_text="Important")
    mailroom.emulator.set_config(fault_rate=0.0)
    assert response.status_code == 201, response.text
    failed = response.json()
    assert failed["status"] == "failed"
    assert "500" in failed["error"]
    assert mailroom.sent_ids() == []

    again = mailroom.client.get(f"/api/v1/messages/{failed['id']}", headers=mailroom.member.headers)
    assert again.json()["status"] == "failed" and again.json()["body_text"] == "Important"
    outbound_entries = [i for i in mailroom.timeline() if i["kind"] == "outbound"]
    assert [i["summary"] for i in outbound_entries] == ["Not sent: Will fail first"]

    retried = mailroom.client.post(
        f"/api/v1/messages/{failed['id']}/retry", headers=mailroom.member.headers
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "sent"
    assert mailroom.sent_ids() == [retried.json()["provider_message_id"]]
    # A second retry of a sent message sends nothing.
    twice = mailroom.client.post(
        f"/api/v1/messages/{failed['id']}/retry", headers=mailroom.member.headers
    )
    assert twice.json()["status"] == "sent"
    assert len(mailroom.sent_ids()) == 1
    assert [i for i in mailroom.timeline() if i["kind"] == "outbound"] == []
    assert len(_email_items(mailroom, retried.json()["provider_message_id"])) == 1


def test_a_retry_after_gmail_accepted_the_message_does_not_send_it_again(
    mailroom: Mailroom,
) -> None:
    sent = mailroom.send(subject="Accepted").json()
    assert sent["status"] == "sent"
    # As if the answer had been lost: the row says failed, Gmail has the message.
    with mailroom.runtime.tenant_uow("acme") as uow:
        row = uow.session.get(OutboundMessageRow, sent["id"])
        assert row is not None
        row.status = "failed"
        uow.commit()
    retried = mailroom.client.post(
        f"/api/v1/messages/{sent['id']}/retry", headers=mailroom.member.headers
    ).json()
    assert retried["status"] == "sent"
    assert retried["provider_message_id"] == sent["provider_message_id"]
    assert mailroom.sent_ids() == [sent["provider_message_id"]]


def test_a_failed_message_can_be_edited_and_retried(mailroom: Mailroom) -> None:
    mailroom.emulator.set_config(fault_rate=1.0, fault_statuses=[503])
    first = mailroom.send(subject="Typo in subjcet").json()
    mailroom.emulator.set_config(fault_rate=0.0)
    assert first["status"] == "failed"
    edited = mailroom.client.post(
        f"/api/v1/messages/{first['id']}/retry",
        json={"subject": "Fixed subject", "cc": ["colleague@acme-sales.example"]},
        headers=mailroom.member.headers,
    ).json()
    assert edited["status"] == "sent"
    raw = mailroom.raw_of(edited["provider_message_id"])
    assert str(raw["Subject"]) == "Fixed subject"
    assert getaddresses([str(raw["Cc"])]) == [("", "colleague@acme-sales.example")]


def test_from_is_the_account_or_a_verified_alias(mailroom: Mailroom) -> None:
    mailroom.sync()  # learns the send-as aliases
    sent = mailroom.send(**{"from": "Sales Team <sales@acme-sales.example>"}).json()
    assert sent["status"] == "sent"
    raw = mailroom.raw_of(sent["provider_message_id"])
    assert getaddresses([str(raw["From"])]) == [("Sales Team", "sales@acme-sales.example")]
    default = mailroom.raw_of(mailroom.send().json()["provider_message_id"])
    assert getaddresses([str(default["From"])])[0][1] == OWNER

    refused = mailroom.send(**{"from": "ceo@acme-sales.example"})
    assert refused.status_code == 422
    assert refused.json()["field"] == "from"


def test_attachments_and_html_travel_intact(mailroom: Mailroom) -> None:
    import base64

    pdf = b"%PDF-1.4 " + bytes(range(256)) * 40
    sent = mailroom.send(
        subject="Unterlagen",
        body_text="Siehe Anhang, schöne Grüße",
        body_html="<p>Siehe <b>Anhang</b>, schöne Grüße</p>",
        attachments=[
            {
                "filename": "Übersicht 2025.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(pdf).decode(),
            }
        ],
    ).json()
    assert sent["status"] == "sent", sent
    raw = mailroom.raw_of(sent["provider_message_id"])
    assert raw.get_content_type() == "multipart/mixed"
    body = raw.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Siehe Anhang, schöne Grüße"
    assert body["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    html = raw.get_body(preferencelist=("html",))
    assert html is not None and "<b>Anhang</b>" in html.get_content()
    (attachment,) = list(raw.iter_attachments())
    assert attachment.get_filename() == "Übersicht 2025.pdf"
    assert attachment.get_content() == pdf


@pytest.mark.slow
def test_a_large_message_goes_through_the_upload_endpoint(mailroom: Mailroom) -> None:
    import base64
    import os

    blob = os.urandom(6 * 1024 * 1024)
    sent = mailroom.send(
        subject="Big file",
        attachments=[
            {
                "filename": "big.bin",
                "content_type": "application/octet-stream",
                "content_base64": base64.b64encode(blob).decode(),
            }
        ],
    ).json()
    # The emulator refuses JSON bodies over 5 MiB as Gmail does: only /upload gets it through.
    assert sent["status"] == "sent", sent["error"]
    (attachment,) = list(mailroom.raw_of(sent["provider_message_id"]).iter_attachments())
    assert attachment.get_content() == blob

    too_big = mailroom.send(
        attachments=[
            {
                "filename": "huge.bin",
                "content_type": "application/octet-stream",
                "content_base64": base64.b64encode(b"\0" * (36 * 1024 * 1024)).decode(),
            }
        ],
    )
    assert too_big.status_code == 413
    assert "35 MiB" in too_big.json()["detail"]


def test_rights_to_send(mailroom: Mailroom, tenants: object) -> None:
    from tests.fixtures.web import TenantFactory

    assert isinstance(tenants, TenantFactory)
    colleague = tenants.member("acme", "rep", email="other@acme.example.com")
    reader = tenants.member("acme", "read-only")
    base = {
        "mail_account_id": mailroom.account_id,
        "to": [CUSTOMER],
        "subject": "x",
        "body_text": "x",
        "record": {"type": "contact", "id": mailroom.contact_id},
    }
    client = mailroom.client
    assert client.post("/api/v1/messages", json=base, headers=colleague.headers).status_code == 404
    assert client.post("/api/v1/messages", json=base, headers=reader.headers).status_code == 403
    missing = {**base, "record": {"type": "contact", "id": 999_999}}
    assert (
        client.post("/api/v1/messages", json=missing, headers=mailroom.member.headers).status_code
        == 404
    )
    assert mailroom.sent_ids() == []
    sent = mailroom.send().json()
    peek = client.get(f"/api/v1/messages/{sent['id']}", headers=colleague.headers)
    assert peek.status_code == 404
    with mailroom.runtime.tenant_uow("acme") as uow:
        links = uow.session.scalar(
            select(func.count()).select_from(ActivityRow).where(ActivityRow.kind == "email")
        )
    assert links == 1
