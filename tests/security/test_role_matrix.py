"""Role checks inside one tenant: every write route and every role, expected status written once.

:data:`WRITE_ROUTES` holds, per write route of the app (API and UI), who may use it and the
status a permitted, well-formed request gets; :func:`expected` derives each role's expected
status from that one line (403 for a role below the route's bar). Each role acts on its own
freshly made records, mailbox and notification, so every request is one that would succeed
for a permitted role. A write route that is missing from the table fails the test, so a new
route is classified when it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import NeverLogEntryRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.identity import create_user
from inboxcrm.services.notifications import notify
from tests.factories import (
    make_account,
    make_contact,
    make_deal,
    make_lead,
    make_mail_account,
    make_note,
    make_thread,
)
from tests.fixtures.web import TenantFactory
from tests.security.routes import app_routes

ROLES = ("owner", "admin", "manager", "rep", "read-only")
RANK = {"read-only": 0, "rep": 1, "manager": 2, "admin": 3, "owner": 4}
BAR = {"member": 0, "writer": 1, "admin": 3}


@dataclass(frozen=True)
class Rule:
    who: str  # member | writer | admin
    status: int  # what a permitted, well-formed request gets
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None


LEAD = {"last_name": "New", "status": "new"}
PASSWORD = "correct-horse-battery-staple"
DEAL_FORM = {
    "name": "A deal",
    "stage": "qualification",
    "status": "open",
    "currency": "USD",
    "account_id": "{account}",
}
# Ids (0 in JSON, "{account}"/"{entry}" in forms) are filled from the acting role's objects.
WRITE_ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/leads"): Rule("writer", 201, json={"last_name": "New"}),
    ("PATCH", "/api/v1/leads/{id}"): Rule("writer", 200, json={"last_name": "Renamed"}),
    ("DELETE", "/api/v1/leads/{id}"): Rule("writer", 204),
    ("POST", "/api/v1/contacts"): Rule("writer", 201, json={"last_name": "New"}),
    ("PATCH", "/api/v1/contacts/{id}"): Rule("writer", 200, json={"last_name": "Renamed"}),
    ("DELETE", "/api/v1/contacts/{id}"): Rule("writer", 204),
    ("POST", "/api/v1/accounts"): Rule("writer", 201, json={"name": "New Co"}),
    ("PATCH", "/api/v1/accounts/{id}"): Rule("writer", 200, json={"name": "Renamed Co"}),
    ("DELETE", "/api/v1/accounts/{id}"): Rule("writer", 204),
    ("POST", "/api/v1/deals"): Rule("writer", 201, json={"name": "New deal", "account_id": 0}),
    ("PATCH", "/api/v1/deals/{id}"): Rule("writer", 200, json={"name": "Renamed deal"}),
    ("DELETE", "/api/v1/deals/{id}"): Rule("writer", 204),
    ("POST", "/api/v1/notes"): Rule(
        "writer", 201, json={"record_kind": "contact", "record_id": 0, "body": "hi"}
    ),
    ("PATCH", "/api/v1/notes/{id}"): Rule("writer", 200, json={"body": "edited"}),
    ("DELETE", "/api/v1/notes/{id}"): Rule("writer", 204),
    ("POST", "/api/v1/mail-accounts/gmail/authorize"): Rule("writer", 200),
    ("POST", "/api/v1/mail-accounts/{id}/sync"): Rule("writer", 202),
    ("DELETE", "/api/v1/mail-accounts/{id}"): Rule("writer", 200),
    ("POST", "/api/v1/notifications/{id}/read"): Rule("member", 200),
    ("PATCH", "/api/v1/mail-accounts/{account_id}/sync-options"): Rule(
        "writer", 200, json={"lookback_days": 30}
    ),
    ("PATCH", "/api/v1/mail-settings"): Rule("admin", 200, json={"storage_policy": "full"}),
    ("POST", "/api/v1/mail-settings/never-log"): Rule(
        "admin", 201, json={"entry": "blocked.example"}
    ),
    ("DELETE", "/api/v1/mail-settings/never-log/{entry}"): Rule("admin", 204),
    ("PATCH", "/api/v1/mail-accounts/{id}/sharing"): Rule(
        "writer", 200, json={"visibility": "private"}
    ),
    ("PATCH", "/api/v1/email-threads/{id}/sharing"): Rule(
        "writer", 200, json={"visibility": "private"}
    ),
    ("PATCH", "/api/v1/mail-settings/sharing"): Rule("admin", 200, json={"visibility": "team"}),
    ("POST", "/logout"): Rule("member", 303),
    ("POST", "/leads"): Rule("writer", 303, form=LEAD),
    ("POST", "/leads/{record_id}/edit"): Rule("writer", 303, form=LEAD),
    ("POST", "/leads/{record_id}/delete"): Rule("writer", 303),
    ("POST", "/leads/{record_id}/notes"): Rule("writer", 303, form={"body": "hi"}),
    ("POST", "/contacts"): Rule("writer", 303, form={"last_name": "New"}),
    ("POST", "/contacts/{record_id}/edit"): Rule("writer", 303, form={"last_name": "Renamed"}),
    ("POST", "/contacts/{record_id}/delete"): Rule("writer", 303),
    ("POST", "/contacts/{record_id}/notes"): Rule("writer", 303, form={"body": "hi"}),
    ("POST", "/accounts"): Rule("writer", 303, form={"name": "New Co"}),
    ("POST", "/accounts/{record_id}/edit"): Rule("writer", 303, form={"name": "Renamed Co"}),
    ("POST", "/accounts/{record_id}/delete"): Rule("writer", 303),
    ("POST", "/accounts/{record_id}/notes"): Rule("writer", 303, form={"body": "hi"}),
    ("POST", "/notes/{note_id}/delete"): Rule("writer", 303),
    ("POST", "/email-threads/{thread_id}/sharing"): Rule(
        "writer", 303, form={"visibility": "private"}
    ),
    ("POST", "/deals"): Rule("writer", 303, form=DEAL_FORM),
    ("POST", "/deals/{deal_id}/edit"): Rule("writer", 303, form=DEAL_FORM),
    ("POST", "/deals/{deal_id}/stage"): Rule("writer", 303, form={"stage": "proposal"}),
    ("POST", "/deals/{deal_id}/delete"): Rule("writer", 303),
    ("POST", "/notifications/{notification_id}/read"): Rule("member", 303),
    ("POST", "/setup/email/connect"): Rule("writer", 303),
    # Connecting IMAP/POP3 logs in to a mail server first (tests/integration/imap has one): a
    # permitted role gets the answer to its empty request, 422; a role below the bar 403 first.
    ("POST", "/api/v1/mail-accounts/imap"): Rule("writer", 422, json={}),
    ("POST", "/api/v1/mail-accounts/imap/test"): Rule("writer", 422, json={}),
    ("POST", "/setup/email/imap"): Rule("writer", 422, form={"action": "test"}),
    ("POST", "/setup/email/{account_id}/sync"): Rule("writer", 303),
    ("POST", "/setup/email/{account_id}/disconnect"): Rule("writer", 303),
    ("POST", "/setup/email/{account_id}/options"): Rule(
        "writer", 303, form={"lookback_days": "30"}
    ),
    ("POST", "/setup/email/{account_id}/sharing"): Rule(
        "writer", 303, form={"visibility": "private"}
    ),
    ("POST", "/setup/email/settings"): Rule("admin", 303, form={"storage_policy": "full"}),
    ("POST", "/setup/email/never-log"): Rule("admin", 303, form={"entry": "blocked2.example"}),
    ("POST", "/setup/email/never-log/remove"): Rule("admin", 303, form={"entry": "{entry}"}),
    ("POST", "/setup/email/sharing"): Rule("admin", 303, form={"visibility": "team"}),
    ("POST", "/setup/email/sending"): Rule("writer", 303, form={"track_by_default": "1"}),
    ("POST", "/preferences"): Rule("member", 303, form={"time_zone": "Europe/Berlin"}),
    # Users: "{victim}" is a fresh rep of the acting role's own cell.
    ("POST", "/api/v1/users"): Rule(
        "admin", 201, json={"email": "api{n}@acme.example", "role": "rep"}
    ),
    ("PATCH", "/api/v1/users/{id}"): Rule("admin", 200, json={"role": "manager"}),
    ("DELETE", "/api/v1/users/{id}"): Rule("admin", 204),
    ("POST", "/setup/users/invite"): Rule(
        "admin", 303, form={"email": "ui{n}@acme.example", "role": "rep", "password": PASSWORD}
    ),
    ("POST", "/setup/users/{user_id}/role"): Rule("admin", 303, form={"role": "manager"}),
    ("POST", "/setup/users/{user_id}/deactivate"): Rule("admin", 303),
    # Privacy: exports, erasure (of an address nobody has), support grants, restore.
    ("POST", "/api/v1/exports"): Rule("admin", 202, json={}),
    ("POST", "/api/v1/erasure-requests"): Rule("admin", 201, json={"address": "gone{n}@x.example"}),
    ("POST", "/api/v1/support-grants"): Rule("admin", 201, json={"hours": 1, "reason": "matrix"}),
    ("DELETE", "/api/v1/support-grants/{id}"): Rule("admin", 200),
    ("POST", "/setup/privacy/exports"): Rule("admin", 303, form={}),
    ("POST", "/setup/privacy/erasure"): Rule("admin", 303, form={"address": "gone{n}@y.example"}),
    ("POST", "/setup/privacy/grants"): Rule("admin", 303, form={"hours": "1", "reason": "matrix"}),
    ("POST", "/setup/privacy/grants/{grant_id}/revoke"): Rule("admin", 303),
    ("POST", "/api/v1/contacts/{id}/restore"): Rule("admin", 200),
    ("POST", "/api/v1/leads/{id}/restore"): Rule("admin", 200),
    ("POST", "/api/v1/accounts/{id}/restore"): Rule("admin", 200),
    # Partial consent: the factory's mailbox holds every scope already (409 says so).
    ("POST", "/api/v1/mail-accounts/{id}/authorize-missing"): Rule("writer", 409),
    ("POST", "/setup/email/{account_id}/grant-missing"): Rule("writer", 303),
    # Optional Google features: off in the tenant (the features form below switches them all
    # off again), so asking for a scope or an import is refused with 409 / a notice (303).
    ("POST", "/api/v1/mail-accounts/{id}/authorize-scopes"): Rule(
        "writer", 409, json={"features": ["contacts"]}
    ),
    ("POST", "/api/v1/mail-accounts/{id}/contacts-import"): Rule("writer", 409),
    ("POST", "/setup/email/google/features"): Rule("admin", 303, form={}),
    ("POST", "/setup/email/{account_id}/authorize-scopes"): Rule(
        "writer", 303, form={"feature": "contacts"}
    ),
    ("POST", "/setup/email/{account_id}/contacts-import"): Rule("writer", 303),
    ("POST", "/setup/email/customer-alerts"): Rule(
        "member", 303, form={"customer_mail_alerts": "1"}
    ),
    # Sending and drafts need Gmail (and a model) behind them, which tests/integration/sending
    # covers; here a permitted role passes the role check and gets the answer of its request
    # (422 for an empty message, 404 for an unknown one; the composer without htmx goes back to
    # the record page, 303), a role below the bar gets 403 first.
    ("POST", "/api/v1/messages"): Rule("writer", 422, json={}),
    ("POST", "/api/v1/messages/{id}/retry"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/drafts"): Rule("writer", 422, json={}),
    ("PATCH", "/api/v1/drafts/{id}"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/drafts/{id}/approve"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/drafts/{id}/discard"): Rule("writer", 404, json={}),
    # Meetings need Google Calendar behind them (tests/integration/calendar covers that): an
    # empty meeting is 422, an unknown one 404, a calendar sync while the workspace has Google
    # Calendar off 409; one's own prep-brief choice is every member's.
    ("POST", "/api/v1/meetings"): Rule("writer", 422, json={}),
    ("PATCH", "/api/v1/meetings/{id}"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/mail-accounts/{account_id}/calendar-sync"): Rule("writer", 409),
    ("PATCH", "/api/v1/me"): Rule(
        "member", 200, json={"meeting_prep_enabled": False, "customer_mail_alerts": True}
    ),
    ("POST", "/leads/{record_id}/meetings"): Rule("writer", 303, form={}),
    ("POST", "/contacts/{record_id}/meetings"): Rule("writer", 303, form={}),
    ("POST", "/accounts/{record_id}/meetings"): Rule("writer", 303, form={}),
    ("POST", "/setup/email/google-features"): Rule(
        "admin", 303, form={"deal_state_labels_enabled": "1"}
    ),
    ("POST", "/setup/email/meeting-prep"): Rule("member", 303, form={"meeting_prep_enabled": "1"}),
    ("POST", "/leads/{record_id}/compose"): Rule("writer", 303, form={}),
    ("POST", "/contacts/{record_id}/compose"): Rule("writer", 303, form={}),
    ("POST", "/accounts/{record_id}/compose"): Rule("writer", 303, form={}),
    # Per-message actions: each role acts on its own mailbox's empty thread (no Gmail behind
    # the factory's mailbox: the API answers 502, the page goes back with a notice, 303) and
    # on message id 1, which no table holds (404); drafts without a mailbox are 422.
    ("DELETE", "/api/v1/email-messages/{id}"): Rule("writer", 404, json={}),
    ("DELETE", "/api/v1/email-messages/{id}/support-flag"): Rule("writer", 404, json={}),
    ("DELETE", "/api/v1/email-threads/{id}"): Rule("writer", 200, json={}),
    ("DELETE", "/api/v1/email-threads/{id}/support-flag"): Rule("writer", 404, json={}),
    ("POST", "/accounts/{record_id}/drafts"): Rule("writer", 422, form={}),
    ("POST", "/api/v1/email-messages/{id}/archive"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/email-messages/{id}/mark-read"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/email-messages/{id}/mark-unread"): Rule("writer", 404, json={}),
    ("POST", "/api/v1/email-messages/{id}/support-flag"): Rule(
        "writer", 404, json={"reason": "matrix", "hours": 1}
    ),
    ("POST", "/api/v1/email-threads/{id}/archive"): Rule("writer", 502, json={}),
    ("POST", "/api/v1/email-threads/{id}/mark-read"): Rule("writer", 502, json={}),
    ("POST", "/api/v1/email-threads/{id}/mark-unread"): Rule("writer", 502, json={}),
    ("POST", "/api/v1/email-threads/{id}/support-flag"): Rule(
        "writer", 201, json={"reason": "matrix", "hours": 1}
    ),
    ("POST", "/contacts/{record_id}/drafts"): Rule("writer", 422, form={}),
    ("POST", "/email-messages/{message_id}/archive"): Rule("writer", 404, form={}),
    ("POST", "/email-messages/{message_id}/mark-read"): Rule("writer", 404, form={}),
    ("POST", "/email-messages/{message_id}/mark-unread"): Rule("writer", 404, form={}),
    ("POST", "/email-messages/{message_id}/remove"): Rule("writer", 404, form={}),
    ("POST", "/email-messages/{message_id}/support-flag"): Rule(
        "writer", 404, form={"reason": "m"}
    ),
    ("POST", "/email-messages/{message_id}/support-flag/withdraw"): Rule("writer", 404, form={}),
    ("POST", "/email-threads/{thread_id}/support-flag"): Rule("writer", 303, form={"reason": "m"}),
    ("POST", "/email-threads/{thread_id}/support-flag/withdraw"): Rule("writer", 303, form={}),
    ("POST", "/email-threads/{thread_id}/archive"): Rule("writer", 303, form={}),
    ("POST", "/email-threads/{thread_id}/mark-read"): Rule("writer", 303, form={}),
    ("POST", "/email-threads/{thread_id}/mark-unread"): Rule("writer", 303, form={}),
    ("POST", "/email-threads/{thread_id}/remove"): Rule("writer", 303, form={}),
    ("POST", "/leads/{record_id}/drafts"): Rule("writer", 422, form={}),
}
#: Write routes outside the role model: they authenticate by other means.
NOT_ROLE_CHECKED = {("POST", "/hooks/gmail/push"), ("POST", "/login")}


def _why(text: str) -> str:
    """The problem detail, or the error messages of a re-rendered form."""
    found = re.findall(r'class="[^"]*(?:error|problem)[^"]*"[^>]*>([^<]+)<', text)
    return "; ".join(found)[:300] if found else text[:200]


def expected(rule: Rule, role: str) -> int:
    return rule.status if RANK[role] >= BAR[rule.who] else 403


def _own_objects(
    runtime: Runtime, tenant: str, user_id: int, n: int, *, with_victim: bool
) -> dict[str, Any]:
    """Fresh objects for one cell; a second user (slow: a password hash) only where asked."""
    victim_id = 0
    if with_victim:
        victim_id = create_user(
            runtime,
            tenant_slug=tenant,
            email=f"victim{n}@acme.example",
            password=PASSWORD,
            role="rep",
        ).id
    with runtime.tenant_uow(tenant) as uow:
        gone = utcnow()
        deleted = {
            "contact": make_contact(uow, deleted_at=gone).id,
            "lead": make_lead(uow, deleted_at=gone).id,
            "account": make_account(uow, deleted_at=gone).id,
        }
        account = make_account(uow)
        contact = make_contact(uow, account_id=account.id)
        lead = make_lead(uow)
        deal = make_deal(uow, account_id=account.id)
        note = make_note(uow, ("contact", contact.id), author_user_id=user_id)
        mailbox = make_mail_account(uow, user_id=user_id, email=f"box{n}@acme.example")
        thread = make_thread(uow, mailbox)
        uow.session.add(NeverLogEntryRow(entry=f"gone{n}.example", created_by_user_id=user_id))
        notice = notify(uow, user_id, "info", "hello")
        uow.commit()
        return {
            "account": account.id,
            "contact": contact.id,
            "lead": lead.id,
            "deal": deal.id,
            "note": note.id,
            "mailbox": mailbox.id,
            "thread": thread.id,
            "notification": notice.id,
            "entry": f"gone{n}.example",
            "victim": victim_id,
            "deleted": deleted,
            "n": n,
        }


def _url(path: str, ids: dict[str, Any]) -> str:
    resource = path.removeprefix("/api/v1").lstrip("/").split("/")[0]
    by_resource = {
        "leads": ids["lead"],
        "contacts": ids["contact"],
        "accounts": ids["account"],
        "deals": ids["deal"],
        "notes": ids["note"],
        "mail-accounts": ids["mailbox"],
        "email-threads": ids["thread"],
        "notifications": ids["notification"],
        "setup": ids["mailbox"],
    }
    if path.endswith("/restore"):
        by_resource = {f"{k}s": v for k, v in ids["deleted"].items()}
    by_resource["users"] = ids["victim"]
    by_resource["support-grants"] = ids.get("grant", 1)
    value = by_resource.get(resource, 1)
    for name in ("{id}", "{record_id}", "{account_id}"):
        path = path.replace(name, str(value))
    return (
        path.replace("{note_id}", str(ids["note"]))
        .replace("{deal_id}", str(ids["deal"]))
        .replace("{thread_id}", str(ids["thread"]))
        .replace("{notification_id}", str(ids["notification"]))
        .replace("{entry}", str(ids["entry"]))
        .replace("{user_id}", str(ids["victim"]))
        .replace("{grant_id}", str(ids.get("grant", 1)))
    )


def _filled(value: Any, ids: dict[str, Any]) -> Any:
    """A body value with the cell's placeholders filled in."""
    if not isinstance(value, str):
        return value
    return (
        value.replace("{n}", str(ids["n"]))
        .replace("{entry}", ids["entry"])
        .replace("{account}", str(ids["account"]))
    )


