"""Meetings: Google Calendar events on record timelines, and meetings created in the CRM.

The whole picture, in the order things happen:

1. **Switches and permission.** Nothing here runs unless a tenant admin turned on
   ``google_calendar_enabled`` (``PATCH /api/v1/mail-settings``) and the mailbox's stored
   ``scopes`` hold ``calendar.events`` (or full ``calendar``). A mailbox without the scope
   gets a ``calendar`` notice on the account (and its owner one notification): the feature
   degrades, mail sync carries on.
2. **Calendar → meetings** (:func:`sync_calendar`, the job ``inboxcrm.calendar.sync_account``,
   queued by ``POST /api/v1/mail-accounts/{id}/calendar-sync`` and every
   :data:`SYNC_INTERVAL_SECONDS` for every mailbox). With a stored sync token the run lists the
   changes since it (cancelled events included); without one, or when Google answers 410 Gone,
   it lists in full the window of :data:`LOOKBACK_DAYS` back and :data:`LOOKAHEAD_DAYS` ahead,
   recurring events as their instances (``singleEvents``), and meetings of the window that the
   full listing no longer shows are cancelled. Each event is one ``meetings`` row per mailbox;
   an event whose etag equals the stored one is the echo of inboxcrm's own write and changes
   nothing. A changed event updates the row; a cancelled one (or a cancelled series) marks it
   ``cancelled``. The token is stored with the changes in one unit of work.
3. **Timelines.** A meeting is on the timeline (``activities`` kind ``meeting``, ``occurred_at``
   = its start) of every live Lead, Contact or Account one of whose addresses is an attendee
   or the organiser, and of the record it was created on. When attendees change, entries are
   added and removed; when it moves, its entries move.
4. **CRM → Calendar** (:func:`create_meeting`, :func:`update_meeting`). The meeting is stored
   first (``push_pending``), with the event id inboxcrm chooses (:func:`crm_event_id`, so a
   retried insert finds the first one) and the source marker
   ``extendedProperties.private.inboxcrmMeetingId``; then the event is inserted (or patched)
   in the organiser's primary calendar, with the attendees, and the etag Google answered is
   stored, so the next sync recognises its own write. A failed write leaves ``push_pending``
   and queues ``inboxcrm.calendar.push_meeting``, which repeats it.

So each edit reaches the other side once: a CRM edit is one ``events.patch``, and its echo in
the next listing carries the etag stored from that patch; a Google edit is one update of the
row and is never written back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.oauth2.credentials import Credentials
from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError

from inboxcrm.adapters.db.calendar_tables import CalendarSyncStateRow, MeetingRow
from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    MailAccountRow,
    RecordEmailRow,
    TenantSettingsRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderAuthError,
    ProviderError,
    ProviderPermissionError,
    ProviderTransientError,
)
from inboxcrm.domain.roles import is_admin, require_write
from inboxcrm.providers.gmail.calendar_client import (
    CALENDAR_EVENTS_SCOPE,
    CALENDAR_FULL_SCOPE,
    SOURCE_KEY,
    CalendarEvent,
    EventAttendee,
    EventDraft,
    GoogleCalendar,
    SyncTokenExpired,
    crm_event_id,
)
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.notifications import notify
from inboxcrm.services.records import record_alive, require_record

__all__ = [
    "CALENDAR_NOTICE",
    "LOOKAHEAD_DAYS",
    "LOOKBACK_DAYS",
    "MEETING_KIND",
    "CalendarSyncReport",
    "MeetingRequest",
    "MeetingView",
    "calendar_enabled",
    "create_meeting",
    "erase_attendee",
    "get_meeting",
    "has_calendar_scope",
    "push_meeting",
    "queue_calendar_syncs",
    "request_calendar_sync",
    "sync_calendar",
    "update_meeting",
]

logger = logging.getLogger(__name__)

MEETING_KIND = "meeting"
SYNC_TASK = "inboxcrm.calendar.sync_account"
PUSH_TASK = "inboxcrm.calendar.push_meeting"
LOOKBACK_DAYS = 30
LOOKAHEAD_DAYS = 180
SYNC_INTERVAL_SECONDS = 900
MAX_ATTENDEES = 100
CALENDAR_NOTICE = (
    "inboxcrm may not read or write this mailbox's Google Calendar (the calendar.events "
    "permission is missing), so its meetings do not reach the timelines. Mail sync continues. "
    "Grant the Calendar permission under Setup → Email."
)
STATUSES = ("confirmed", "cancelled")


# -- switches and permission ------------------------------------------------------------------


def calendar_enabled(uow: UnitOfWork) -> bool:
    row = uow.session.get(TenantSettingsRow, 1)
    return bool(row and row.google_calendar_enabled)


def has_calendar_scope(scopes: Iterable[str] | None) -> bool:
    granted = set(scopes or ())
    return CALENDAR_EVENTS_SCOPE in granted or CALENDAR_FULL_SCOPE in granted


def note_missing_scope(uow: UnitOfWork, account: MailAccountRow) -> None:
    """Put the ``calendar`` notice on the account and notify its owner the first time."""
    notices = dict(account.notices or {})
    if "calendar" in notices:
        return
    notices["calendar"] = CALENDAR_NOTICE
    account.notices = notices
    notify(
        uow,
        account.user_id,
        "mail_account_degraded",
        f"{account.email}: Calendar permission missing",
        CALENDAR_NOTICE,
    )


def _clear_notice(account: MailAccountRow) -> None:
    if "calendar" in (account.notices or {}):
        account.notices = {k: v for k, v in account.notices.items() if k != "calendar"}


def open_calendar(runtime: Runtime, tenant: str, account_id: int) -> GoogleCalendar:
    """A Calendar client on the account's (refreshed, stored) OAuth credentials."""
    from inboxcrm.services.mail_accounts import open_mailbox

    factory = runtime.extras.get("calendar_factory")
    if callable(factory):
        calendar: GoogleCalendar = factory(tenant, account_id)
        return calendar
    mailbox = open_mailbox(runtime, tenant, account_id)
    credentials = getattr(mailbox, "credentials", None)
    if not isinstance(credentials, Credentials):
        raise ProviderError(f"mail account {account_id} has no Google credentials")
    return GoogleCalendar(credentials, api_base=runtime.settings.google_api_base)


