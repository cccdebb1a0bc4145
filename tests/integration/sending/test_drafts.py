"""AI drafts: the provider sees exactly the allowed context (last N messages of the chosen thread
with this record, the record's fields) and none of the planted markers; only approval sends,
once; read-only users cannot approve; the offline drafter and a refused key behave."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from tests.factories import make_contact, make_deal, make_email_message, make_mail_account
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import actions, audit_entries
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, thread_mail

SUBJECT = "Fragen zum Angebot"


def _conversation(room: Mailroom, count: int = 7) -> list[dict[str, Any]]:
    """``count`` messages of one thread from the customer (the first two carry old markers)."""
    delivered: list[dict[str, Any]] = []
    refs: list[str] = []
    for i in range(count):
        marker = f"MARKER-OLD-{i}" if i < count - 5 else f"KEEP-{i}"
        message_id = f"<conv{i}@kunde.example>"
        raw = thread_mail(
            f"Jörg Müller <{CUSTOMER}>",
            OWNER,
            SUBJECT,
            f"Nachricht {i}: {marker}?",
            message_id,
            refs,
            minute=i,
        )
        delivered.append(room.deliver(raw))
        refs.append(message_id)
    assert len({d["threadId"] for d in delivered}) == 1
    return delivered


def _plant_other_mail(room: Mailroom, tenants: TenantFactory) -> None:
    # Another thread with the same contact, newer than most of the conversation.
    room.deliver(
        thread_mail(
            CUSTOMER, OWNER, "Anderes Thema", "MARKER-OTHER-THREAD", "<o1@k.example>", [], minute=5
        )
    )
    colleague = tenants.member("acme", "rep", email="colleague@acme.example.com")
    with room.runtime.tenant_uow("acme") as uow:
        # Another record's mail in the same mailbox.
        other = make_contact(uow, emails=["someone@else.example"])
        mine = uow.session.get(MailAccountRow, room.account_id)
        assert mine is not None
        make_email_message(
            uow,
            mail_account=mine,
            link_to=[("contact", other.id)],
            subject=SUBJECT,
            body_text="MARKER-OTHER-RECORD",
            from_address="someone@else.example",
        )
        # A colleague's private mailbox: the same contact, the same subject.
        from inboxcrm.services.identity import resolve_api_token

        principal = resolve_api_token(room.runtime, colleague.token)
        assert principal is not None
        private = make_mail_account(uow, user_id=principal.user_id, sharing="private")
        make_email_message(
            uow,
            mail_account=private,
            link_to=[("contact", room.contact_id)],
            subject=SUBJECT,
            body_text="MARKER-HIDDEN",
            from_address=CUSTOMER,
        )
        make_deal(uow, contact_id=room.contact_id, name="Q3 rollout", status="open")
        make_deal(uow, contact_id=room.contact_id, name="MARKER-LOST-DEAL", status="lost")


def _draft(room: Mailroom, **fields: Any) -> Any:
    body = {
        "record": {"type": "contact", "id": room.contact_id},
        "mail_account_id": room.account_id,
    }
    body.update(fields)
    return room.client.post("/api/v1/drafts", json=body, headers=room.member.headers)


def test_the_provider_gets_exactly_the_allowed_context(
    mailroom: Mailroom, anthropic_double: Any, tenants: TenantFactory
) -> None:
    conversation = _conversation(mailroom)
    _plant_other_mail(mailroom, tenants)
    mailroom.sync()
    last = conversation[-1]["id"]
    response = _draft(mailroom, reply_to_message_id=last, instructions="Offer a call on Tuesday")
    assert response.status_code == 201, response.text
    draft = response.json()
    assert draft["status"] == "pending_approval"
    assert draft["provider"] == "anthropic" and draft["model"] == "claude-sonnet-4-6"
    assert draft["ai"] is True
    assert draft["context_message_ids"] == [c["id"] for c in conversation[-5:]]
    assert draft["subject"] == "Re: your question"

    (request,) = anthropic_double.requests
    from tests.fixtures.anthropic_double import _key_of

    assert _key_of(request["headers"]) == "test-anthropic-key"
    assert request["json"]["model"] == "claude-sonnet-4-6"
    sent = anthropic_double.sent_text()
    for i in range(2, 7):
        assert f"KEEP-{i}" in sent
    assert "Jörg" in sent and "Müller" in sent and "Q3 rollout" in sent
    assert "Offer a call on Tuesday" in sent
    for marker in ("MARKER-OLD-0", "MARKER-OLD-1", "MARKER-OTHER-THREAD", "MARKER-OTHER-RECORD",
                   "MARKER-HIDDEN", "MARKER-LOST-DEAL"):  # fmt: skip
        assert marker not in sent, marker
    # Pending drafts are on the timeline.
    entries = [i for i in mailroom.timeline() if i["kind"] == "ai_draft"]
    assert [e["summary"] for e in entries] == ["Draft awaiting approval: Re: your question"]


def test_only_approval_sends_and_only_once(mailroom: Mailroom, anthropic_double: Any) -> None:
    conversation = _conversation(mailroom, count=2)
    mailroom.sync()
    draft = _draft(mailroom, reply_to_message_id=conversation[-1]["id"]).json()
    headers = mailroom.member.headers
    client = mailroom.client

    # The same text through the messages API is an ordinary message, not an approval.
    ordinary = mailroom.send(subject=draft["subject"], body_text=draft["body_text"]).json()
    assert ordinary["status"] == "sent" and ordinary["draft_id"] is None
    assert client.get(f"/api/v1/drafts/{draft['id']}", headers=headers).json()["status"] == (
        "pending_approval"
    )

    edited = client.patch(
        f"/api/v1/drafts/{draft['id']}",
        json={"subject": "Re: Fragen zum Angebot", "body_text": "Hallo Jörg,\n\ngerne.\n\nRep"},
        headers=headers,
    ).json()
    assert edited["body_text"].startswith("Hallo Jörg")
    before = len(mailroom.sent_ids())
    first = client.post(f"/api/v1/drafts/{draft['id']}/approve", headers=headers)
    assert first.status_code == 200, first.text
    approval = first.json()
    assert approval["status"] == "sent"
    assert approval["message"]["status"] == "sent"
    assert approval["message"]["draft_id"] == draft["id"]
    assert approval["message"]["thread_id"] == conversation[-1]["threadId"]
    expected = hashlib.sha256("Re: Fragen zum Angebot\n\nHallo Jörg,\n\ngerne.\n\nRep".encode())
    assert approval["draft"]["approved_text_hash"] == expected.hexdigest()
    raw = mailroom.raw_of(approval["message"]["provider_message_id"])
    body = raw.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().startswith("Hallo Jörg")

    second = client.post(f"/api/v1/drafts/{draft['id']}/approve", headers=headers).json()
    assert second["message"]["id"] == approval["message"]["id"]
    assert len(mailroom.sent_ids()) == before + 1
    assert (
        client.patch(
            f"/api/v1/drafts/{draft['id']}", json={"subject": "x"}, headers=headers
        ).status_code
        == 409
    )
    assert [i for i in mailroom.timeline() if i["kind"] == "ai_draft"] == []

    # Who approved what text, and each send, are in the audit log (approved once, sent twice:
    # the ordinary message and the approved draft).
    approvals = audit_entries(mailroom.runtime, "acme", "draft.approved")
    assert [(e.target, e.details["approved_text_hash"]) for e in approvals] == [
        (f"draft:{draft['id']}", expected.hexdigest())
    ]
    sent = audit_entries(mailroom.runtime, "acme", "message.sent")
    assert approvals[0].actor_user_id is not None
    assert {e.actor_user_id for e in sent} == {approvals[0].actor_user_id}
    assert {e.target for e in sent} == {
        f"message:{ordinary['id']}",
        f"message:{approval['message']['id']}",
    }
    assert {"draft.created", "draft.edited"} <= set(actions(mailroom.runtime, "acme"))


def test_read_only_users_cannot_approve_and_discarded_drafts_never_send(
    mailroom: Mailroom, anthropic_double: Any, tenants: TenantFactory
) -> None:
    reader = tenants.member("acme", "read-only")
    colleague = tenants.member("acme", "rep", email="colleague2@acme.example.com")
    draft = _draft(mailroom).json()
    client = mailroom.client
    assert (
        client.post(f"/api/v1/drafts/{draft['id']}/approve", headers=reader.headers).status_code
        == 403
    )
    refused = client.post(f"/api/v1/drafts/{draft['id']}/approve", headers=colleague.headers)
    assert refused.status_code == 404
    assert client.post("/api/v1/drafts", json={}, headers=reader.headers).status_code in (403, 422)
    discarded = client.post(
        f"/api/v1/drafts/{draft['id']}/discard", headers=mailroom.member.headers
    )
    assert discarded.json()["status"] == "discarded"
    late = client.post(f"/api/v1/drafts/{draft['id']}/approve", headers=mailroom.member.headers)
    assert late.status_code == 409
    assert mailroom.sent_ids() == []


def test_without_a_key_the_offline_drafter_answers_and_says_so(mailroom: Mailroom) -> None:
    conversation = _conversation(mailroom, count=1)
    mailroom.sync()
    draft = _draft(mailroom, reply_to_message_id=conversation[0]["id"]).json()
    assert draft["provider"] == "offline" and draft["ai"] is False and draft["model"] is None
    assert draft["body_text"].startswith("Hello Jörg,")
    assert "KEEP-0" in draft["body_text"] or "Nachricht 0" in draft["body_text"]
    assert draft["subject"] == f"Re: {SUBJECT}"


def test_a_refused_key_is_a_clear_error_and_transient_errors_are_retried(
    mailroom: Mailroom, anthropic_double: Any
) -> None:
    anthropic_double.fail_next = [429, 529]
    retried = _draft(mailroom)
    assert retried.status_code == 201, retried.text
    assert len(anthropic_double.requests) == 3

    mailroom.runtime.settings.anthropic_api_key = type(mailroom.runtime.settings.anthropic_api_key)(
        "a-wrong-key"
    )
    refused = _draft(mailroom)
    assert refused.status_code == 502
    problem = refused.json()
    assert problem["code"] == "ai_key_refused"
    assert "ANTHROPIC_API_KEY" in problem["detail"]
    assert "a-wrong-key" not in json.dumps(problem)