@pytest.mark.timeout(900)  # 575 cells, each on fresh objects: minutes on a busy machine
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_write_route_is_classified(client: TestClient) -> None:
    app_writes = {
        (method, route.path)
        for route in app_routes(client.app)  # type: ignore[arg-type]
        for method in route.methods - {"GET", "HEAD", "OPTIONS"}
    }
    assert app_writes - NOT_ROLE_CHECKED == set(WRITE_ROUTES), "classify new write routes"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_write_route_answers_each_role_as_written(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, role: str
) -> None:
    """One role per test, so that the cells of the five roles run in parallel."""
    member = tenants.member("acme", role)
    owner = member if role == "owner" else tenants.member("acme", "owner")
    mismatches: list[str] = []
    cells = 0
    user_id = int(client.get("/api/v1/me", headers=member.headers).json()["user_id"])
    for (method, path), rule in WRITE_ROUTES.items():
        ids = _own_objects(runtime, "acme", user_id, cells, with_victim="/users" in path)
        if "grant" in path:
            grant = client.post(
                "/api/v1/support-grants",
                json={"hours": 1, "reason": "to revoke"},
                headers=owner.headers,
            )
            assert grant.status_code == 201, grant.text
            ids["grant"] = grant.json()["id"]
        url = _url(path, ids)
        kwargs: dict[str, Any] = {"headers": member.headers, "follow_redirects": False}
        if rule.json is not None:
            body = {k: _filled(v, ids) for k, v in rule.json.items()}
            if body.get("record_id") == 0:
                body["record_id"] = ids["contact"]
            if body.get("account_id") == 0:
                body["account_id"] = ids["account"]
            kwargs["json"] = body
        if rule.form is not None:
            kwargs["data"] = {k: _filled(v, ids) for k, v in rule.form.items()}
        answer = client.request(method, url, **kwargs)
        cells += 1
        want = expected(rule, role)
        if answer.status_code != want:
            mismatches.append(
                f"{role:9} {method} {path}: {answer.status_code} != {want} "
                f"{_why(answer.text) if answer.status_code != 303 else ''}"
            )
    print(f"\nrole matrix: {len(WRITE_ROUTES)} write routes for {role} = {cells} cells")
    assert mismatches == [], "\n".join(mismatches)