# -- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingView:
    id: int
    mail_account_id: int
    provider_event_id: str | None
    recurring_event_id: str | None
    title: str
    description: str
    location: str
    start: datetime
    end: datetime
    all_day: bool
    status: str
    attendees: list[dict[str, Any]]
    organizer_email: str
    source: str
    record_kind: str | None
    record_id: int | None
    push_pending: bool


def meeting_view(row: MeetingRow) -> MeetingView:
    return MeetingView(
        id=row.id,
        mail_account_id=row.mail_account_id,
        provider_event_id=row.provider_event_id,
        recurring_event_id=row.recurring_event_id,
        title=row.title,
        description=row.description,
        location=row.location,
        start=row.start_at,
        end=row.end_at,
        all_day=row.all_day,
        status=row.status,
        attendees=[dict(a) for a in row.attendees or []],
        organizer_email=row.organizer_email,
        source=row.source,
        record_kind=row.record_kind,
        record_id=row.record_id,
        push_pending=row.push_pending,
    )


def get_meeting(uow: UnitOfWork, principal: Principal, meeting_id: int) -> MeetingView:
    row = uow.session.get(MeetingRow, meeting_id)
    if row is None:
        raise NotFound(f"no meeting {meeting_id}")
    return meeting_view(row)


# -- timelines ----------------------------------------------------------------------------------


