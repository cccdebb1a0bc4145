"""Mail sharing over the timeline API: who sees a colleague's mail, how much, and when."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from tests.factories import BASE_TIME, make_email_history, make_email_message, make_thread
from tests.integration.sharing.conftest import (
    ATTACHMENT,
    BODY,
    SECRETS,
    SNIPPET,
    SUBJECT,
    Person,
    SharingWorld,
)

VISIBILITIES = ("private", "team", "tenant")
DETAILS = ("metadata", "subject", "everything")
#: Who each colleague is to the owner: teammate and reader share the owner's team.
RELATION = {"teammate": "team", "reader": "team", "outsider": "other", "admin": "other"}


def expected_detail(relation: str, visibility: str, detail: str) -> str | None:
    """What a colleague should see (None: the mail is not there at all)."""
    if relation == "owner":
        return "everything"
    needed = {"team": ("team", "tenant"), "other": ("tenant",)}[relation]
    return detail if visibility in needed else None


def emails_seen(client: TestClient, world: SharingWorld, person: Person) -> tuple[list[Any], str]:
    response = client.get(world.timeline_url, headers=person.headers)
    assert response.status_code == 200, response.text
    items = [i for i in response.json()["items"] if i["kind"] == "email"]
    return items, response.text


def assert_sees(
    client: TestClient, world: SharingWorld, person: Person, detail: str | None
) -> None:
    items, text = emails_seen(client, world, person)
    if detail is None:
        assert items == [], person.email
        for secret in SECRETS.values():
            assert secret not in text
        return
    (item,) = items
    assert item["detail"] == detail
    # Metadata is always there.
    assert item["from"] == "buyer@customer.example"
    assert item["to"] == ["owner@acme.example.com"]
    assert item["cc"] == ["cfo@customer.example"]
    assert item["direction"] == "inbound"
    assert item["sent_at"] and item["thread_id"] and item["email_thread_id"] == world.thread_id
    assert BODY not in text  # the API never carries bodies
    if detail == "metadata":
        assert item["subject"] is None and item["summary"] == ""
        assert SUBJECT not in text
    else:
        assert item["subject"] == SUBJECT and item["summary"] == SUBJECT
    if detail == "everything":
        assert item["snippet"] == SNIPPET
        assert [a["filename"] for a in item["attachments"]] == [ATTACHMENT]
    else:
        assert item["snippet"] is None and item["attachments"] == []
        assert SNIPPET not in text and ATTACHMENT not in text


def patch(client: TestClient, person: Person, url: str, **body: Any) -> Any:
    response = client.patch(url, json=body, headers=person.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_visibility_and_detail_shows_each_colleague_exactly_what_is_shared(
    client: TestClient, world: SharingWorld
) -> None:
    # Defaults: shared with the whole tenant, everything (as before sharing levels existed).
    for person in world.colleagues.values():
        assert_sees(client, world, person, "everything")
    url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    for visibility in VISIBILITIES:
        for detail in DETAILS:
            # Each change applies to the very next read.
            shown = patch(client, world.owner, url, visibility=visibility, detail=detail)
            assert shown["effective"] == {"visibility": visibility, "detail": detail}
            assert_sees(client, world, world.owner, "everything")
            (own,) = emails_seen(client, world, world.owner)[0]
            assert own["own"] is True
            for name, person in world.colleagues.items():
                assert_sees(
                    client, world, person, expected_detail(RELATION[name], visibility, detail)
                )


def test_a_thread_override_widens_or_narrows_one_thread(
    client: TestClient, world: SharingWorld
) -> None:
    with world.runtime.tenant_uow("acme") as uow:
        mailbox = uow.session.get(MailAccountRow, world.mailbox_id)
        assert mailbox is not None
        other_thread = make_thread(uow, mailbox, subject="Other-thread-c0de")
        make_email_message(
            uow,
            mail_account=mailbox,
            thread=other_thread,
            link_to=[("contact", world.contact_id)],
            subject="Other-thread-c0de",
            sent_at=BASE_TIME - timedelta(days=1),
        )
    account_url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    thread_url = f"/api/v1/email-threads/{world.thread_id}/sharing"
    other_url = f"/api/v1/email-threads/{other_thread.id}/sharing"

    patch(client, world.owner, account_url, visibility="private", detail="metadata")
    assert emails_seen(client, world, world.outsider)[0] == []
    shown = patch(client, world.owner, thread_url, visibility="tenant", detail="everything")
    assert shown["effective"] == {"visibility": "tenant", "detail": "everything"}
    assert_sees(client, world, world.outsider, "everything")  # only the widened thread
    assert "Other-thread-c0de" not in emails_seen(client, world, world.outsider)[1]

    patch(client, world.owner, account_url, visibility="tenant", detail="everything")
    patch(client, world.owner, other_url, visibility="private")
    for person in (world.outsider, world.teammate):
        items, text = emails_seen(client, world, person)
        assert [i["email_thread_id"] for i in items] == [world.thread_id]
        assert "Other-thread-c0de" not in text
    owner_items = emails_seen(client, world, world.owner)[0]
    assert {i["email_thread_id"] for i in owner_items} == {world.thread_id, other_thread.id}

    # Only the detail overridden: visibility follows the mailbox again.
    shown = patch(client, world.owner, thread_url, visibility=None, detail="metadata")
    assert (shown["visibility"], shown["detail"]) == (None, "metadata")
    assert_sees(client, world, world.outsider, "metadata")
    read = client.get(thread_url, headers=world.owner.headers).json()
    assert read["effective"] == {"visibility": "tenant", "detail": "metadata"}


def test_the_tenant_maximum_limits_choices_and_clamps_stored_ones_at_once(
    client: TestClient, world: SharingWorld
) -> None:
    max_url = "/api/v1/mail-settings/sharing"
    account_url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    thread_url = f"/api/v1/email-threads/{world.thread_id}/sharing"
    assert client.get(max_url, headers=world.reader.headers).json() == {
        "visibility": "tenant",
        "detail": "everything",
    }
    refused = client.patch(max_url, json={"visibility": "team"}, headers=world.owner.headers)
    assert refused.status_code == 403

    lowered = patch(client, world.admin, max_url, visibility="team", detail="subject")
    assert lowered == {"visibility": "team", "detail": "subject"}
    # The owner's stored default (tenant / everything) now counts as the maximum.
    assert_sees(client, world, world.teammate, "subject")
    assert_sees(client, world, world.outsider, None)
    shown = client.get(account_url, headers=world.owner.headers).json()
    assert shown["effective"] == {"visibility": "team", "detail": "subject"}
    assert shown["maximum"] == {"visibility": "team", "detail": "subject"}

    for url in (account_url, thread_url):
        for body in ({"visibility": "tenant"}, {"detail": "everything"}):
            response = client.patch(url, json=body, headers=world.owner.headers)
            assert response.status_code == 422, (url, body)
            assert response.json()["code"] == "invalid_input"
    patch(client, world.owner, account_url, visibility="team", detail="metadata")
    assert_sees(client, world, world.teammate, "metadata")

    restored = patch(client, world.admin, max_url, visibility=None, detail=None)
    assert restored == {"visibility": "tenant", "detail": "everything"}
    assert_sees(client, world, world.teammate, "metadata")  # the owner's own choice again
    assert_sees(client, world, world.outsider, None)


def test_only_the_owner_changes_sharing_and_other_tenants_get_404(
    client: TestClient, world: SharingWorld
) -> None:
    account_url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    thread_url = f"/api/v1/email-threads/{world.thread_id}/sharing"
    for person in world.colleagues.values():
        for url in (account_url, thread_url):
            assert client.get(url, headers=person.headers).status_code == 403
            response = client.patch(url, json={"visibility": "tenant"}, headers=person.headers)
            assert response.status_code == 403, (person.email, url)
    for url in ("/api/v1/mail-accounts/999999/sharing", "/api/v1/email-threads/999999/sharing"):
        assert client.get(url, headers=world.owner.headers).status_code == 404
    bad = client.patch(account_url, json={"visibility": "world"}, headers=world.owner.headers)
    assert bad.status_code == 422
    assert client.patch(account_url, json={}, headers=world.owner.headers).status_code == 200

    from inboxcrm.services.tenants import create_tenant
    from tests.integration.sharing.conftest import add_person

    create_tenant(world.runtime, "globex")
    stranger = add_person(world.runtime, "globex", "owner", "owner", "east")
    for url in (account_url, thread_url):
        assert client.get(url, headers=stranger.headers).status_code == 404
        response = client.patch(url, json={"visibility": "tenant"}, headers=stranger.headers)
        assert response.status_code == 404
    timeline = client.get(world.timeline_url, headers=stranger.headers)
    assert timeline.status_code == 404


@pytest.mark.parametrize("limit", [50, 7])
def test_pages_stay_full_when_colleagues_private_mail_is_left_out(
    client: TestClient, world: SharingWorld, limit: int
) -> None:
    key = ("contact", world.contact_id)
    with world.runtime.tenant_uow("acme") as uow:
        private = make_email_history(uow, key, 150, step=timedelta(minutes=1))
        shared = make_email_history(uow, key, 70, step=timedelta(minutes=2))
        private.user_id = world.owner.user_id
        private.sharing = "private"
        shared.user_id = world.teammate.user_id
        uow.session.add_all([private, shared])
        uow.commit()
    pages: list[list[Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(world.timeline_url, params=params, headers=world.outsider.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    seen = [item for page in pages for item in page]
    assert {i["mail_account_id"] for i in seen} == {shared.id, world.mailbox_id}
    assert len(seen) == 71  # the 70 shared messages and the fixture's one
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit
    owner_total = 0
    cursor = None
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        body = client.get(world.timeline_url, params=params, headers=world.owner.headers).json()
        owner_total += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert owner_total == 221
