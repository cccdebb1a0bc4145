"""A tenant with a mailbox owner, colleagues in and out of the owner's team, and mail on a contact.

Members of ``acme`` (team in brackets): ``owner`` (rep, east) owns the mailbox; ``teammate``
(rep, east); ``reader`` (read-only, east); ``outsider`` (rep, west); ``admin`` (admin, no team).
The contact has one thread of the owner's mailbox with a subject, snippet, bodies and an
attachment whose texts are unique, so a test can search any response for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.identity import create_api_token, create_user
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_contact, make_email_message, make_mail_account, make_thread
from tests.fixtures.web import DEFAULT_PASSWORD, Member

SUBJECT = "Subject-7f3a renewal pricing"
SNIPPET = "Snippet-91c2 we can offer"
BODY = "Body-4d5e the full proposal"
ATTACHMENT = "Attachment-b8e0.pdf"
SECRETS = {"subject": SUBJECT, "snippet": SNIPPET, "body": BODY, "attachment": ATTACHMENT}


@dataclass
class Person(Member):
    user_id: int = 0


@dataclass
class SharingWorld:
    runtime: Runtime
    owner: Person
    teammate: Person
    reader: Person
    outsider: Person
    admin: Person
    contact_id: int
    mailbox_id: int
    thread_id: int
    message_id: int

    @property
    def colleagues(self) -> dict[str, Person]:
        return {
            "teammate": self.teammate,
            "reader": self.reader,
            "outsider": self.outsider,
            "admin": self.admin,
        }

    @property
    def timeline_url(self) -> str:
        return f"/api/v1/contacts/{self.contact_id}/timeline"


def add_person(runtime: Runtime, tenant: str, name: str, role: str, team: str | None) -> Person:
    email = f"{name}@{tenant}.example.com"
    user = create_user(
        runtime,
        tenant_slug=tenant,
        email=email,
        password=DEFAULT_PASSWORD,
        role=role,
        team=team,
    )
    token = create_api_token(runtime, tenant_slug=tenant, email=email)
    return Person(tenant=tenant, email=email, role=role, token=token, user_id=user.id)


@pytest.fixture
def world(runtime: Runtime) -> SharingWorld:
    create_tenant(runtime, "acme")
    owner = add_person(runtime, "acme", "owner", "rep", "east")
    people = {
        "teammate": add_person(runtime, "acme", "teammate", "rep", "east"),
        "reader": add_person(runtime, "acme", "reader", "read-only", "east"),
        "outsider": add_person(runtime, "acme", "outsider", "rep", "west"),
        "admin": add_person(runtime, "acme", "admin", "admin", None),
    }
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["buyer@customer.example"])
        mailbox = make_mail_account(uow, user_id=owner.user_id, email="owner@acme.example.com")
        thread = make_thread(uow, mailbox, subject=SUBJECT)
        message = make_email_message(
            uow,
            mail_account=mailbox,
            thread=thread,
            link_to=[("contact", contact.id)],
            subject=SUBJECT,
            snippet=SNIPPET,
            body_text=BODY,
            body_html=f"<p>{BODY}</p>",
            from_address="buyer@customer.example",
            to_addresses=["owner@acme.example.com"],
            cc_addresses=["cfo@customer.example"],
            attachments=[{"filename": ATTACHMENT, "mime_type": "application/pdf", "size": 10}],
        )
    return SharingWorld(
        runtime, owner, contact_id=contact.id, mailbox_id=mailbox.id, thread_id=thread.id,
        message_id=message.id, **people,
    )  # fmt: skip
