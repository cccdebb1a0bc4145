"""New customer mail alerts: a notification when a customer writes to a user's mailbox.

- A **customer** is a live Account with a live deal whose status is ``won``, a live Contact
  with such a deal, or a live Contact of such an Account (deals on an Account or a Contact,
  see :mod:`inboxcrm.services.deals`). Leads are never customers.
- The alert is **per user and off by default**: :func:`set_customer_mail_alerts`
  (``PATCH /api/v1/me`` with ``customer_mail_alerts``) is the one write path.
- :func:`alert_customer_mail` runs at the end of every sync run of a mailbox (push and poll
  both end in one, see :func:`inboxcrm.services.mail_sync.sync_account`), never inside the
  ingest loop. Each mailbox keeps a mark: the newest stored message already considered. An
  incremental run looks at the inbound messages stored since the mark whose ``sent_at`` is
  at most a day older than the previous check (mail a back-fill or a full sync stored is old
  and never alerts); a full run only moves the mark. The mailbox's owner, if they opted in,
  gets one notification per customer record per run, linking to the record's page. The
  mark and the notifications commit together, and a mailbox's runs never overlap (the sync
  lease), so a message alerts at most once.
- Notifications name the record and the mailbox, never the subject or body of the mail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.google_contact_tables import (
    CustomerAlertMarkRow,
    CustomerAlertPreferenceRow,
)
from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    DealRow,
    EmailMessageRow,
    MailAccountRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.notifications import notify

__all__ = [
    "alert_customer_mail",
    "customer_mail_alerts_enabled",
    "customer_records",
    "set_customer_mail_alerts",
]

logger = logging.getLogger(__name__)

SENT_SLACK = timedelta(days=1)
MAX_ALERTS_PER_RUN = 20
"""At most this many notifications for one mailbox and run (one per customer record)."""


def customer_mail_alerts_enabled(uow: UnitOfWork, user_id: int) -> bool:
    row = uow.session.get(CustomerAlertPreferenceRow, user_id)
    return bool(row is not None and row.enabled)


def set_customer_mail_alerts(uow: UnitOfWork, principal: Principal, enabled: bool) -> bool:
    """Turn the caller's new-customer-mail notifications on or off (their own setting)."""
    row = uow.session.get(CustomerAlertPreferenceRow, principal.user_id)
    if row is None:
        row = CustomerAlertPreferenceRow(user_id=principal.user_id)
        uow.session.add(row)
    row.enabled = enabled
    record_event(
        uow,
        action="preferences.customer_mail_alerts",
        actor_user_id=principal.user_id,
        target=f"user:{principal.user_id}",
        details={"enabled": enabled},
    )
    uow.commit()
    logger.info("user %s set customer mail alerts %s", principal.user_id, enabled)
    return enabled


def _won(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(DealRow.id).where(DealRow.status == "won", DealRow.deleted_at.is_(None), *conditions)
    )


def customer_records(session: Session, keys: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Of the ``(kind, id)`` records given, the customers (see the module docstring), with
    their display names."""
    contact_ids = [i for k, i in keys if k == "contact"]
    account_ids = [i for k, i in keys if k == "account"]
    found: dict[tuple[str, int], str] = {}
    if contact_ids:
        rows = session.execute(
            select(ContactRow.id, ContactRow.first_name, ContactRow.last_name, AccountRow.name)
            .outerjoin(
                AccountRow,
                (AccountRow.id == ContactRow.account_id) & AccountRow.deleted_at.is_(None),
            )
            .where(
                ContactRow.id.in_(contact_ids),
                ContactRow.deleted_at.is_(None),
                or_(
                    _won(DealRow.contact_id == ContactRow.id),
                    (AccountRow.id.is_not(None)) & _won(DealRow.account_id == AccountRow.id),
                ),
            )
        )
        for row in rows:
            name = f"{row.first_name} {row.last_name}".strip() or "A customer"
            found[("contact", row.id)] = f"{name} ({row.name})" if row.name else name
    if account_ids:
        rows = session.execute(
            select(AccountRow.id, AccountRow.name).where(
                AccountRow.id.in_(account_ids),
                AccountRow.deleted_at.is_(None),
                _won(DealRow.account_id == AccountRow.id),
            )
        )
        for row in rows:
            found[("account", row.id)] = row.name
    return found


def alert_customer_mail(
    runtime: Runtime, tenant: str, account_id: int, *, incremental: bool
) -> int:
    """Notify the mailbox's owner of customer mail the run stored; returns the alerts sent."""
    with runtime.tenant_uow(tenant) as uow:
        session = uow.session
        account = session.get(MailAccountRow, account_id)
        if account is None:
            return 0
        newest = int(
            session.scalar(
                select(func.max(EmailMessageRow.id)).where(
                    EmailMessageRow.mail_account_id == account_id
                )
            )
            or 0
        )
        now = utcnow()
        mark = session.get(CustomerAlertMarkRow, account_id)
        if mark is None:  # the first run of a mailbox considers nothing older
            session.add(
                CustomerAlertMarkRow(
                    mail_account_id=account_id, last_message_id=newest, updated_at=now
                )
            )
            uow.commit()
            return 0
        previous, checked_at = mark.last_message_id, mark.updated_at
        mark.last_message_id = max(previous, newest)
        mark.updated_at = now
        sent = 0
        wanted = incremental and newest > previous
        if wanted and customer_mail_alerts_enabled(uow, account.user_id):
            sent = _notify_new_customer_mail(
                uow, account, previous, newest, checked_at - SENT_SLACK
            )
        uow.commit()
    if sent:
        logger.info(
            "%d customer mail alerts for mail account %s in tenant %s", sent, account_id, tenant
        )
    return sent


def _notify_new_customer_mail(
    uow: UnitOfWork,
    account: MailAccountRow,
    after_id: int,
    upto_id: int,
    sent_after: datetime,
) -> int:
    session = uow.session
    messages = session.execute(
        select(EmailMessageRow.message_key_id).where(
            EmailMessageRow.mail_account_id == account.id,
            EmailMessageRow.id > after_id,
            EmailMessageRow.id <= upto_id,
            EmailMessageRow.direction == "inbound",
            EmailMessageRow.deleted_at.is_(None),
            EmailMessageRow.sent_at >= sent_after,
        )
    )
    keys = [row.message_key_id for row in messages]
    if not keys:
        return 0
    links = session.execute(
        select(ActivityRow.record_kind, ActivityRow.record_id, ActivityRow.ref_id).where(
            ActivityRow.kind == "email",
            ActivityRow.ref_id.in_(keys),
            ActivityRow.deleted_at.is_(None),
            ActivityRow.record_kind.in_(("contact", "account")),
        )
    )
    by_record: dict[tuple[str, int], set[int]] = defaultdict(set)
    for link in links:
        by_record[(link.record_kind, link.record_id)].add(link.ref_id)
    customers = customer_records(session, set(by_record))
    # A contact and its account both matching one message: name the contact only.
    covered: set[int] = set()
    sent = 0
    for key in sorted(customers, key=lambda k: (k[0] != "contact", k[1])):
        if sent >= MAX_ALERTS_PER_RUN:
            break
        fresh = by_record[key] - covered
        if not fresh:
            continue
        covered |= fresh
        count = len(fresh)
        kind, record_id = key
        notify(
            uow,
            account.user_id,
            "customer_mail",
            f"New mail from customer {customers[key]}"[:300],
            f"{count} new {'message' if count == 1 else 'messages'} in {account.email}.",
            link=f"/{kind}s/{record_id}",
        )
        sent += 1
    return sent
