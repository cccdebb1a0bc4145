"""History and push as Google runs them: history expires by retention (404 → full resync with
nothing lost, no control API needed), the watch leaves out the sync's own label change, and a
watch refused for a missing Pub/Sub grant shows on the account with the exact guidance."""

from __future__ import annotations

import pytest

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.mail_watch import PUSH_GRANT_TEXT, PUSH_SERVICE_ACCOUNT, start_watch
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.engine import SYNC_LABEL
from tests.factories import make_contact, make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import customer_mail, emulator_mailbox, stored_mail

OWNER = "rep@wild-sales.example"
CUSTOMER = "buyer@client.example"
TOPIC = "projects/inboxcrm/topics/gmail"


def _account(runtime: Runtime, emulator: EmulatorHandle) -> int:
    emulator.create_user(OWNER)
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=[CUSTOMER])
        return make_mail_account(uow, email=OWNER, status="connected", scopes=list(SCOPES)).id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_history_expired_by_retention_turns_into_a_full_resync_with_nothing_lost(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    account_id = _account(runtime, emulator)
    first = emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Before"))["id"]
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).mode == "full"
    late = emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "After"))["id"]
    # Google keeps history about a week (the emulator's default retention): eight days later
    # the cursor is gone, with no control-API call to expire it.
    emulator.advance_clock(8 * 86400)

    report = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert report.status == "ok" and report.mode == "full" and report.resynced, report
    assert set(stored_mail(runtime, "acme")) == {first, late}
    newest = emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Newest"))["id"]
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).mode == "incremental"
    assert set(stored_mail(runtime, "acme")) == {first, late, newest}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_syncs_own_label_change_triggers_no_push(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"push_audience": "https://crm/hook"})
    account_id = _account(runtime, emulator)
    emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Before"))
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox).status == "ok"
    watch = emulator.user(OWNER)["watch"]
    assert watch is not None and watch["labelFilterBehavior"] == "exclude"
    labels = mailbox._list_labels()
    assert watch["labelIds"] == [labels[SYNC_LABEL.lower()]]

    before = emulator.push_counts(OWNER)
    emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "New mail"))  # due a push
    report = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert report.mode == "incremental" and report.stored == 1
    queued, filtered = emulator.push_counts(OWNER)
    assert queued - before[0] == 1  # only the new mail; ...
    assert filtered - before[1] == 1  # ... the "Synced to inboxcrm" label change was left out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_watch_refused_for_the_pubsub_grant_shows_on_the_account(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"push_audience": "https://crm/hook", "gmail_push_topic": TOPIC}
    )
    account_id = _account(runtime, emulator)
    emulator.set_config(push_denied_topics=[TOPIC])
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox).status == "ok"
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        assert row.notices["push"] == (
            "push not working: give gmail-api-push@system.gserviceaccount.com "
            "publish rights on projects/inboxcrm/topics/gmail"
        )
        assert row.notices["push"] == PUSH_GRANT_TEXT.format(
            account=PUSH_SERVICE_ACCOUNT, topic=TOPIC
        )
        assert row.watch_expiration is None

    # Once the admin grants it, the next watch (renewal) starts and clears the notice.
    emulator.set_config(push_denied_topics=[])
    assert start_watch(runtime, "acme", account_id, mailbox) is not None
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None and "push" not in row.notices
        assert row.watch_expiration is not None
