"""Contact auto-creation from synced mail: off by default; ``sent`` creates contacts for the people
the mailbox owner wrote to; ``sent_and_received`` also for the people who wrote to the owner.
Never for colleagues on the account's own domain, list/bulk mail, group or no-reply addresses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import ContactRow, RecordEmailRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import sync_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import customer_mail

OWNER = "rep@acme-sales.example"
LIST_HEADERS = ("List-Id: <all.lists.example>", "Precedence: list")


def _deliver_everything(emulator: EmulatorHandle) -> None:
    sent = ["SENT"]
    deliver = emulator.deliver
    deliver(OWNER, customer_mail(OWNER, '"Frank New" <frank@client.example>', "Offer"), sent)
    deliver(OWNER, customer_mail(OWNER, "boss@acme-sales.example", "Internal"), sent)
    deliver(OWNER, customer_mail(OWNER, "team@partner.example", "To a group"), sent)
    deliver(OWNER, customer_mail(OWNER, "noreply@vendor.example", "To a robot"), sent)
    deliver(OWNER, customer_mail(OWNER, "devs@lists.example", "To a list", headers=LIST_HEADERS))
    deliver(OWNER, customer_mail('"Grace Hopper" <grace@prospect.example>', OWNER, "Question"))
    deliver(OWNER, customer_mail("colleague@acme-sales.example", OWNER, "Lunch?"))
    deliver(
        OWNER,
        customer_mail(
            "news@shop.example",
            OWNER,
            "Sale",
            headers=("List-Unsubscribe: <mailto:u@shop.example>", "Precedence: bulk"),
        ),
    )
    deliver(OWNER, customer_mail("do-not-reply@bank.example", OWNER, "Statement"))
    deliver(OWNER, customer_mail("henry@lists.example", OWNER, "List post", headers=LIST_HEADERS))


def _contacts(runtime: Runtime) -> dict[str, tuple[str, str, int | None]]:
    with runtime.tenant_uow("acme") as uow:
        rows = uow.session.execute(
            select(
                RecordEmailRow.email,
                ContactRow.first_name,
                ContactRow.last_name,
                ContactRow.owner_user_id,
            )
            .join(ContactRow, ContactRow.id == RecordEmailRow.record_id)
            .where(RecordEmailRow.record_kind == "contact")
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("off", set()),
        ("sent", {"frank@client.example"}),
        ("sent_and_received", {"frank@client.example", "grace@prospect.example"}),
    ],
)
def test_contacts_are_created_only_for_real_people_the_mode_covers(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
    mode: str,
    expected: set[str],
) -> None:
    admin = tenants.member("acme", "admin")
    if mode != "off":
        answer = client.patch(
            "/api/v1/mail-settings", headers=admin.headers, json={"contact_autocreate": mode}
        )
        assert answer.status_code == 200
    emulator.create_user(OWNER)
    _deliver_everything(emulator)
    account_id = gmail.connect(admin, OWNER)["account"]["id"]
    assert sync_account(runtime, "acme", account_id).status == "ok"

    contacts = _contacts(runtime)
    assert set(contacts) == expected
    me = client.get("/api/v1/me", headers=admin.headers).json()["user_id"]
    if "frank@client.example" in expected:
        assert contacts["frank@client.example"] == ("Frank", "New", me)
    if "grace@prospect.example" in expected:
        assert contacts["grace@prospect.example"][:2] == ("Grace", "Hopper")
    # Each created contact has the mail that made it on its timeline.
    for address in expected:
        with runtime.tenant_uow("acme") as uow:
            contact_id = uow.session.scalar(
                select(RecordEmailRow.record_id).where(RecordEmailRow.email == address)
            )
        items = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=admin.headers)
        assert len(items.json()["items"]) == 1

    # Incremental sync creates contacts too, and never a second one for the same person.
    emulator.deliver(
        OWNER, customer_mail(OWNER, "frank@client.example, ivy@client.example", "More"), ["SENT"]
    )
    assert sync_account(runtime, "acme", account_id).mode == "incremental"
    after = _contacts(runtime)
    if mode == "off":
        assert after == {}
    else:
        assert set(after) == expected | {"ivy@client.example"}
