"""Tenant mail settings: storage policy, contact auto-creation, the never-log list; and the
per-account sync choices (labels, look-back) and the sync ledger view.

Write paths (each one function, one unit of work):

- :func:`update_mail_settings` (admins): storage policy ``full`` | ``snippet`` | ``metadata`` |
  ``live`` (applied to mail synced from then on; ``live`` stores no subject, snippet or body:
  they are fetched from Gmail when a message is opened, see services.live_mail) and contact
  auto-creation ``off`` | ``sent`` | ``sent_and_received``, and the optional Google features
  ``google_contacts_enabled`` / ``google_calendar_enabled`` (off by default; with one on, each
  user may grant its scope for their own mailbox, see services.google_features; meetings in
  services.meetings) and deal-state Gmail labels (``deal_state_labels_enabled``,
  services.deal_labels).
- :func:`add_never_log` (admins): the entry is stored and the synced mail it now excludes is
  removed at once: messages with no other CRM counterpart (with their timeline entries and
  attachment metadata) and timeline links that only existed through the blocked address.
- :func:`remove_never_log` (admins): the entry goes and a back-fill is queued for it.
- :func:`set_account_sync_options` (the account's owner or an admin): labels and look-back.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    MailAccountRow,
    NeverLogEntryRow,
    TenantSettingsRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.matching import NeverLogList
from inboxcrm.domain.roles import is_admin, require_admin, require_write
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.sync import ledger
from inboxcrm.sync.ingest import (
    ACTIVITY_KIND,
    build_matcher,
    load_address_book,
    parse_record_key,
    parsed_from_row,
)
from inboxcrm.sync.message_keys import release_message_keys

__all__ = [
    "AUTOCREATE_MODES",
    "STORAGE_POLICIES",
    "MailSettings",
    "account_ledger",
    "account_sync_options",
    "add_never_log",
    "get_mail_settings",
    "list_never_log",
    "normalize_never_log_entry",
    "remove_never_log",
    "set_account_sync_options",
    "update_mail_settings",
]

logger = logging.getLogger(__name__)

STORAGE_POLICIES = ("full", "snippet", "metadata", "live")
AUTOCREATE_MODES = ("off", "sent", "sent_and_received")
BACKFILL_TASK = "inboxcrm.mail.backfill_addresses"


@dataclass(frozen=True)
class MailSettings:
    storage_policy: str
    contact_autocreate: str
    google_contacts_enabled: bool = False
    google_calendar_enabled: bool = False
    deal_state_labels_enabled: bool = False


def _view(row: TenantSettingsRow) -> MailSettings:
    return MailSettings(
        row.mail_storage_policy,
        row.contact_autocreate,
        google_contacts_enabled=bool(row.google_contacts_enabled),
        google_calendar_enabled=bool(row.google_calendar_enabled),
        deal_state_labels_enabled=bool(row.deal_state_labels_enabled),
    )


def _settings_row(uow: UnitOfWork) -> TenantSettingsRow:
    row = uow.session.get(TenantSettingsRow, 1)
    if row is None:
        row = TenantSettingsRow(id=1, mail_storage_policy="full", contact_autocreate="off")
        uow.session.add(row)
        uow.session.flush()
    return row


def get_mail_settings(uow: UnitOfWork) -> MailSettings:
    row = uow.session.get(TenantSettingsRow, 1)
    if row is None:
        return MailSettings("full", "off")
    return _view(row)


def update_mail_settings(
    uow: UnitOfWork,
    principal: Principal,
    *,
    storage_policy: str | None = None,
    contact_autocreate: str | None = None,
    google_contacts_enabled: bool | None = None,
    google_calendar_enabled: bool | None = None,
    deal_state_labels_enabled: bool | None = None,
) -> MailSettings:
    require_admin(principal.role)
    if storage_policy is not None and storage_policy not in STORAGE_POLICIES:
        raise InvalidInput(
            f"storage_policy must be one of {STORAGE_POLICIES}", field="storage_policy"
        )
    if contact_autocreate is not None and contact_autocreate not in AUTOCREATE_MODES:
        raise InvalidInput(
            f"contact_autocreate must be one of {AUTOCREATE_MODES}", field="contact_autocreate"
        )
    row = _settings_row(uow)
    if storage_policy is not None:
        row.mail_storage_policy = storage_policy
    if contact_autocreate is not None:
        row.contact_autocreate = contact_autocreate
    if google_contacts_enabled is not None:
        row.google_contacts_enabled = google_contacts_enabled
    if google_calendar_enabled is not None:
        row.google_calendar_enabled = google_calendar_enabled
    if deal_state_labels_enabled is not None:
        row.deal_state_labels_enabled = deal_state_labels_enabled
    details: dict[str, Any] = {
        "storage_policy": storage_policy,
        "contact_autocreate": contact_autocreate,
    }
    for name, value in (
        ("google_contacts_enabled", google_contacts_enabled),
        ("google_calendar_enabled", google_calendar_enabled),
        ("deal_state_labels_enabled", deal_state_labels_enabled),
    ):
        if value is not None:
            details[name] = value
    record_event(
        uow,
        action="mail_settings.update",
        actor_user_id=principal.user_id,
        target="tenant_settings",
        details=details,
    )
    uow.commit()
    return _view(row)


def normalize_never_log_entry(raw: str) -> str:
    """An address in canonical form, or a bare lower-case domain."""
    text = raw.strip()
    if not text:
        raise InvalidInput("empty never-log entry", field="entry")
    if "@" in text and not text.startswith("@"):
        canonical = try_normalize_email(text)
        if canonical is None:
            raise InvalidInput(f"not an email address: {raw!r}", field="entry")
        return canonical
    domain = text.lstrip("@").rstrip(".").lower()
    if "." not in domain or any(c in domain for c in ' @/{}()"'):
        raise InvalidInput(f"not a domain: {raw!r}", field="entry")
    return domain


def never_log_audit_details(entry: str) -> dict[str, Any]:
    """What the audit log keeps of a never-log entry: a domain as is, an address only hashed
    (the audit log is append-only, so it must hold no address an erasure would have to remove).
    """
    if "@" not in entry:
        return {"domain": entry}
    return {"address_sha256": hashlib.sha256(entry.encode()).hexdigest()[:16]}


def list_never_log(uow: UnitOfWork) -> list[str]:
    return list(uow.session.scalars(select(NeverLogEntryRow.entry).order_by(NeverLogEntryRow.id)))


def add_never_log(runtime: Runtime, principal: Principal, raw_entry: str) -> int:
    """Add an entry; returns how many stored messages were removed because of it."""
    require_admin(principal.role)
    entry = normalize_never_log_entry(raw_entry)
    tenant = principal.tenant_slug
    with runtime.tenant_uow(tenant) as uow:
        exists = uow.session.scalar(
            select(NeverLogEntryRow.id).where(NeverLogEntryRow.entry == entry)
        )
        if exists is None:
            uow.session.add(NeverLogEntryRow(entry=entry, created_by_user_id=principal.user_id))
            uow.session.flush()
        removed = _apply_never_log(runtime, uow, tenant, NeverLogList.from_entries([entry]))
        record_event(
            uow,
            action="never_log.add",
            actor_user_id=principal.user_id,
            target="never_log",
            details={**never_log_audit_details(entry), "messages_removed": removed},
        )
        uow.commit()
    logger.info("never-log entry added in tenant %s; %d messages removed", tenant, removed)
    return removed


def _apply_never_log(runtime: Runtime, uow: UnitOfWork, tenant: str, added: NeverLogList) -> int:
    session = uow.session
    entries = list_never_log(uow)
    never_log = NeverLogList.from_entries(entries)
    secret = runtime.settings.secret_key.get_secret_value().encode("utf-8")
    book = load_address_book(session, tenant=tenant, bcc_secret=secret)
    removed = 0
    released: set[int] = set()
    for account in session.scalars(select(MailAccountRow)).all():
        own = [account.email, *((account.settings or {}).get("send_as") or [])]
        matcher = build_matcher(book, own, never_log)
        rows = session.scalars(
            select(EmailMessageRow).where(EmailMessageRow.mail_account_id == account.id)
        ).all()
        for row in rows:
            parsed = parsed_from_row(row)
            if not any(added.blocks(a) for a in parsed.participants):
                continue
            result = matcher.match(parsed)
            keep = {parse_record_key(k) for k in result.record_keys}
            links = session.scalars(
                select(ActivityRow).where(
                    ActivityRow.kind == ACTIVITY_KIND, ActivityRow.ref_id == row.message_key_id
                )
            ).all()
            for link in links:
                if (link.record_kind, link.record_id) not in keep and link.match_reason != "thread":
                    session.delete(link)
            if not result.stored:
                ledger.record_outcomes(
                    session,
                    account.id,
                    [(row.provider_message_id, "skipped", "never_log", None)],
                )
                released.add(row.message_key_id)
                session.delete(row)
                removed += 1
        session.flush()
    # The timeline entries of a message go with its last copy (colleagues' copies are removed
    # by the same rule in their own pass over the loop above).
    release_message_keys(session, released)
    return removed


def remove_never_log(uow: UnitOfWork, principal: Principal, raw_entry: str) -> None:
    """Remove an entry and queue a back-fill of the mail it kept out."""
    require_admin(principal.role)
    entry = normalize_never_log_entry(raw_entry)
    deleted = uow.session.execute(delete(NeverLogEntryRow).where(NeverLogEntryRow.entry == entry))
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"{entry} is not on the never-log list")
    backfill = entry if "@" in entry else "@" + entry
    uow.enqueue(BACKFILL_TASK, tenant=uow.tenant, addresses=[backfill])
    record_event(
        uow,
        action="never_log.remove",
        actor_user_id=principal.user_id,
        target="never_log",
        details=never_log_audit_details(entry),
    )
    uow.commit()


def _own_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    row = uow.session.get(MailAccountRow, account_id)
    if row is None:
        raise NotFound(f"no mail account {account_id}")
    if row.user_id != principal.user_id and not is_admin(principal.role):
        raise PermissionDenied("only the account's owner or an admin may do this")
    return row


def set_account_sync_options(
    uow: UnitOfWork,
    principal: Principal,
    account_id: int,
    *,
    labels: list[str] | None = None,
    lookback_days: int | None = None,
    clear_labels: bool = False,
) -> dict[str, Any]:
    """Per-account label choice (None keeps it; ``clear_labels`` → default) and look-back.

    A change to what is synced is a write: read-only members may not make it.
    """
    require_write(principal.role)
    row = _own_account(uow, principal, account_id)
    settings = dict(row.settings or {})
    if clear_labels:
        settings.pop("labels", None)
    elif labels is not None:
        cleaned = [str(x).strip() for x in labels if str(x).strip()]
        if not cleaned or len(cleaned) > 50:
            raise InvalidInput("give 1-50 label ids", field="labels")
        settings["labels"] = cleaned
    if lookback_days is not None:
        if not 1 <= lookback_days <= 3650:
            raise InvalidInput("lookback_days must be 1-3650", field="lookback_days")
        settings["lookback_days"] = lookback_days
    row.settings = settings
    record_event(
        uow,
        action="mail_account.sync_options",
        actor_user_id=principal.user_id,
        target=f"mail_account:{row.id}",
        details={"labels": settings.get("labels"), "lookback_days": settings.get("lookback_days")},
    )
    uow.commit()
    return {"labels": settings.get("labels"), "lookback_days": settings.get("lookback_days")}


def account_sync_options(uow: UnitOfWork, principal: Principal, account_id: int) -> dict[str, Any]:
    """The account's current label choice and look-back (None = the defaults); owner or admin."""
    settings = _own_account(uow, principal, account_id).settings or {}
    return {"labels": settings.get("labels"), "lookback_days": settings.get("lookback_days")}


def account_ledger(
    uow: UnitOfWork,
    principal: Principal,
    account_id: int,
    *,
    outcome: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> tuple[ledger.LedgerSummary, list[tuple[int, ledger.LedgerEntry]]]:
    """The account's ledger counts and a page of its entries (owner or admin only)."""
    _own_account(uow, principal, account_id)
    summary = ledger.ledger_summary(uow.session, account_id)
    entries = ledger.ledger_entries(
        uow.session, account_id, outcome=outcome, after_id=after_id, limit=limit
    )
    return summary, entries
