"""A small, believable tenant for the journey tests and the screenshots of docs/screenshots/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.notifications import notify
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

MAILBOX = "rep@acme.example.com"

_CONVERSATION = (
    ("in", "Quote for 50 office chairs",
     "Could you send us a quote for 50 office chairs? We would like to decide by Friday."),
    ("out", "Re: Quote for 50 office chairs",
     "Thanks for asking. Our quote is attached: 12,400 EUR, delivery included."),
    ("in", "Re: Quote for 50 office chairs",
     "Thanks, the quote is within our budget. Could you split furniture and assembly?"),
    ("out", "Re: Quote for 50 office chairs",
     "Of course: 11,200 EUR for the chairs and 1,200 EUR for assembly. See the updated quote."),
)  # fmt: skip


@dataclass(frozen=True)
class Showcase:
    account_id: int
    contact_id: int
    deal_id: int
    mailbox_id: int


def seed_showcase(runtime: Runtime, tenant: str = "acme", *, user_id: int = 1) -> Showcase:
    """Accounts, contacts, a lead, deals in several stages, a mail thread spread over weeks."""
    now = datetime.now(UTC).replace(microsecond=0)
    with runtime.tenant_uow(tenant) as uow:
        wayne = make_account(
            uow, name="Wayne Enterprises", domain="wayne-enterprises.example", industry="Logistics"
        )
        globex = make_account(uow, name="Globex", domain="globex.example", industry="Energy")
        bruce = make_contact(
            uow,
            first_name="Bruce",
            last_name="Wayne",
            title="Head of Procurement",
            account_id=wayne.id,
            emails=["bruce@wayne-enterprises.example"],
        )
        make_contact(
            uow,
            first_name="Lucius",
            last_name="Fox",
            title="CTO",
            account_id=wayne.id,
            emails=["lucius@wayne-enterprises.example"],
        )
        make_contact(
            uow,
            first_name="Hank",
            last_name="Scorpio",
            title="CEO",
            account_id=globex.id,
            emails=["hank@globex.example"],
        )
        make_lead(
            uow,
            first_name="Selina",
            last_name="Kyle",
            company="Kyle Antiques",
            emails=["selina@kyle-antiques.example"],
        )
        deal = make_deal(
            uow,
            name="Office chairs for the new floor",
            account_id=wayne.id,
            contact_id=bruce.id,
            stage="proposal",
            amount=Decimal("12400"),
            currency="EUR",
            close_date=date.today() + timedelta(days=21),
        )
        make_deal(
            uow,
            name="Fleet telematics pilot",
            account_id=wayne.id,
            stage="qualification",
            amount=Decimal("48000"),
            currency="EUR",
        )
        make_deal(
            uow,
            name="Energy dashboard",
            account_id=globex.id,
            stage="negotiation",
            amount=Decimal("23500"),
            currency="EUR",
        )
        mailbox = make_mail_account(
            uow, user_id=user_id, email=MAILBOX, display_name="Riley Rep", sync_phase="done"
        )
        key = ("contact", bruce.id)
        account_key = ("account", wayne.id)
        thread = make_thread(uow, mailbox, subject=_CONVERSATION[0][1])
        for position, (direction, subject, body) in enumerate(_CONVERSATION):
            inbound = direction == "in"
            make_email_message(
                uow,
                thread=thread,
                link_to=[key, account_key],
                from_address="bruce@wayne-enterprises.example" if inbound else MAILBOX,
                from_name="Bruce Wayne" if inbound else "Riley Rep",
                to_addresses=[MAILBOX if inbound else "bruce@wayne-enterprises.example"],
                direction="inbound" if inbound else "outbound",
                subject=subject,
                snippet=body,
                body_text=f"Hi,\n\n{body}\n\nBest regards,\n{'Bruce' if inbound else 'Riley'}",
                sent_at=now - timedelta(days=20 - position * 6, hours=3),
                match_detail="bruce@wayne-enterprises.example",
            )
        for week in range(1, 9):  # older single messages, so the weekly chart has a shape
            for n in range(week % 3 + 1):
                other = make_thread(uow, mailbox, subject=f"Delivery update, week {week}.{n}")
                make_email_message(
                    uow,
                    thread=other,
                    link_to=[key, account_key],
                    from_address="bruce@wayne-enterprises.example",
                    from_name="Bruce Wayne",
                    subject=other.subject,
                    snippet="The delivery is on schedule; the next one leaves on Monday.",
                    body_text="The delivery is on schedule; the next one leaves on Monday.",
                    direction="inbound" if n % 2 == 0 else "outbound",
                    sent_at=now - timedelta(weeks=week + 2, hours=n),
                )
        make_note(uow, key, body="Prefers calls before 10:00. Decides together with Lucius.")
        notify(uow, user_id, "sync_done", "Sync finished", "rep@acme.example.com is up to date.")
        uow.commit()
        return Showcase(
            account_id=wayne.id, contact_id=bruce.id, deal_id=deal.id, mailbox_id=mailbox.id
        )