def _record_keys(uow: UnitOfWork, meeting: MeetingRow, own: set[str]) -> set[tuple[str, int]]:
    """The live records the meeting belongs on (see the module docstring, step 3)."""
    addresses = {try_normalize_email(str(a.get("email") or "")) for a in meeting.attendees or []}
    addresses.add(try_normalize_email(meeting.organizer_email or ""))
    wanted = {a for a in addresses if a and a not in own}
    keys: set[tuple[str, int]] = set()
    if wanted:
        rows = uow.session.execute(
            select(RecordEmailRow.record_kind, RecordEmailRow.record_id).where(
                RecordEmailRow.email.in_(sorted(wanted)),
                record_alive(RecordEmailRow.record_kind, RecordEmailRow.record_id),
            )
        )
        keys = {(kind, rid) for kind, rid in rows}
    if meeting.record_kind and meeting.record_id is not None:
        keys.add((meeting.record_kind, meeting.record_id))
    return keys


def _own_addresses(account: MailAccountRow) -> set[str]:
    raw = [account.email, *((account.settings or {}).get("send_as") or [])]
    return {a for a in (try_normalize_email(str(x)) for x in raw) if a}


def link_meeting(uow: UnitOfWork, meeting: MeetingRow, account: MailAccountRow) -> None:
    """Make the meeting's timeline entries exactly those of its records, at its start."""
    wanted = _record_keys(uow, meeting, _own_addresses(account))
    existing = {
        (row.record_kind, row.record_id): row
        for row in uow.session.scalars(
            select(ActivityRow).where(
                ActivityRow.kind == MEETING_KIND, ActivityRow.ref_id == meeting.id
            )
        )
    }
    summary = (meeting.title or "Meeting")[:300]
    for key, row in existing.items():
        if key not in wanted:
            uow.session.delete(row)
        else:
            row.occurred_at = meeting.start_at
            row.summary = summary
    for kind, record_id in sorted(wanted - set(existing)):
        uow.session.add(
            ActivityRow(
                record_kind=kind,
                record_id=record_id,
                kind=MEETING_KIND,
                ref_id=meeting.id,
                occurred_at=meeting.start_at,
                summary=summary,
                match_reason="attendee",
            )
        )
    uow.session.flush()


# -- Calendar → meetings ------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarSyncReport:
    """``status``: ok, disabled, not_connected, missing_scope, failed."""

    tenant: str
    account_id: int
    status: str
    full: bool = False
    changed: int = 0
    unchanged: int = 0
    cancelled: int = 0
    error: str | None = None


def request_calendar_sync(uow: UnitOfWork, principal: Principal, account_id: int) -> None:
    """Queue a calendar sync of the account (its owner or an admin)."""
    require_write(principal.role)
    account = uow.session.get(MailAccountRow, account_id)
    if account is None or (account.user_id != principal.user_id and not is_admin(principal.role)):
        raise NotFound(f"no mail account {account_id}")
    if not calendar_enabled(uow):
        raise Conflict("Google Calendar is not enabled for this workspace (Setup → Email)")
    if account.provider != "gmail" or account.status == "disconnected":
        raise Conflict(f"mail account {account_id} is not a connected Gmail account")
    if not has_calendar_scope(account.scopes):
        note_missing_scope(uow, account)
        uow.commit()
        raise Conflict("this mailbox has not granted the Calendar permission (calendar.events)")
    uow.enqueue(SYNC_TASK, tenant=uow.tenant, account_id=account.id)
    uow.commit()


def _attendees_json(attendees: Sequence[EventAttendee]) -> list[dict[str, Any]]:
    return [
        {"email": a.email, "name": a.name, "response": a.response} for a in attendees if a.email
    ]


def _apply_fields(row: MeetingRow, event: CalendarEvent) -> None:
    row.title = event.title[:500]
    row.description = event.description
    row.location = event.location[:500]
    if event.start is not None:
        row.start_at = event.start
    if event.end is not None:
        row.end_at = event.end
    row.all_day = event.all_day
    row.status = "cancelled" if event.status == "cancelled" else "confirmed"
    row.attendees = _attendees_json(event.attendees)
    if event.organizer_email:
        row.organizer_email = event.organizer_email
    row.recurring_event_id = event.recurring_event_id
    row.provider_etag = event.etag
    row.provider_updated = event.updated


