"""Sample CRM data for the demo tenant, built from the demo mailbox's customer correspondents.

Customers on company domains become Accounts with their Contacts; customers on free-mail addresses
become Leads. A few deals and notes give the pipeline board and timelines something to show.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services.deals import DealCreate, create_deal
from inboxcrm.services.identity import Principal
from inboxcrm.services.notes import NoteCreate, create_note
from inboxcrm.services.records import (
    AccountCreate,
    ContactCreate,
    LeadCreate,
    create_account,
    create_contact,
    create_lead,
)

_STAGES = ("qualification", "proposal", "negotiation", "closed")


@dataclass(frozen=True)
class DemoSeed:
    accounts: int
    contacts: int
    leads: int
    deals: int
    customer_addresses: tuple[str, ...]


def _split_name(name: str, email: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) >= 2:
        return parts[0], " ".join(parts[1:])
    return (parts[0] if parts else email.split("@")[0]), ""


def _company_name(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def seed_demo_records(
    uow: UnitOfWork,
    principal: Principal,
    correspondents: Sequence[dict[str, Any]],
    *,
    seed: int = 7,
) -> DemoSeed:
    """Create Accounts, Contacts, Leads, Deals and Notes for the customer correspondents."""
    rng = random.Random(seed)
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    free_mail: list[dict[str, Any]] = []
    for person in correspondents:
        if not person.get("customer"):
            continue
        if person.get("kind") == "customer-domain":
            by_domain[person["email"].split("@", 1)[1]].append(person)
        else:
            free_mail.append(person)

    contacts = leads = deals = 0
    addresses: list[str] = []
    for domain, people in sorted(by_domain.items()):
        account = create_account(
            uow, principal, AccountCreate(name=_company_name(domain), domain=domain)
        )
        first_contact_id: int | None = None
        for person in people:
            first, last = _split_name(person.get("name", ""), person["email"])
            contact = create_contact(
                uow,
                principal,
                ContactCreate(
                    first_name=first,
                    last_name=last,
                    account_id=account.id,
                    emails=[person["email"]],
                    title=rng.choice(["Head of Operations", "CTO", "Buyer", "CFO", "Founder"]),
                ),
            )
            addresses.append(person["email"])
            contacts += 1
            first_contact_id = first_contact_id or contact.id
        stage = rng.choice(_STAGES)
        status = "open" if stage != "closed" else rng.choice(["won", "lost"])
        create_deal(
            uow,
            principal,
            DealCreate(
                name=f"{account.name} subscription",
                stage=stage,
                status=status,
                amount=Decimal(rng.randrange(20, 400) * 100),
                currency="EUR",
                close_date=(datetime.now(UTC) + timedelta(days=rng.randrange(-20, 90))).date(),
                account_id=account.id,
                contact_id=first_contact_id,
            ),
        )
        deals += 1
        create_note(
            uow,
            principal,
            NoteCreate(
                record_kind="account",
                record_id=account.id,
                body=f"Kick-off call with {account.name}; they asked for a proposal by month end.",
            ),
        )
    for person in free_mail:
        first, last = _split_name(person.get("name", ""), person["email"])
        create_lead(
            uow,
            principal,
            LeadCreate(first_name=first, last_name=last, emails=[person["email"]], source="email"),
        )
        addresses.append(person["email"])
        leads += 1
    return DemoSeed(
        accounts=len(by_domain),
        contacts=contacts,
        leads=leads,
        deals=deals,
        customer_addresses=tuple(addresses),
    )
