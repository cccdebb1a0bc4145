"""Full syncs against Gmail's search semantics (emulator): the look-back bound is exact to the
second although Gmail reads dates as Pacific midnight, token matches that Gmail adds are
screened out, and a query Gmail answers with nothing is detected and recovered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.engine import MailboxSync
from inboxcrm.sync.progress import SyncProgress
from tests.factories import make_contact, make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import customer_mail, emulator_mailbox, stored_mail

OWNER = "rep@search-sales.example"
# 03:00 UTC: the look-back bound falls on a day's first hours, before Pacific midnight (08:00 UTC).
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _engine(runtime: Runtime, emulator: EmulatorHandle, account_id: int) -> MailboxSync:
    return MailboxSync(
        uow_factory=lambda: runtime.tenant_uow("acme"),
        mailbox=emulator_mailbox(emulator, OWNER),
        tenant="acme",
        account_id=account_id,
        bcc_secret=runtime.settings.secret_key.get_secret_value().encode(),
        default_lookback_days=30,
        clock=lambda: NOW,
    )


def _setup(runtime: Runtime, emulator: EmulatorHandle, contacts: list[str]) -> int:
    emulator.create_user(OWNER)
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        for address in contacts:
            make_contact(uow, emails=[address])
        return make_mail_account(uow, email=OWNER, status="connected").id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_exact_lookback_bound_and_token_matches_store_exactly_the_expected_set(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    account_id = _setup(runtime, emulator, ["ann@acme.example"])
    bound = NOW - timedelta(days=30)

    def deliver(sender: str, subject: str, at: datetime) -> str:
        raw = customer_mail(sender, OWNER, subject)
        return str(emulator.deliver(OWNER, raw, internal_date_ms=_ms(at))["id"])

    # Inside the window by one hour: a date-based query (Pacific midnight) would miss it.
    just_inside = deliver("ann@acme.example", "just inside", bound + timedelta(hours=1))
    recent = deliver("ann@acme.example", "recent", NOW - timedelta(days=1))
    deliver("ann@acme.example", "too old", bound - timedelta(hours=1))
    # Gmail's token matching lists these for from:ann@acme.example; they are not the contact.
    deliver("jo.ann@acme.example", "other person", NOW - timedelta(days=2))
    deliver("ann@acme.example.au", "other domain", NOW - timedelta(days=2))

    result = _engine(runtime, emulator, account_id).run(full=True)
    assert set(stored_mail(runtime, "acme")) == {just_inside, recent}
    assert result.skipped_by_reason.get("no_match", 0) == 2  # listed by tokens, screened out


def _progress(runtime: Runtime, account_id: int) -> SyncProgress:
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        return SyncProgress.from_json(row.sync_progress)


def _owner_sent_mail(emulator: EmulatorHandle) -> None:
    raw = customer_mail(OWNER, "someone@elsewhere.example", "sent by the owner")
    emulator.deliver(OWNER, raw, label_ids=["SENT"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("owner_mail", [False, True])
def test_a_query_answered_with_nothing_is_detected_and_recovered(
    runtime: Runtime, emulator: EmulatorHandle, owner_mail: bool
) -> None:
    people = [f"person{i}@client{i}.example" for i in range(5)]
    account_id = _setup(runtime, emulator, [*people, "quiet@nobody.example"])
    expected = {
        str(emulator.deliver(OWNER, customer_mail(p, OWNER, f"from {p}"))["id"]) for p in people
    }
    if owner_mail:  # a canary exists; it is blanked along with the long query
        _owner_sent_mail(emulator)
    # One query holds all six addresses (25 terms); Gmail-like, the emulator answers it empty.
    emulator.set_config(query_max_terms=12)

    _engine(runtime, emulator, account_id).run(full=True)

    assert set(stored_mail(runtime, "acme")) == expected
    progress = _progress(runtime, account_id)
    # Six CRM addresses and their six BCC-logging addresses are probed one by one; only the
    # CRM query was wrong (the BCC addresses have no mail).
    assert progress.query_probes == 12 and progress.queries_recovered == 1
    assert progress.query_checks == (2 if owner_mail else 0)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_really_empty_queries_cost_one_canary_each_not_a_probe_per_address(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    account_id = _setup(runtime, emulator, [f"quiet{i}@client{i}.example" for i in range(6)])
    _owner_sent_mail(emulator)
    emulator.reset_counters(OWNER)
    _engine(runtime, emulator, account_id).run(full=True)
    progress = _progress(runtime, account_id)
    assert progress.query_checks == 2 and progress.query_probes == 0
    assert progress.queries_recovered == 0
    assert stored_mail(runtime, "acme") == {}