def _find(uow: UnitOfWork, account_id: int, event: CalendarEvent) -> MeetingRow | None:
    row = uow.session.scalar(
        select(MeetingRow).where(
            MeetingRow.mail_account_id == account_id, MeetingRow.provider_event_id == event.id
        )
    )
    if row is None and event.private.get(SOURCE_KEY, "").isdigit():
        marked = uow.session.get(MeetingRow, int(event.private[SOURCE_KEY]))
        if marked is not None and marked.mail_account_id == account_id:
            marked.provider_event_id = event.id
            return marked
    return row


def _apply_event(uow: UnitOfWork, account: MailAccountRow, event: CalendarEvent) -> str:
    """Store one listed event; returns ``changed``, ``unchanged`` or ``cancelled``."""
    row = _find(uow, account.id, event)
    if event.status == "cancelled":
        series = list(
            uow.session.scalars(
                select(MeetingRow).where(
                    MeetingRow.mail_account_id == account.id,
                    MeetingRow.recurring_event_id == event.id,
                    MeetingRow.status != "cancelled",
                )
            )
        )
        targets = [r for r in [row, *series] if r is not None and r.status != "cancelled"]
        for target in targets:
            target.status = "cancelled"
            if target is row:
                target.provider_etag = event.etag or target.provider_etag
        return "cancelled" if targets else "unchanged"
    if row is not None and event.etag and row.provider_etag == event.etag:
        return "unchanged"
    if event.start is None or event.end is None:
        return "unchanged"
    if row is None:
        row = MeetingRow(
            mail_account_id=account.id,
            organizer_user_id=account.user_id,
            organizer_email=event.organizer_email or account.email,
            provider_event_id=event.id,
            source="google",
            start_at=event.start,
            end_at=event.end,
        )
        uow.session.add(row)
    elif row.push_pending:
        # A CRM edit not yet written to Google wins; the push job writes it (and then its
        # etag is the one stored).
        return "unchanged"
    _apply_fields(row, event)
    uow.session.flush()
    link_meeting(uow, row, account)
    return "changed"


def _window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=LOOKBACK_DAYS), now + timedelta(days=LOOKAHEAD_DAYS)


def sync_calendar(
    runtime: Runtime, tenant: str, account_id: int, *, full: bool = False
) -> CalendarSyncReport:
    """One calendar run of one mailbox (see the module docstring, step 2)."""
    with runtime.tenant_uow(tenant) as uow:
        account = uow.session.get(MailAccountRow, account_id)
        if account is None or account.status != "connected" or account.provider != "gmail":
            return CalendarSyncReport(tenant, account_id, "not_connected")
        if not calendar_enabled(uow):
            return CalendarSyncReport(tenant, account_id, "disabled")
        if not has_calendar_scope(account.scopes):
            note_missing_scope(uow, account)
            uow.commit()
            return CalendarSyncReport(tenant, account_id, "missing_scope")
        state = uow.session.get(CalendarSyncStateRow, account_id)
        token = None if full or state is None else state.sync_token
    now = utcnow()
    start, end = _window(now)
    try:
        calendar = open_calendar(runtime, tenant, account_id)
        try:
            changes = calendar.list_changes(sync_token=token) if token else None
        except SyncTokenExpired:
            logger.info("calendar sync token of account %s expired: full listing", account_id)
            changes = None
        if changes is None:
            changes = calendar.list_changes(time_min=start, time_max=end)
    except ProviderPermissionError:
        with runtime.tenant_uow(tenant) as uow:
            account = uow.session.get(MailAccountRow, account_id)
            if account is not None:
                account.scopes = [
                    s
                    for s in account.scopes or []
                    if s not in (CALENDAR_EVENTS_SCOPE, CALENDAR_FULL_SCOPE)
                ]
                note_missing_scope(uow, account)
                uow.commit()
        return CalendarSyncReport(tenant, account_id, "missing_scope")
    except ProviderError as exc:
        _record_error(runtime, tenant, account_id, str(exc))
        if isinstance(exc, ProviderTransientError | ProviderAuthError):
            logger.warning("calendar sync of account %s failed: %s", account_id, exc)
        return CalendarSyncReport(tenant, account_id, "failed", error=str(exc)[:300])
    counts = {"changed": 0, "unchanged": 0, "cancelled": 0}
    with runtime.tenant_uow(tenant) as uow:
        account = uow.session.get(MailAccountRow, account_id)
        if account is None:
            return CalendarSyncReport(tenant, account_id, "not_connected")
        for event in changes.events:
            counts[_apply_event(uow, account, event)] += 1
        if changes.full:
            counts["cancelled"] += _cancel_unlisted(uow, account, changes.events, start, end)
        state = uow.session.get(CalendarSyncStateRow, account_id)
        if state is None:
            state = CalendarSyncStateRow(mail_account_id=account_id)
            uow.session.add(state)
        state.sync_token = changes.next_sync_token or None
        state.last_sync_at = now
        state.last_error = None
        if changes.full:
            state.last_full_sync_at = now
            state.window_start, state.window_end = start, end
        _clear_notice(account)
        try:
            uow.commit()
        except IntegrityError:  # a concurrent run stored the same events first
            uow.rollback()
            return CalendarSyncReport(tenant, account_id, "failed", error="concurrent run")
    logger.info(
        "calendar of account %s in tenant %s: %d changed, %d cancelled (full=%s)",
        account_id,
        tenant,
        counts["changed"],
        counts["cancelled"],
        changes.full,
    )
    return CalendarSyncReport(
        tenant,
        account_id,
        "ok",
        full=changes.full,
        changed=counts["changed"],
        unchanged=counts["unchanged"],
        cancelled=counts["cancelled"],
    )


