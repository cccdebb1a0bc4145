"""Mail sharing on the record page and in Setup → Email."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.sharing.conftest import (
    ATTACHMENT,
    BODY,
    SNIPPET,
    SUBJECT,
    Person,
    SharingWorld,
)
from tests.integration.ui.ui_session import sign_in


def _page_as(client: TestClient, world: SharingWorld, person: Person) -> tuple[str, str]:
    """(record page HTML, session CSRF token) for ``person``, signed in afresh."""
    client.cookies.clear()
    csrf = sign_in(client, person)
    response = client.get(f"/contacts/{world.contact_id}")
    assert response.status_code == 200
    return response.text, csrf


def _shown(html: str) -> set[str]:
    texts = {"subject": SUBJECT, "snippet": SNIPPET, "body": BODY, "attachment": ATTACHMENT}
    return {name for name, text in texts.items() if text in html}


def test_the_record_page_shows_each_reader_what_the_owner_shares(
    client: TestClient, world: SharingWorld
) -> None:
    url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    body = {"visibility": "team", "detail": "subject"}
    assert client.patch(url, json=body, headers=world.owner.headers).status_code == 200

    html, csrf = _page_as(client, world, world.owner)
    assert _shown(html) == {"subject", "snippet", "body", "attachment"}
    assert f'action="/email-threads/{world.thread_id}/sharing"' in html

    for person in (world.teammate, world.reader):
        html, _ = _page_as(client, world, person)
        assert _shown(html) == {"subject"}
        assert "shares only the subject" in html
        assert "/email-threads/" not in html  # no sharing control on others' threads
    for person in (world.outsider, world.admin):
        html, _ = _page_as(client, world, person)
        assert _shown(html) == set()
        assert "thread-subject" not in html  # not even a placeholder

    # The owner opens the thread to everyone from the record page.
    html, csrf = _page_as(client, world, world.owner)
    posted = client.post(
        f"/email-threads/{world.thread_id}/sharing",
        data={
            "visibility": "tenant",
            "detail": "everything",
            "next": f"/contacts/{world.contact_id}#timeline",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/contacts/{world.contact_id}#timeline"
    html, _ = _page_as(client, world, world.outsider)
    assert _shown(html) == {"subject", "snippet", "body", "attachment"}

    # An off-site "next" is not followed.
    _, csrf = _page_as(client, world, world.owner)
    posted = client.post(
        f"/email-threads/{world.thread_id}/sharing",
        data={"visibility": "", "detail": "metadata", "next": "//evil.example", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/"
    html, _ = _page_as(client, world, world.outsider)  # visibility back to the mailbox's: team
    assert _shown(html) == set() and "thread-subject" not in html
    html, _ = _page_as(client, world, world.teammate)
    assert _shown(html) == set() and "shares only who, when and which way" in html
    assert "(subject not shared)" in html
    assert "buyer@customer.example" in html  # the metadata is still there


def test_setup_email_sharing_controls_for_the_owner_and_the_admin(
    client: TestClient, world: SharingWorld
) -> None:
    client.cookies.clear()
    csrf = sign_in(client, world.owner)
    page = client.get("/setup/email")
    assert page.status_code == 200
    assert f'action="/setup/email/{world.mailbox_id}/sharing"' in page.text
    assert 'action="/setup/email/sharing"' not in page.text  # the maximum is for admins
    saved = client.post(
        f"/setup/email/{world.mailbox_id}/sharing",
        data={"visibility": "private", "detail": "metadata", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    timeline = client.get(world.timeline_url, headers=world.teammate.headers).json()
    assert [i for i in timeline["items"] if i["kind"] == "email"] == []

    client.cookies.clear()
    admin_csrf = sign_in(client, world.admin)
    page = client.get("/setup/email")
    assert 'action="/setup/email/sharing"' in page.text
    assert f'action="/setup/email/{world.mailbox_id}/sharing"' not in page.text  # not theirs
    saved = client.post(
        "/setup/email/sharing",
        data={"visibility": "team", "detail": "subject", "csrf_token": admin_csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303

    client.cookies.clear()
    csrf = sign_in(client, world.owner)
    page = client.get("/setup/email").text
    assert '<option value="tenant" disabled' in page
    assert '<option value="everything" disabled' in page
    refused = client.post(
        f"/setup/email/{world.mailbox_id}/sharing",
        data={"visibility": "tenant", "detail": "metadata", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "at most" in refused.text


def test_the_home_page_recent_activity_follows_the_same_rules(
    client: TestClient, world: SharingWorld
) -> None:
    url = f"/api/v1/mail-accounts/{world.mailbox_id}/sharing"
    body = {"visibility": "team", "detail": "metadata"}
    assert client.patch(url, json=body, headers=world.owner.headers).status_code == 200
    contact_link = f'href="/contacts/{world.contact_id}#timeline"'
    # (reader, sees the subject, sees the entry at all)
    cases = [
        (world.owner, True, True),
        (world.teammate, False, True),
        (world.outsider, False, False),
    ]
    for person, shows_subject, listed in cases:
        client.cookies.clear()
        sign_in(client, person)
        home = client.get("/").text
        assert (SUBJECT in home) is shows_subject, person.email
        assert (contact_link in home) is listed, person.email
