"""Signing a TestClient in through the login form, and the data the UI tests post against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import BaseRoute

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.staff_tables import SupportGrantRow
from inboxcrm.adapters.db.tenant_tables import NeverLogEntryRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.identity import create_user
from inboxcrm.services.notifications import notify
from inboxcrm.web.ui import PAGE_ROUTERS
from tests.factories import (
    make_account,
    make_contact,
    make_deal,
    make_email_message,
    make_lead,
    make_mail_account,
    make_note,
    make_thread,
)
from tests.fixtures.web import Member

_HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def login_form_token(client: TestClient) -> str:
    """GET /login and return the login form's CSRF token (its cookie is now in the client)."""
    response = client.get("/login")
    assert response.status_code == 200
    match = _HIDDEN_CSRF.search(response.text)
    assert match is not None
    return match.group(1)


def sign_in(client: TestClient, member: Member) -> str:
    """Log in through the form; returns the session's CSRF token from the page's meta tag."""
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"email": member.email, "password": member.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    assert home.status_code == 200
    match = _META_CSRF.search(home.text)
    assert match is not None and match.group(1)
    return match.group(1)


def user_id_of(client: TestClient, member: Member) -> int:
    response = client.get("/api/v1/me", headers=member.headers)
    assert response.status_code == 200
    return int(response.json()["user_id"])


@dataclass(frozen=True)
class SampleData:
    """One of everything a UI route can point at, in one tenant."""

    account: int
    contact: int
    lead: int
    deal: int
    note: int
    notification: int
    mail_account: int
    never_log_entry: str
    email_thread: int
    email_message: int = 0
    colleague: int = 0
    support_grant: int = 0

    def fill(self, path: str) -> str:
        """``path`` with its id placeholders replaced by these records' ids."""
        kind = path.strip("/").split("/", 1)[0]
        record_ids = {"leads": self.lead, "contacts": self.contact, "accounts": self.account}
        return (
            path.replace("{record_id}", str(record_ids.get(kind, 0)))
            .replace("{note_id}", str(self.note))
            .replace("{deal_id}", str(self.deal))
            .replace("{notification_id}", str(self.notification))
            .replace("{account_id}", str(self.mail_account))
            .replace("{thread_id}", str(self.email_thread))
            .replace("{message_id}", str(self.email_message))
            .replace("{user_id}", str(self.colleague))
            .replace("{grant_id}", str(self.support_grant))
        )


def make_sample_data(runtime: Runtime, tenant: str, user_id: int) -> SampleData:
    with runtime.tenant_uow(tenant) as uow:
        account = make_account(uow, emails=["info@sample.example.com"])
        contact = make_contact(uow, account_id=account.id, emails=["pat@sample.example.com"])
        lead = make_lead(uow, emails=["lee@lead.example.org"])
        deal = make_deal(uow, account_id=account.id, contact_id=contact.id)
        note = make_note(uow, ("contact", contact.id), body="First call", author_user_id=user_id)
        notification = notify(uow, user_id, "sync_done", "Mailbox synced")
        mailbox = make_mail_account(uow, user_id=user_id, status="connected")
        never_log_entry = f"blocked{mailbox.id}.example.net"
        uow.session.add(NeverLogEntryRow(entry=never_log_entry, created_by_user_id=user_id))
        uow.commit()
        thread = make_thread(uow, mailbox)
        message = make_email_message(uow, thread=thread, link_to=[("contact", contact.id)])
    colleague, grant = _colleague_and_grant(runtime, tenant, mailbox.id)
    return SampleData(
        account.id,
        contact.id,
        lead.id,
        deal.id,
        note.id,
        notification.id,
        mailbox.id,
        never_log_entry,
        thread.id,
        message.id,
        colleague,
        grant,
    )


def _colleague_and_grant(runtime: Runtime, tenant: str, n: int) -> tuple[int, int]:
    """Another member of ``tenant`` (for the user admin pages) and a live support grant."""
    user = create_user(
        runtime,
        tenant_slug=tenant,
        email=f"colleague{n}@{tenant}.example.com",
        password="colleague-password",
        role="rep",
    )
    with runtime.control_uow() as uow:
        tenant_id = uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == tenant))
        assert tenant_id is not None
        now = utcnow()
        grant = SupportGrantRow(
            tenant_id=tenant_id,
            created_by_user_id=user.id,
            reason="sample grant",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        uow.session.add(grant)
        uow.commit()
        return user.id, grant.id


def page_routes() -> list[tuple[str, str]]:
    """Every (method, path) the UI serves, from its page routers."""
    found: list[tuple[str, str]] = []
    for router in PAGE_ROUTERS:
        route: BaseRoute
        for route in router.routes:
            methods = getattr(route, "methods", None) or set()
            path = str(getattr(route, "path", ""))
            found.extend((method, path) for method in sorted(methods) if method != "HEAD")
    return found
