"""Deal-state labels: stored mail of contacts gets "Deals Closing This Month", "Open Deals" or
"Customers" by that precedence, labels move or go when deal states change, and nothing but
those labels changes (every message stays in the inbox, none is removed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from inboxcrm.adapters.db.tenant_tables import ContactRow, DealRow
from inboxcrm.services import deal_labels
from inboxcrm.services.mail_sync import sync_account
from tests.factories import make_account, make_contact, make_deal
from tests.integration.calendar.conftest import CUSTOMER, OWNER, CalendarRoom
from tests.integration.sending.conftest import customer_mail
from tests.integration.sync.conftest import emulator_mailbox

ANNA = "anna@kunde.example"
CARL = "carl@bestand.example"
DORA = "dora@niemand.example"


def _labels_by_sender(room: CalendarRoom) -> dict[str, set[str]]:
    mailbox = emulator_mailbox(room.emulator, OWNER)
    names = {
        label["id"]: label["name"]
        for label in mailbox._users.labels().list(userId="me").execute(http=mailbox._http)["labels"]
    }
    out: dict[str, set[str]] = {}
    for ref in mailbox.iter_message_ids(label_ids=["INBOX"]):
        data: dict[str, Any] = (
            mailbox._users.messages()
            .get(userId="me", id=ref.id, format="metadata", metadataHeaders=["From"])
            .execute(http=mailbox._http)
        )
        sender = next(h["value"] for h in data["payload"]["headers"] if h["name"] == "From")
        out[sender] = {names.get(i, i) for i in data.get("labelIds", [])}
    return out


def test_labels_follow_deal_states_with_precedence(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    today = datetime.now(UTC).date()
    with room.runtime.tenant_uow("acme") as uow:
        kunde = make_account(uow, name="Kunde GmbH")
        joerg = uow.session.get(ContactRow, room.contact_id)
        assert joerg is not None
        joerg.account_id = kunde.id
        uow.commit()
        anna = make_contact(uow, first_name="Anna", emails=[ANNA])
        carl = make_contact(uow, first_name="Carl", emails=[CARL])
        make_contact(uow, first_name="Dora", emails=[DORA])
        closing = make_deal(uow, name="Closing", contact_id=room.contact_id, close_date=today)
        make_deal(uow, name="Open", contact_id=anna.id, close_date=today + timedelta(days=400))
        make_deal(uow, name="Won before", contact_id=anna.id, status="won")
        won = make_deal(uow, name="Won", contact_id=carl.id, status="won")
        anna_id, closing_id, won_id = anna.id, closing.id, won.id
    for sender in (CUSTOMER, ANNA, CARL, DORA):
        room.emulator.deliver(OWNER, customer_mail(sender, OWNER, f"Mail von {sender}"))
    assert sync_account(room.runtime, "acme", room.account_id).status == "ok"

    assert deal_labels.apply_tenant(room.runtime, "acme").status == "disabled"
    enabled = room.client.patch(
        "/api/v1/mail-settings",
        json={"deal_state_labels_enabled": True},
        headers=room.admin.headers,
    )
    assert enabled.status_code == 200 and enabled.json()["deal_state_labels_enabled"] is True

    run = deal_labels.apply_tenant(room.runtime, "acme")
    assert run.added == 3 and run.removed == 0
    labels = _labels_by_sender(room)
    state = {s: got & set(deal_labels.LABELS) for s, got in labels.items()}
    assert state == {
        CUSTOMER: {"Deals Closing This Month"},
        ANNA: {"Open Deals"},  # open before won: the first state wins
        CARL: {"Customers"},
        DORA: set(),
    }
    assert all("INBOX" in got for got in labels.values())
    assert deal_labels.apply_tenant(room.runtime, "acme").added == 0  # nothing to change

    # Jörg's deal is won, Carl's is deleted, Anna's open deal is lost: labels move or go.
    with room.runtime.tenant_uow("acme") as uow:
        for deal_id, change in (
            (closing_id, {"status": "won"}),
            (won_id, {"deleted_at": datetime.now(UTC)}),
        ):
            deal = uow.session.get(DealRow, deal_id)
            assert deal is not None
            for key, value in change.items():
                setattr(deal, key, value)
        for deal in uow.session.query(DealRow).filter_by(contact_id=anna_id, status="open"):
            deal.status = "lost"
        uow.commit()
    run = deal_labels.apply_tenant(room.runtime, "acme")
    labels = _labels_by_sender(room)
    state = {s: got & set(deal_labels.LABELS) for s, got in labels.items()}
    assert state == {CUSTOMER: {"Customers"}, ANNA: {"Customers"}, CARL: set(), DORA: set()}
    assert len(labels) == 4 and all("INBOX" in got for got in labels.values())

    # Switched off: inboxcrm's labels are taken off again, the mail stays.
    room.client.patch(
        "/api/v1/mail-settings",
        json={"deal_state_labels_enabled": False},
        headers=room.admin.headers,
    )
    deal_labels.apply_tenant(room.runtime, "acme")
    labels = _labels_by_sender(room)
    assert all(not (got & set(deal_labels.LABELS)) for got in labels.values())
    assert len(labels) == 4 and all("INBOX" in got for got in labels.values())


def test_contact_states_precedence_unit(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    with room.runtime.tenant_uow("acme") as uow:
        company = make_account(uow, name="Beide AG")
        person = make_contact(uow, first_name="Bea", emails=["bea@beide.example"])
        person.account_id = company.id
        uow.commit()
        make_deal(uow, account_id=company.id, status="won")
        make_deal(uow, contact_id=person.id, close_date=date(2031, 1, 15))
        assert deal_labels.contact_states(uow, date(2031, 1, 2))[person.id] == (
            "Deals Closing This Month"
        )
        assert deal_labels.contact_states(uow, date(2031, 2, 2))[person.id] == "Open Deals"
