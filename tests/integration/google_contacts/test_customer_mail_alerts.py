"""New customer mail alerts: off by default, per user (``PATCH /api/v1/me``); once on, mail from
a customer (a contact or account with a won deal) that a push- or poll-triggered sync stores
notifies the mailbox's owner once, with a link to the record; mail from others, old mail stored
by a full sync, and mail after the user turned alerts off notify nobody."""

from __future__ import annotations

import uuid
from email.utils import format_datetime

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import NotificationRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.customer_alerts import alert_customer_mail
from inboxcrm.services.mail_sync import SYNC_TASK, handle_push, sync_account
from tests.factories import make_account, make_contact, make_deal
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.google_contacts.steps import GmailConnector
from tests.integration.sync.conftest import emulator_mailbox

EMAIL = "alerts@acme-sales.example"


def fresh_mail(sender: str, subject: str) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {EMAIL}",
        f"Subject: {subject}",
        f"Message-ID: <{uuid.uuid4().hex}@customer.example>",
        f"Date: {format_datetime(utcnow())}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Confidential body text",
    ]
    return "\r\n".join(lines).encode()


def alerts(runtime: Runtime) -> list[NotificationRow]:
    with runtime.tenant_uow("acme") as uow:
        return list(
            uow.session.scalars(
                select(NotificationRow)
                .where(NotificationRow.kind == "customer_mail")
                .order_by(NotificationRow.id)
            )
        )


def test_customer_mail_alerts_notify_once_with_a_link_and_only_when_on(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    recorded_jobs: RecordedJobs,
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        globex = make_account(uow, name="Globex")
        make_deal(uow, account_id=globex.id, status="won")
        ceo = make_contact(
            uow, first_name="Hank", last_name="Scorpio", account_id=globex.id,
            emails=["hank@globex.example"],
        )  # fmt: skip
        prospect = make_contact(uow, first_name="Pat", emails=["pat@prospect.example"])
        make_deal(uow, contact_id=prospect.id, status="open")
        ceo_id, prospect_id = ceo.id, prospect.id
    account_id = gmail.connect(rep, EMAIL)["account"]["id"]
    mailbox = emulator_mailbox(emulator, EMAIL)

    me = gmail.client.get("/api/v1/me", headers=rep.headers).json()
    assert me["customer_mail_alerts"] is False  # off by default

    # Old customer mail stored by the first (full) sync alerts nobody.
    emulator.deliver(EMAIL, fresh_mail("hank@globex.example", "Before"))
    assert sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox).stored == 1

    # Off: an incremental sync with customer mail notifies nobody.
    emulator.deliver(EMAIL, fresh_mail("hank@globex.example", "While off"))
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).stored == 1
    assert alerts(runtime) == []

    on = gmail.client.patch("/api/v1/me", json={"customer_mail_alerts": True}, headers=rep.headers)
    assert on.status_code == 200 and on.json()["customer_mail_alerts"] is True
    bad = gmail.client.patch(
        "/api/v1/me", json={"customer_mail_alerts": "yes"}, headers=rep.headers
    )
    assert bad.status_code == 422

    # A push: the queued incremental sync stores a customer's and a prospect's mail.
    emulator.deliver(EMAIL, fresh_mail("hank@globex.example", "Renewal"))
    emulator.deliver(EMAIL, fresh_mail("pat@prospect.example", "Question"))
    recorded_jobs.queued.clear()
    assert handle_push(runtime, EMAIL, 10**9) == [("acme", account_id)]
    ((task, kwargs),) = recorded_jobs.queued
    assert task == SYNC_TASK and kwargs["full"] is False
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).stored == 2
    (alert,) = alerts(runtime)
    assert alert.link == f"/contacts/{ceo_id}"
    assert "Hank Scorpio" in alert.title and "Globex" in alert.title
    assert "Renewal" not in alert.title + alert.body and "Confidential" not in alert.body
    assert f"/contacts/{prospect_id}" not in {a.link for a in alerts(runtime)}

    # The API shows the link; the notifications page links to the record.
    items = gmail.client.get("/api/v1/notifications", headers=rep.headers).json()["items"]
    assert any(i["kind"] == "customer_mail" and i["link"] == f"/contacts/{ceo_id}" for i in items)
    page = gmail.client.get("/notifications", headers=rep.headers)
    assert f'href="/contacts/{ceo_id}"' in page.text

    # Nothing new: another run (or the same run's alerts again) notifies nobody twice.
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).status == "ok"
    assert alert_customer_mail(runtime, "acme", account_id, incremental=True) == 0
    assert len(alerts(runtime)) == 1

    # Off again: no more alerts.
    off = gmail.client.patch(
        "/api/v1/me", json={"customer_mail_alerts": False}, headers=rep.headers
    )
    assert off.json()["customer_mail_alerts"] is False
    emulator.deliver(EMAIL, fresh_mail("hank@globex.example", "After"))
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).stored == 1
    assert len(alerts(runtime)) == 1


def test_a_customer_is_a_record_with_a_won_deal(runtime: Runtime, tenants: TenantFactory) -> None:
    from inboxcrm.services.customer_alerts import customer_records

    tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        won = make_account(uow, name="Won Co")
        make_deal(uow, account_id=won.id, status="won")
        lost = make_account(uow, name="Lost Co")
        make_deal(uow, account_id=lost.id, status="lost")
        of_won = make_contact(uow, account_id=won.id)
        of_lost = make_contact(uow, account_id=lost.id)
        own_deal = make_contact(uow, account_id=lost.id)
        make_deal(uow, contact_id=own_deal.id, status="won")
        gone = make_account(uow, name="Gone Co")
        make_deal(uow, account_id=gone.id, status="won", deleted_at=utcnow())
        keys = {
            ("account", won.id), ("account", lost.id), ("account", gone.id),
            ("contact", of_won.id), ("contact", of_lost.id), ("contact", own_deal.id),
        }  # fmt: skip
        found = customer_records(uow.session, keys)
    assert set(found) == {("account", won.id), ("contact", of_won.id), ("contact", own_deal.id)}