def _cancel_unlisted(
    uow: UnitOfWork,
    account: MailAccountRow,
    listed: Sequence[CalendarEvent],
    start: datetime,
    end: datetime,
) -> int:
    """After a full listing: meetings of the window Google no longer shows were cancelled."""
    seen = {e.id for e in listed if e.status != "cancelled"}
    rows = uow.session.scalars(
        select(MeetingRow).where(
            MeetingRow.mail_account_id == account.id,
            MeetingRow.status == "confirmed",
            MeetingRow.push_pending.is_(False),
            MeetingRow.provider_event_id.is_not(None),
            MeetingRow.end_at > start,
            MeetingRow.start_at < end,
        )
    )
    cancelled = 0
    for row in rows:
        if row.provider_event_id not in seen:
            row.status = "cancelled"
            cancelled += 1
    return cancelled


def _record_error(runtime: Runtime, tenant: str, account_id: int, error: str) -> None:
    with runtime.tenant_uow(tenant) as uow:
        state = uow.session.get(CalendarSyncStateRow, account_id)
        if state is None:
            state = CalendarSyncStateRow(mail_account_id=account_id)
            uow.session.add(state)
        state.last_error = error[:500]
        uow.commit()


def _tenant_slugs(runtime: Runtime) -> list[str]:
    with runtime.control_uow() as uow:
        return list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )


def queue_calendar_syncs(runtime: Runtime) -> int:
    """Queue a calendar sync of every connected Gmail mailbox of tenants that enabled it."""
    queued = 0
    for tenant in _tenant_slugs(runtime):
        try:
            with runtime.tenant_uow(tenant) as uow:
                if not calendar_enabled(uow):
                    continue
                ids = list(
                    uow.session.scalars(
                        select(MailAccountRow.id).where(
                            MailAccountRow.provider == "gmail",
                            MailAccountRow.status == "connected",
                        )
                    )
                )
        except Exception:
            logger.exception("calendar syncs of tenant %s not queued", tenant)
            continue
        for account_id in ids:
            runtime.jobs.enqueue(SYNC_TASK, tenant=tenant, account_id=account_id)
            queued += 1
    return queued


# -- CRM → Calendar -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingRequest:
    record_kind: str
    record_id: int
    mail_account_id: int
    title: str
    start: datetime
    end: datetime
    attendees: list[str]
    description: str = ""


@dataclass(frozen=True)
class MeetingPatch:
    title: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: list[str] | None = None
    description: str | None = None


