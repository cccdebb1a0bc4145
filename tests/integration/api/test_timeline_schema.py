"""Real timeline responses validate against the schema published at /openapi.json.

The page's ``items`` are a ``oneOf`` (email, note, any other kind) with a discriminator on
``kind``. jsonschema ignores the OpenAPI ``discriminator`` keyword, so this also proves that the
branches exclude each other by themselves: every item matches exactly one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from inboxcrm.adapters.db.calendar_tables import MeetingRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow
from inboxcrm.bootstrap import Runtime
from tests.factories import (
    BASE_TIME,
    make_contact,
    make_email_message,
    make_mail_account,
    make_note,
)
from tests.fixtures.web import TenantFactory


def _page_validator(client: TestClient) -> jsonschema.Draft202012Validator:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/contacts/{id}/timeline"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator(
        {**schema, "components": document["components"]},
    )


def _items_schema(client: TestClient) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    union: dict[str, Any] = document["components"]["schemas"]["TimelinePageOut"]["properties"][
        "items"
    ]["items"]
    return union


def test_a_page_of_email_note_and_other_items_validates(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["buyer@customer.example"])
        make_email_message(
            uow,
            link_to=[("contact", contact.id)],
            attachments=[{"filename": "q.pdf", "mime_type": "application/pdf", "size": 9}],
            sent_at=BASE_TIME,
        )
        make_note(uow, ("contact", contact.id), body="Call back", created_at=BASE_TIME)
        mailbox = make_mail_account(uow)
        meeting = MeetingRow(
            mail_account_id=mailbox.id,
            organizer_user_id=1,
            organizer_email=mailbox.email,
            provider_event_id="evt1",
            title="Kick-off",
            start_at=BASE_TIME - timedelta(days=1),
            end_at=BASE_TIME - timedelta(days=1) + timedelta(hours=1),
            attendees=[{"email": "buyer@customer.example", "name": "", "response": "accepted"}],
        )
        uow.session.add(meeting)
        uow.session.flush()
        for kind, ref_id in (("meeting", meeting.id), ("call", 1)):
            uow.session.add(
                ActivityRow(
                    record_kind="contact",
                    record_id=contact.id,
                    kind=kind,
                    ref_id=ref_id,
                    occurred_at=BASE_TIME - timedelta(days=1),
                    summary="Kick-off",
                )
            )
        uow.commit()
    response = client.get(f"/api/v1/contacts/{contact.id}/timeline", headers=h)
    assert response.status_code == 200, response.text
    page = response.json()
    assert sorted(i["kind"] for i in page["items"]) == ["call", "email", "meeting", "note"]
    (shown,) = [i for i in page["items"] if i["kind"] == "meeting"]
    assert (shown["title"], shown["status"], shown["provider_event_id"]) == (
        "Kick-off",
        "confirmed",
        "evt1",
    )
    assert shown["attendees"] == [
        {"email": "buyer@customer.example", "name": "", "response": "accepted"}
    ]
    validator = _page_validator(client)
    errors = [e.message for e in validator.iter_errors(page)]
    assert errors == []


def test_each_kind_matches_exactly_one_branch(client: TestClient) -> None:
    union = _items_schema(client)
    assert union["discriminator"]["propertyName"] == "kind"
    assert union["discriminator"]["mapping"]["email"].endswith("/EmailItemOut")
    assert union["discriminator"]["mapping"]["note"].endswith("/NoteItemOut")
    document = client.get("/openapi.json").json()
    branches = [
        jsonschema.Draft202012Validator({**ref, "components": document["components"]})
        for ref in union["oneOf"]
    ]
    common = {
        "id": 1,
        "occurred_at": "2025-03-01T09:00:00Z",
        "summary": "",
        "match_reason": None,
        "match_detail": None,
    }
    assert union["discriminator"]["mapping"]["meeting"].endswith("/MeetingItemOut")
    note = {**common, "kind": "note", "body": "hi", "author_user_id": None}
    call = {**common, "kind": "call"}
    meeting = {
        **common,
        "kind": "meeting",
        "meeting_id": 3,
        "title": "Demo",
        "start": "2025-03-01T09:00:00Z",
        "end": "2025-03-01T10:00:00Z",
        "status": "cancelled",
        "location": "",
        "attendees": [{"email": "a@b.example", "name": "", "response": "declined"}],
        "provider_event_id": "e1",
        "mail_account_id": 1,
        "organizer_email": "rep@acme.example",
    }
    assert [b.is_valid(note) for b in branches] == [False, True, False, False]
    assert [b.is_valid(meeting) for b in branches] == [False, False, True, False]
    assert [b.is_valid(call) for b in branches] == [False, False, False, True]
    assert not any(b.is_valid({**common, "kind": "meeting"}) for b in branches)


@pytest.mark.parametrize("kind", ["email", "note", "meeting"])
def test_the_other_branch_refuses_the_kinds_with_their_own(client: TestClient, kind: str) -> None:
    document = client.get("/openapi.json").json()
    other = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/TimelineItemOut", "components": document["components"]}
    )
    item = {
        "id": 1,
        "kind": kind,
        "occurred_at": "2025-03-01T09:00:00Z",
        "summary": "",
        "match_reason": None,
        "match_detail": None,
    }
    assert not other.is_valid(item)
