"""Deal-state labels in Gmail: "Deals Closing This Month", "Open Deals", "Customers".

When a tenant admin turns on ``deal_state_labels_enabled``, :func:`apply_all` (the job
``inboxcrm.calendar.apply_deal_labels``, every 10 minutes) labels the stored mail of contacts
by their deal state, in every connected Gmail mailbox whose grant allows labels (gmail.modify):

1. **States.** A contact is linked to a deal that names it (``deals.contact_id``) or its
   account (``deals.account_id`` = the contact's account). Linked to an open deal whose close
   date falls in the current month (UTC) → "Deals Closing This Month"; to any other open deal →
   "Open Deals"; to a won deal → "Customers". A contact in several states gets the first of
   :data:`LABELS` (that precedence), and so does a message on several contacts' timelines.
2. **Diff.** What inboxcrm applied before is kept per stored message
   (``deal_label_assignments``); the run computes what each message should carry now and
   changes only the difference: a new state adds the new label and removes the old one in the
   same ``messages.batchModify``; a contact with no state any more loses its label. Turning
   the switch off removes the labels inboxcrm applied.
3. **Only labels.** Nothing but these three labels is added or removed: mail is never deleted,
   trashed, archived or moved out of the inbox. The assignments are stored after Gmail
   accepted the change; a run that dies in between repeats an idempotent change.

A mailbox without gmail.modify is left alone and shows the ``labels`` notice
(services.gmail_grants).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from google.oauth2.credentials import Credentials
from sqlalchemy import select

from inboxcrm.adapters.db.calendar_tables import DealLabelAssignmentRow
from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    ContactRow,
    DealRow,
    EmailMessageRow,
    MailAccountRow,
    TenantSettingsRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderError, ProviderPermissionError
from inboxcrm.providers.gmail.labels import GmailLabelEditor
from inboxcrm.providers.gmail.scopes import features_of

__all__ = [
    "CLOSING",
    "CUSTOMERS",
    "LABELS",
    "OPEN",
    "LabelRun",
    "apply_all",
    "apply_tenant",
    "contact_states",
]

logger = logging.getLogger(__name__)

CLOSING = "Deals Closing This Month"
OPEN = "Open Deals"
CUSTOMERS = "Customers"
LABELS = (CLOSING, OPEN, CUSTOMERS)
"""In precedence order: a contact (or message) in several states gets the first."""


@dataclass(frozen=True)
class LabelRun:
    tenant: str
    added: int = 0
    removed: int = 0
    accounts: int = 0
    status: str = "ok"


def _enabled(uow: UnitOfWork) -> bool:
    row = uow.session.get(TenantSettingsRow, 1)
    return bool(row and row.deal_state_labels_enabled)


def _same_month(day: date, today: date) -> bool:
    return (day.year, day.month) == (today.year, today.month)


def contact_states(uow: UnitOfWork, today: date) -> dict[int, str]:
    """Contact id → its deal-state label (by the precedence of :data:`LABELS`)."""
    contacts_of_account: dict[int, list[int]] = defaultdict(list)
    for contact_id, account_id in uow.session.execute(
        select(ContactRow.id, ContactRow.account_id).where(
            ContactRow.deleted_at.is_(None), ContactRow.account_id.is_not(None)
        )
    ):
        if account_id is not None:
            contacts_of_account[account_id].append(contact_id)
    live = set(uow.session.scalars(select(ContactRow.id).where(ContactRow.deleted_at.is_(None))))
    best: dict[int, int] = {}
    deals = uow.session.execute(
        select(DealRow.contact_id, DealRow.account_id, DealRow.status, DealRow.close_date).where(
            DealRow.deleted_at.is_(None), DealRow.status.in_(("open", "won"))
        )
    )
    for deal_contact, deal_account, status, close_date in deals:
        if status == "won":
            rank = LABELS.index(CUSTOMERS)
        elif close_date is not None and _same_month(close_date, today):
            rank = LABELS.index(CLOSING)
        else:
            rank = LABELS.index(OPEN)
        linked: set[int] = (
            set(contacts_of_account.get(deal_account, [])) if deal_account is not None else set()
        )
        if deal_contact is not None:
            linked.add(deal_contact)
        for cid in linked & live:
            best[cid] = min(rank, best.get(cid, len(LABELS)))
    return {cid: LABELS[rank] for cid, rank in best.items()}


def _desired(uow: UnitOfWork, states: dict[int, str], account_ids: list[int]) -> dict[int, str]:
    """Stored message id (a mailbox's copy) → the label it should carry."""
    if not states or not account_ids:
        return {}
    rows = uow.session.execute(
        select(EmailMessageRow.id, ActivityRow.record_id)
        .join(ActivityRow, ActivityRow.ref_id == EmailMessageRow.message_key_id)
        .where(
            ActivityRow.kind == "email",
            ActivityRow.record_kind == "contact",
            ActivityRow.record_id.in_(sorted(states)),
            ActivityRow.deleted_at.is_(None),
            EmailMessageRow.deleted_at.is_(None),
            EmailMessageRow.mail_account_id.in_(account_ids),
        )
    )
    out: dict[int, str] = {}
    for message_id, contact_id in rows:
        label = states[contact_id]
        current = out.get(message_id)
        if current is None or LABELS.index(label) < LABELS.index(current):
            out[message_id] = label
    return out


def _labelling_accounts(uow: UnitOfWork) -> list[int]:
    rows = uow.session.scalars(
        select(MailAccountRow).where(
            MailAccountRow.provider == "gmail", MailAccountRow.status == "connected"
        )
    )
    return [row.id for row in rows if features_of(row.scopes or ())["labels"]]


def _editor(
    runtime: Runtime, tenant: str, account_id: int
) -> tuple[GmailLabelEditor, dict[str, str]]:
    """A label editor for the mailbox and the ids of the three labels (created if missing)."""
    from inboxcrm.services.mail_accounts import open_mailbox

    mailbox = open_mailbox(runtime, tenant, account_id)
    credentials = getattr(mailbox, "credentials", None)
    if not isinstance(credentials, Credentials):
        raise ProviderError(f"mail account {account_id} has no Google credentials")
    ids = {name: mailbox.ensure_label(name) for name in LABELS}
    return GmailLabelEditor(credentials, api_base=runtime.settings.google_api_base), ids


def apply_tenant(runtime: Runtime, tenant: str, now: datetime | None = None) -> LabelRun:
    """One labelling pass over a tenant (see the module docstring)."""
    today = (now or utcnow()).date()
    with runtime.tenant_uow(tenant) as uow:
        enabled = _enabled(uow)
        accounts = _labelling_accounts(uow)
        states = contact_states(uow, today) if enabled else {}
        desired = _desired(uow, states, accounts)
        current = {
            row.email_message_id: row.label
            for row in uow.session.scalars(select(DealLabelAssignmentRow))
        }
        if not enabled and not current:
            return LabelRun(tenant, status="disabled")
        involved = set(desired) | set(current)
        copies = {
            mid: (account_id, provider_id)
            for mid, account_id, provider_id in uow.session.execute(
                select(
                    EmailMessageRow.id,
                    EmailMessageRow.mail_account_id,
                    EmailMessageRow.provider_message_id,
                ).where(EmailMessageRow.id.in_(sorted(involved) or [0]))
            )
        }
    # (account, label to add, label to remove) → message ids
    changes: dict[tuple[int, str | None, str | None], list[int]] = defaultdict(list)
    for message_id in involved:
        want, have = desired.get(message_id), current.get(message_id)
        if want == have or message_id not in copies:
            continue
        account_id = copies[message_id][0]
        if account_id not in accounts:
            continue
        changes[(account_id, want, have)].append(message_id)
    added = removed = 0
    done_accounts: set[int] = set()
    by_account: dict[int, list[tuple[str | None, str | None, list[int]]]] = defaultdict(list)
    for (account_id, want, have), ids in changes.items():
        by_account[account_id].append((want, have, ids))
    for account_id, groups in sorted(by_account.items()):
        try:
            editor, label_ids = _editor(runtime, tenant, account_id)
            applied: list[tuple[str | None, list[int]]] = []
            for want, have, ids in groups:
                editor.modify(
                    [copies[m][1] for m in ids],
                    add=[label_ids[want]] if want else [],
                    remove=[label_ids[have]] if have else [],
                )
                applied.append((want, ids))
        except ProviderPermissionError:
            from inboxcrm.services.gmail_grants import record_degraded_features

            record_degraded_features(runtime, tenant, account_id, ["labels"])
            continue
        except ProviderError as exc:
            logger.warning("deal labels of account %s in tenant %s: %s", account_id, tenant, exc)
            continue
        with runtime.tenant_uow(tenant) as uow:
            for want, ids in applied:
                for message_id in ids:
                    row = uow.session.get(DealLabelAssignmentRow, message_id)
                    if want is None:
                        if row is not None:
                            uow.session.delete(row)
                            removed += 1
                    elif row is None:
                        uow.session.add(
                            DealLabelAssignmentRow(email_message_id=message_id, label=want)
                        )
                        added += 1
                    else:
                        row.label = want
                        row.applied_at = utcnow()
                        added += 1
            uow.commit()
        done_accounts.add(account_id)
    if added or removed:
        logger.info(
            "deal labels in tenant %s: %d applied, %d removed over %d mailboxes",
            tenant,
            added,
            removed,
            len(done_accounts),
        )
    return LabelRun(tenant, added, removed, len(done_accounts))


def apply_all(runtime: Runtime, now: datetime | None = None) -> list[LabelRun]:
    with runtime.control_uow() as uow:
        tenants = list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )
    runs = []
    for tenant in tenants:
        try:
            runs.append(apply_tenant(runtime, tenant, now))
        except Exception:
            logger.exception("deal labels of tenant %s not applied", tenant)
    return runs