def _clean_attendees(raw: Sequence[str]) -> list[str]:
    if len(raw) > MAX_ATTENDEES:
        raise InvalidInput(f"at most {MAX_ATTENDEES} attendees", field="attendees")
    cleaned: list[str] = []
    for value in raw:
        address = try_normalize_email(str(value))
        if address is None:
            raise InvalidInput(f"not an email address: {value!r}", field="attendees")
        if address not in cleaned:
            cleaned.append(address)
    return cleaned


def _check_times(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("give times with a time zone (e.g. 2030-05-01T10:00:00Z)", field="start")
    if end <= start:
        raise InvalidInput("the meeting must end after it starts", field="end")


def _organizer_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    account = uow.session.get(MailAccountRow, account_id)
    if account is None or account.user_id != principal.user_id:
        raise NotFound(f"no mail account {account_id} of yours")
    if account.provider != "gmail" or account.status == "disconnected":
        raise Conflict(f"mail account {account_id} is not a connected Gmail account")
    if not calendar_enabled(uow):
        raise Conflict("Google Calendar is not enabled for this workspace (Setup → Email)")
    if not has_calendar_scope(account.scopes):
        note_missing_scope(uow, account)
        uow.commit()
        raise Conflict("this mailbox has not granted the Calendar permission (calendar.events)")
    return account


def create_meeting(runtime: Runtime, principal: Principal, request: MeetingRequest) -> MeetingView:
    """Store a meeting on a record and insert it into the organiser's Google Calendar."""
    require_write(principal.role)
    title = request.title.strip()
    if not title:
        raise InvalidInput("give the meeting a title", field="title")
    _check_times(request.start, request.end)
    attendees = _clean_attendees(request.attendees)
    tenant = principal.tenant_slug
    with runtime.tenant_uow(tenant) as uow:
        account = _organizer_account(uow, principal, request.mail_account_id)
        require_record(uow, request.record_kind, request.record_id)
        row = MeetingRow(
            mail_account_id=account.id,
            organizer_user_id=principal.user_id,
            organizer_email=account.email,
            title=title[:500],
            description=request.description,
            start_at=request.start,
            end_at=request.end,
            attendees=[{"email": a, "name": "", "response": "needsAction"} for a in attendees],
            source="crm",
            record_kind=request.record_kind,
            record_id=request.record_id,
            push_pending=True,
            created_by_user_id=principal.user_id,
        )
        uow.session.add(row)
        uow.session.flush()
        row.provider_event_id = crm_event_id(tenant, row.id)
        link_meeting(uow, row, account)
        record_event(
            uow,
            action="meeting.create",
            actor_user_id=principal.user_id,
            target=f"meeting:{row.id}",
            details={
                "record": f"{request.record_kind}:{request.record_id}",
                "mail_account_id": account.id,
                "attendees": len(attendees),
            },
        )
        uow.commit()
        meeting_id = row.id
    return push_meeting(runtime, tenant, meeting_id)


def update_meeting(
    runtime: Runtime, principal: Principal, meeting_id: int, patch: MeetingPatch
) -> MeetingView:
    """Edit a meeting (its organiser) and the Google event with it."""
    require_write(principal.role)
    tenant = principal.tenant_slug
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MeetingRow, meeting_id)
        if row is None:
            raise NotFound(f"no meeting {meeting_id}")
        if row.organizer_user_id != principal.user_id:
            raise PermissionDenied("only the meeting's organiser may change it")
        if row.status == "cancelled":
            raise Conflict("the meeting was cancelled")
        account = _organizer_account(uow, principal, row.mail_account_id)
        start = patch.start or row.start_at
        end = patch.end or row.end_at
        _check_times(start, end)
        changed: list[str] = []
        if patch.title is not None:
            if not patch.title.strip():
                raise InvalidInput("give the meeting a title", field="title")
            row.title = patch.title.strip()[:500]
            changed.append("title")
        if patch.description is not None:
            row.description = patch.description
            changed.append("description")
        if patch.start is not None or patch.end is not None:
            row.start_at, row.end_at = start, end
            changed.append("time")
        if patch.attendees is not None:
            known = {str(a.get("email")): a for a in row.attendees or []}
            row.attendees = [
                known.get(a) or {"email": a, "name": "", "response": "needsAction"}
                for a in _clean_attendees(patch.attendees)
            ]
            changed.append("attendees")
        if not changed:
            return meeting_view(row)
        row.push_pending = True
        uow.session.flush()
        link_meeting(uow, row, account)
        record_event(
            uow,
            action="meeting.update",
            actor_user_id=principal.user_id,
            target=f"meeting:{row.id}",
            details={"changed": changed},
        )
        uow.commit()
    return push_meeting(runtime, tenant, meeting_id)


