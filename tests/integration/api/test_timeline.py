"""Record timelines: email and note items, newest first, keyset pages, kind filters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import ActivityRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.pagination import encode_cursor
from tests.factories import (
    BASE_TIME,
    make_contact,
    make_email_history,
    make_email_message,
    make_lead,
    make_mail_account,
    make_note,
    make_thread,
)
from tests.fixtures.web import TenantFactory

EMAIL_FIELDS = {
    "id",
    "kind",
    "occurred_at",
    "summary",
    "snippet",
    "match_reason",
    "match_detail",
    "attachments",
    "mail_account_id",
    "provider_message_id",
    "thread_id",
    "message_id_header",
    "subject",
    "from",
    "to",
    "direction",
    "sent_at",
}


def _walk(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(1000):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_email_items_carry_the_public_fields(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme", "read-only").headers
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["buyer@customer.example"])
        mailbox = make_mail_account(uow, email="rep@acme.example.com")
        thread = make_thread(uow, mailbox, provider_thread_id="18c2f0a1b2c3d4e5")
        message = make_email_message(
            uow,
            mail_account=mailbox,
            thread=thread,
            link_to=[("contact", contact.id)],
            provider_message_id="18c2f0a1b2c3d4e6",
            message_id_header="<CAF=abc@mail.gmail.com>",
            subject="Quote for Q3",
            from_address="buyer@customer.example",
            from_name="Bea Buyer",
            to_addresses=["rep@acme.example.com"],
            cc_addresses=["boss@customer.example"],
            sent_at=BASE_TIME,
            direction="inbound",
            snippet="Could you send the quote",
            body_text="SECRET BODY TEXT",
            attachments=[{"filename": "quote.pdf", "mime_type": "application/pdf", "size": 2048}],
            match_detail="buyer@customer.example",
        )
    response = client.get(f"/api/v1/contacts/{contact.id}/timeline", headers=h)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    (item,) = page["items"]
    assert set(item) >= EMAIL_FIELDS
    assert "SECRET BODY TEXT" not in response.text
    assert item["kind"] == "email"
    assert item["provider_message_id"] == "18c2f0a1b2c3d4e6"
    assert item["thread_id"] == "18c2f0a1b2c3d4e5"
    assert item["message_id_header"] == "<CAF=abc@mail.gmail.com>"
    assert item["subject"] == "Quote for Q3"
    assert item["from"] == "buyer@customer.example"
    assert item["to"] == ["rep@acme.example.com"]
    assert item["cc"] == ["boss@customer.example"]
    assert item["direction"] == "inbound"
    assert item["sent_at"].startswith("2025-03-01T09:00:00")
    assert item["occurred_at"] == item["sent_at"]
    assert item["snippet"] == "Could you send the quote"
    assert (item["match_reason"], item["match_detail"]) == ("address", "buyer@customer.example")
    assert item["mail_account_id"] == mailbox.id
    (attachment,) = item["attachments"]
    assert attachment["filename"] == "quote.pdf" and attachment["size"] == 2048
    assert attachment["mime_type"] == "application/pdf"
    assert message.id  # the factory's message is what the API shows


def test_mixed_timeline_is_newest_first_with_ties_by_id(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        lead = make_lead(uow)
        other = make_lead(uow)
        key = ("lead", lead.id)
        same_time = BASE_TIME + timedelta(hours=1)
        m1 = make_email_message(uow, link_to=[key], sent_at=BASE_TIME)
        n1 = make_note(uow, key, body="tie one", created_at=same_time)
        m2 = make_email_message(uow, link_to=[key, ("lead", other.id)], sent_at=same_time)
        n2 = make_note(uow, key, body="latest", created_at=BASE_TIME + timedelta(days=1))
        uow.session.add(
            ActivityRow(
                record_kind="lead",
                record_id=lead.id,
                kind="call",
                ref_id=77,
                occurred_at=BASE_TIME - timedelta(days=1),
                summary="Kick-off",
            )
        )
        uow.commit()
    url = f"/api/v1/leads/{lead.id}/timeline"
    items = client.get(url, headers=h).json()["items"]
    kinds_and_refs = [(i["kind"], i.get("body") or i.get("provider_message_id")) for i in items]
    assert kinds_and_refs == [
        ("note", "latest"),
        ("email", m2.provider_message_id),  # same time as "tie one", created later: higher id
        ("note", "tie one"),
        ("email", m1.provider_message_id),
        ("call", None),
    ]
    assert items[-1]["summary"] == "Kick-off"
    assert set(items[-1]) == {
        "id",
        "kind",
        "occurred_at",
        "summary",
        "match_reason",
        "match_detail",
    }
    for limit in (1, 2, 4):
        assert _walk(client, url, h, limit=limit) == items
    emails_only = _walk(client, url, h, kind="email", limit=1)
    assert [i["kind"] for i in emails_only] == ["email", "email"]
    both = _walk(client, url, h, kind=["note", "call"])
    assert [i["kind"] for i in both] == ["note", "note", "call"]
    assert n1.id and n2.id
    other_items = client.get(f"/api/v1/leads/{other.id}/timeline", headers=h).json()["items"]
    assert [i["provider_message_id"] for i in other_items] == [m2.provider_message_id]


def test_long_history_pages_without_gaps(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow)
        make_email_history(uow, ("contact", contact.id), 260, step=timedelta(minutes=1))
        # Entries sharing one timestamp still page in a stable, gap-free order.
        make_email_history(uow, ("contact", contact.id), 40, step=timedelta(0))
    url = f"/api/v1/contacts/{contact.id}/timeline"
    items = _walk(client, url, h, limit=50)
    assert len(items) == 300
    assert len({i["id"] for i in items}) == 300
    keys = [(i["occurred_at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert _walk(client, url, h, limit=200) == items


def test_timeline_of_missing_or_deleted_record_is_404(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow)
        make_email_message(uow, link_to=[("contact", contact.id)])
    url = f"/api/v1/contacts/{contact.id}/timeline"
    assert client.get(url, headers=h).status_code == 200
    assert client.get(f"/api/v1/leads/{contact.id}/timeline", headers=h).status_code == 404
    assert client.delete(f"/api/v1/contacts/{contact.id}", headers=h).status_code == 204
    response = client.get(url, headers=h)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_cursor_of_one_timeline_is_refused_by_another(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        a = make_contact(uow)
        b = make_contact(uow)
        make_email_history(uow, ("contact", a.id), 3)
    cursor = client.get(f"/api/v1/contacts/{a.id}/timeline", params={"limit": 1}, headers=h).json()[
        "next_cursor"
    ]
    assert cursor
    for url in (f"/api/v1/contacts/{b.id}/timeline", "/api/v1/contacts"):
        response = client.get(url, params={"cursor": cursor}, headers=h)
        assert response.status_code == 422
        assert response.json()["field"] == "cursor"
    # Well-formed cursors of this timeline with impossible positions are refused too.
    scope = f"timeline:contact:{a.id}"
    for position in (
        ["0001-01-01T00:00:00+05:00", 1],
        ["2025-01-01T00:00:00", 1],
        ["yesterday", 1],
        ["2025-01-01T00:00:00+00:00", -1],
        ["2025-01-01T00:00:00+00:00", "1"],
    ):
        response = client.get(
            f"/api/v1/contacts/{a.id}/timeline",
            params={"cursor": encode_cursor(scope, position)},
            headers=h,
        )
        assert response.status_code == 422, (position, response.text)
