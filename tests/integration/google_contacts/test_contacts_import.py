"""Google Contacts import against the emulator's People API, through the official client: the
first import creates contacts and accounts, re-imports after adds, edits and deletes in Google
add no duplicates, a field edited in the CRM survives, a deleted person is marked, not deleted,
and an expired sync token falls back to a full import."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import AccountRow, ContactRow, NotificationRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from inboxcrm.services.contact_import import IMPORT_TASK, run_contacts_import
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import Member, TenantFactory
from tests.integration.google_contacts.steps import GmailConnector, enable_features, opt_in

EMAIL = "importer@acme-sales.example"


def contacts(gmail: GmailConnector, member: Member) -> dict[str, dict[str, Any]]:
    """Live contacts by their first email address."""
    answer = gmail.client.get("/api/v1/contacts?limit=100", headers=member.headers)
    assert answer.status_code == 200, answer.text
    return {item["emails"][0]: item for item in answer.json()["items"] if item["emails"]}


def contact_count(runtime: Runtime) -> int:
    with runtime.tenant_uow("acme") as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ContactRow)) or 0)


def start_import(gmail: GmailConnector, member: Member, account_id: int) -> dict[str, Any]:
    answer = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/contacts-import", headers=member.headers
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


@pytest.fixture
def rep_with_contacts(gmail: GmailConnector, tenants: TenantFactory) -> tuple[Member, int]:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    enable_features(gmail, admin, google_contacts_enabled=True)
    account_id = int(gmail.connect(rep, EMAIL)["account"]["id"])
    opt_in(gmail, rep, account_id, EMAIL, ["contacts"])
    return rep, account_id


def test_import_then_incremental_re_imports_keep_crm_edits_and_add_no_duplicates(
    gmail: GmailConnector,
    rep_with_contacts: tuple[Member, int],
    runtime: Runtime,
    emulator: EmulatorHandle,
    recorded_jobs: RecordedJobs,
) -> None:
    rep, account_id = rep_with_contacts
    with runtime.tenant_uow("acme") as uow:  # entered by hand before any import
        make_contact(uow, first_name="Bob", last_name="", emails=["bob@builders.example"])
    ada = emulator.add_contact(
        EMAIL,
        name="Ada Lovelace",
        emails=["Ada@Analytical.example", "ada.l@home.example"],
        organization="Analytical Engines",
        title="Mathematician",
        phones=["+44 20 1234"],
    )
    bob = emulator.add_contact(
        EMAIL, name="Robert Builder", emails=["bob@builders.example"], phones=["+1 555 0100"]
    )
    emulator.add_contact(EMAIL, name="No Address")  # nothing to match by: skipped

    queued = start_import(gmail, rep, account_id)
    assert queued["status"] == "queued"
    assert (IMPORT_TASK, {"tenant": "acme", "account_id": account_id}) in recorded_jobs.queued
    first = run_contacts_import(runtime, "acme", account_id)
    assert first.status == "done" and first.mode == "full", first
    assert first.counts is not None
    assert (first.counts["created"], first.counts["updated"], first.counts["skipped"]) == (1, 1, 1)

    found = contacts(gmail, rep)
    assert set(found) == {"ada@analytical.example", "bob@builders.example"}
    imported = found["ada@analytical.example"]
    assert imported["source"] == "google" and imported["source_deleted_at"] is None
    assert (imported["first_name"], imported["last_name"]) == ("Ada", "Lovelace")
    assert imported["emails"] == ["ada@analytical.example", "ada.l@home.example"]
    assert imported["title"] == "Mathematician" and imported["phone"] == "+44 20 1234"
    assert imported["account_name"] == "Analytical Engines"
    # The hand-made contact was matched by address: its name is the user's, the empty phone
    # was filled in.
    matched = found["bob@builders.example"]
    assert matched["source"] == "google"
    assert (matched["first_name"], matched["phone"]) == ("Bob", "+1 555 0100")

    # A user edits the imported title in the CRM.
    edit = gmail.client.patch(
        f"/api/v1/contacts/{imported['id']}", json={"title": "Countess"}, headers=rep.headers
    )
    assert edit.status_code == 200, edit.text

    # In Google: Ada renamed and retitled, Bob deleted, Carol added.
    emulator.update_contact(
        EMAIL, ada, name="Ada King", organization="Analytical Engines", title="Analyst"
    )
    emulator.delete_contact(EMAIL, bob)
    emulator.add_contact(EMAIL, name="Carol Client", emails=["carol@client.example"])

    start_import(gmail, rep, account_id)
    second = run_contacts_import(runtime, "acme", account_id)
    assert second.status == "done" and second.mode == "incremental", second
    assert second.counts is not None and second.counts["seen"] == 3
    found = contacts(gmail, rep)
    assert set(found) == {"ada@analytical.example", "bob@builders.example", "carol@client.example"}
    ada_now = found["ada@analytical.example"]
    assert ada_now["id"] == imported["id"]
    assert ada_now["last_name"] == "King"  # Google's field follows Google
    assert ada_now["title"] == "Countess"  # the CRM edit survives
    gone = found["bob@builders.example"]
    assert gone["source_deleted_at"] is not None  # marked, not deleted
    assert found["carol@client.example"]["source"] == "google"
    assert contact_count(runtime) == 3

    # Nothing changed: an incremental import sees nobody and changes nothing.
    again = run_contacts_import(runtime, "acme", account_id)
    assert again.mode == "incremental" and again.counts is not None
    assert again.counts["seen"] == 0
    assert contacts(gmail, rep) == found

    # An expired sync token: a full import, still no duplicates, Bob still marked.
    emulator.expire_sync_tokens(EMAIL)
    full = run_contacts_import(runtime, "acme", account_id)
    assert full.status == "done" and full.mode == "full", full
    assert contact_count(runtime) == 3
    after = contacts(gmail, rep)
    assert after["ada@analytical.example"]["title"] == "Countess"
    assert after["bob@builders.example"]["source_deleted_at"] is not None
    with runtime.tenant_uow("acme") as uow:
        accounts = list(uow.session.scalars(select(AccountRow.name)))
        kinds = list(uow.session.scalars(select(NotificationRow.kind)))
        actions = [e.action for e in list_events(uow, limit=100).items]
    assert accounts == ["Analytical Engines"]
    assert kinds.count("contacts_import_completed") == 4
    assert "contacts_import.request" in actions and "contacts_import.complete" in actions

    status = gmail.client.get(
        f"/api/v1/mail-accounts/{account_id}/contacts-import", headers=rep.headers
    ).json()
    assert status["status"] == "done" and status["mode"] == "full"


def test_import_needs_the_feature_enabled_and_the_scope_granted(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    account_id = int(gmail.connect(rep, EMAIL)["account"]["id"])
    path = f"/api/v1/mail-accounts/{account_id}/contacts-import"
    disabled = gmail.client.post(path, headers=rep.headers)
    assert disabled.status_code == 409 and disabled.json()["code"] == "google_feature_disabled"
    enable_features(gmail, admin, google_contacts_enabled=True)
    not_granted = gmail.client.post(path, headers=rep.headers)
    assert not_granted.status_code == 409
    assert not_granted.json()["code"] == "google_feature_not_granted"
    # The job checks too: without the grant it fails (and says so) without calling Google.
    emulator.add_contact(EMAIL, name="Ada Lovelace", emails=["ada@analytical.example"])
    report = run_contacts_import(runtime, "acme", account_id)
    assert report.status == "failed" and report.error and "Setup" in report.error
    assert "people.people.connections.list" not in emulator.stats(EMAIL)["calls"]
    assert contact_count(runtime) == 0
    with runtime.tenant_uow("acme") as uow:
        failed = list(
            uow.session.scalars(
                select(NotificationRow).where(NotificationRow.kind == "contacts_import_failed")
            )
        )
        outcomes = [e.action for e in list_events(uow, action="contacts_import.*").items]
    assert len(failed) == 1 and failed[0].link == "/setup/email"
    assert outcomes == ["contacts_import.fail"]
    # Someone else's mailbox: not found.
    other = tenants.member("acme", "manager")
    assert gmail.client.post(path, headers=other.headers).status_code == 404


def test_a_contact_deleted_in_the_crm_is_not_brought_back(
    gmail: GmailConnector,
    rep_with_contacts: tuple[Member, int],
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    rep, account_id = rep_with_contacts
    ada = emulator.add_contact(EMAIL, name="Ada Lovelace", emails=["ada@analytical.example"])
    assert run_contacts_import(runtime, "acme", account_id).status == "done"
    (imported,) = contacts(gmail, rep).values()
    deleted = gmail.client.delete(f"/api/v1/contacts/{imported['id']}", headers=rep.headers)
    assert deleted.status_code == 204
    emulator.update_contact(EMAIL, ada, name="Ada King")
    report = run_contacts_import(runtime, "acme", account_id)
    assert report.status == "done" and report.counts is not None
    assert report.counts["skipped"] == 1 and report.counts["created"] == 0
    assert contacts(gmail, rep) == {}


def test_a_sync_token_google_no_longer_accepts_means_a_full_import(
    gmail: GmailConnector,
    rep_with_contacts: tuple[Member, int],
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    from inboxcrm.adapters.db.google_contact_tables import ContactImportRow

    rep, account_id = rep_with_contacts
    emulator.add_contact(EMAIL, name="Ada Lovelace", emails=["ada@analytical.example"])
    assert run_contacts_import(runtime, "acme", account_id).mode == "full"
    with runtime.tenant_uow("acme") as uow:  # e.g. issued for another Google account
        state = uow.session.get(ContactImportRow, account_id)
        assert state is not None and state.sync_token
        state.sync_token = "not-a-token-google-issued"
        uow.commit()
    report = run_contacts_import(runtime, "acme", account_id)
    assert report.status == "done" and report.mode == "full", report
    assert list(contacts(gmail, rep)) == ["ada@analytical.example"]


def test_a_company_chosen_in_the_crm_stays_and_no_account_is_made_for_nothing(
    gmail: GmailConnector,
    rep_with_contacts: tuple[Member, int],
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    rep, account_id = rep_with_contacts
    ada = emulator.add_contact(
        EMAIL, name="Ada Lovelace", emails=["ada@analytical.example"], organization="Analytical"
    )
    assert run_contacts_import(runtime, "acme", account_id).status == "done"
    (imported,) = contacts(gmail, rep).values()
    assert imported["account_name"] == "Analytical"
    chosen = gmail.client.post(
        "/api/v1/accounts", json={"name": "Babbage Ltd"}, headers=rep.headers
    )
    assert chosen.status_code == 201
    moved = gmail.client.patch(
        f"/api/v1/contacts/{imported['id']}",
        json={"account_id": chosen.json()["id"]},
        headers=rep.headers,
    )
    assert moved.status_code == 200
    emulator.update_contact(EMAIL, ada, organization="Difference Inc")
    assert run_contacts_import(runtime, "acme", account_id).status == "done"
    (after,) = contacts(gmail, rep).values()
    assert after["account_name"] == "Babbage Ltd"
    with runtime.tenant_uow("acme") as uow:
        names = set(uow.session.scalars(select(AccountRow.name)))
    assert names == {"Analytical", "Babbage Ltd"}


def test_one_import_per_mailbox_at_a_time_and_a_dead_one_is_taken_over(
    gmail: GmailConnector,
    rep_with_contacts: tuple[Member, int],
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    from datetime import timedelta

    from inboxcrm.adapters.db.google_contact_tables import ContactImportRow
    from inboxcrm.adapters.db.types import utcnow

    rep, account_id = rep_with_contacts
    emulator.add_contact(EMAIL, name="Ada Lovelace", emails=["ada@analytical.example"])
    start_import(gmail, rep, account_id)

    def hold(seconds: int) -> None:
        with runtime.tenant_uow("acme") as uow:
            state = uow.session.get(ContactImportRow, account_id)
            assert state is not None
            state.status = "running"
            state.lease_expires_at = utcnow() + timedelta(seconds=seconds)
            uow.commit()

    hold(600)  # another worker is importing this mailbox
    assert run_contacts_import(runtime, "acme", account_id).status == "already_running"
    assert contact_count(runtime) == 0
    # A request meanwhile is left for the running import to honour.
    assert start_import(gmail, rep, account_id)["status"] == "running"
    hold(-1)  # that worker died
    path = f"/api/v1/mail-accounts/{account_id}/contacts-import"
    assert gmail.client.get(path, headers=rep.headers).json()["status"] == "interrupted"
    assert run_contacts_import(runtime, "acme", account_id).status == "done"
    assert contact_count(runtime) == 1