def _draft(row: MeetingRow) -> EventDraft:
    return EventDraft(
        title=row.title,
        description=row.description,
        start=row.start_at,
        end=row.end_at,
        attendees=[
            EventAttendee(
                email=str(a.get("email")),
                name=str(a.get("name") or ""),
                response=str(a.get("response") or "needsAction"),
            )
            for a in row.attendees or []
        ],
        private={SOURCE_KEY: str(row.id)},
    )


def push_meeting(runtime: Runtime, tenant: str, meeting_id: int) -> MeetingView:
    """Write a meeting's pending CRM change to Google (insert or patch), store the etag.

    Transient failures leave ``push_pending`` and queue a retry; the view says so.
    """
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MeetingRow, meeting_id)
        if row is None:
            raise NotFound(f"no meeting {meeting_id}")
        if not row.push_pending or row.provider_event_id is None:
            return meeting_view(row)
        account_id, event_id, draft = row.mail_account_id, row.provider_event_id, _draft(row)
        inserted = row.provider_etag is None
    try:
        calendar = open_calendar(runtime, tenant, account_id)
        event = (
            calendar.insert_event(event_id, draft)
            if inserted
            else calendar.patch_event(event_id, draft)
        )
    except ProviderTransientError as exc:
        logger.warning("meeting %s not written to Google yet: %s", meeting_id, exc)
        runtime.jobs.enqueue(PUSH_TASK, tenant=tenant, meeting_id=meeting_id)
        with runtime.tenant_uow(tenant) as uow:
            return meeting_view(_require(uow, meeting_id))
    except ProviderPermissionError:
        with runtime.tenant_uow(tenant) as uow:
            account = uow.session.get(MailAccountRow, account_id)
            if account is not None:
                note_missing_scope(uow, account)
                uow.commit()
        raise Conflict(
            "Google refused the Calendar write (the calendar.events permission is missing); "
            "the meeting is kept in inboxcrm"
        ) from None
    with runtime.tenant_uow(tenant) as uow:
        row = _require(uow, meeting_id)
        if row.provider_event_id == event_id:
            row.provider_etag = event.etag
            row.provider_updated = event.updated
            row.push_pending = False
            merged = {a.email: a.response for a in event.attendees}
            row.attendees = [
                {**a, "response": merged.get(str(a.get("email")), a.get("response"))}
                for a in row.attendees or []
            ]
            uow.commit()
        return meeting_view(row)


def _require(uow: UnitOfWork, meeting_id: int) -> MeetingRow:
    row = uow.session.get(MeetingRow, meeting_id)
    if row is None:
        raise NotFound(f"no meeting {meeting_id}")
    return row


def erase_attendee(uow: UnitOfWork, address: str) -> int:
    """Remove ``address`` (canonical) from every meeting's attendees and organiser (an erasure
    on request, services.erasure); returns how many meetings changed. The Google events are
    not touched: they are the calendar owner's."""
    changed = 0
    pattern = f"%{address}%"
    rows = uow.session.scalars(
        select(MeetingRow).where(
            func.lower(cast(MeetingRow.attendees, String)).like(pattern)
            | (func.lower(MeetingRow.organizer_email) == address)
        )
    )
    for row in rows:
        kept = [
            a
            for a in row.attendees or []
            if try_normalize_email(str(a.get("email") or "")) != address
        ]
        if len(kept) != len(row.attendees or []) or row.organizer_email.lower() == address:
            row.attendees = kept
            if row.organizer_email.lower() == address:
                row.organizer_email = ""
            changed += 1
    uow.session.flush()
    return changed
