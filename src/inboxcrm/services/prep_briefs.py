"""Meeting prep briefs: one email per meeting, to its organiser, shortly before it starts.

:func:`send_due_briefs` (the job ``inboxcrm.calendar.send_prep_briefs``, every 10 minutes) looks
in every tenant with Google Calendar enabled for confirmed meetings starting in
:data:`WINDOW_START` to :data:`WINDOW_END` (30-40 minutes) from now whose organiser has not turned
prep briefs off (``PATCH /api/v1/me`` ``meeting_prep_enabled``, on by default). For each:

1. **Claim**: a ``meeting_prep_briefs`` row for the meeting is inserted and committed. The
   column is unique, so of two overlapping runs exactly one inserts it; the other gets an
   integrity error and moves on. Only the run holding the claim sends: one brief per meeting.
2. **Gather**, as the organiser sees it (mail sharing applies to the interactions): for each
   attendee matched to a record, the name, title and company, the relationship strength
   (:mod:`inboxcrm.services.relationship_strength`) and the last 5 interactions (mail,
   meetings, notes) from the timeline; open deals of those records.
3. **Talking points**: 3-5 from Claude when ``ANTHROPIC_API_KEY`` is set, else from the
   offline rules, labelled "offline suggestions, not AI" in the brief.
4. **Send** from the organiser's own Gmail to themselves through the ordinary send path
   (:func:`inboxcrm.services.sending.send_message`: audited, stored on the first attendee
   record's timeline like any mail sent from the CRM). The claim row records the outcome
   (``sent``, ``failed`` with the error, or ``skipped`` when no attendee is a CRM record).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inboxcrm.adapters.db.calendar_tables import (
    MeetingPreferencesRow,
    MeetingPrepBriefRow,
    MeetingRow,
)
from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ContactRow,
    DealRow,
    LeadRow,
    MailAccountRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import InboxCrmError, NotFound
from inboxcrm.providers.ai.talking_points import (
    AttendeeProfile,
    MeetingContext,
    OfflineTalkingPoints,
    TalkingPoints,
    TalkingPointsProvider,
)
from inboxcrm.services.identity import Principal, member_principal
from inboxcrm.services.mail_sharing import mail_viewer
from inboxcrm.services.meetings import calendar_enabled
from inboxcrm.services.records import record_alive
from inboxcrm.services.relationship_strength import record_strength
from inboxcrm.services.sending import SendingPorts, send_message
from inboxcrm.services.sending_input import MessageRequest
from inboxcrm.services.timeline import EmailItem, MeetingItem, NoteItem, timeline_page
from inboxcrm.services.tracking_links import TrackingSigner

__all__ = [
    "WINDOW_END",
    "WINDOW_START",
    "meeting_prep_enabled",
    "send_due_briefs",
    "set_meeting_prep",
]

logger = logging.getLogger(__name__)

WINDOW_START = timedelta(minutes=30)
WINDOW_END = timedelta(minutes=40)
INTERACTIONS = 5
OFFLINE_LABEL = "offline suggestions, not AI"


# -- the per-user toggle ---------------------------------------------------------------------


def meeting_prep_enabled(uow: UnitOfWork, user_id: int) -> bool:
    row = uow.session.get(MeetingPreferencesRow, user_id)
    return True if row is None else bool(row.meeting_prep_enabled)


def set_meeting_prep(uow: UnitOfWork, principal: Principal, enabled: bool) -> bool:
    """Turn the caller's own meeting prep briefs on or off (in this workspace); every member
    may choose for themselves."""
    row = uow.session.get(MeetingPreferencesRow, principal.user_id)
    if row is None:
        row = MeetingPreferencesRow(user_id=principal.user_id)
        uow.session.add(row)
    row.meeting_prep_enabled = enabled
    uow.commit()
    logger.info("meeting prep briefs of user %s set to %s", principal.user_id, enabled)
    return enabled


# -- wiring --------------------------------------------------------------------------------------


def talking_points_provider(runtime: Runtime) -> TalkingPointsProvider:
    """Claude when ANTHROPIC_API_KEY is set, else the offline rules (labelled "not AI")."""
    settings = runtime.settings
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        return OfflineTalkingPoints()
    from inboxcrm.providers.ai.talking_points import AnthropicTalkingPoints

    return AnthropicTalkingPoints(
        settings.anthropic_api_key.get_secret_value(),
        model=settings.ai_model,
        base_url=settings.anthropic_base_url or None,
        timeout=settings.ai_timeout_seconds,
        max_retries=settings.ai_max_retries,
    )


def _sending_ports(runtime: Runtime, tenant: str) -> SendingPorts:
    from inboxcrm.providers.base import MailboxClient
    from inboxcrm.services.mail_accounts import open_mailbox

    def mailbox(account_id: int) -> MailboxClient:
        return open_mailbox(runtime, tenant, account_id)

    return SendingPorts(
        tenant=tenant,
        uow=lambda: runtime.tenant_uow(tenant),
        mailbox=mailbox,
        signer=TrackingSigner(runtime.settings.secret_key.get_secret_value()),
        public_url=runtime.settings.public_url,
        backoff_seconds=float(runtime.extras.get("send_backoff_seconds", 1.0)),
    )


# -- finding and claiming ------------------------------------------------------------------------


def _tenant_slugs(runtime: Runtime) -> list[str]:
    with runtime.control_uow() as uow:
        return list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )


def due_meetings(uow: UnitOfWork, now: datetime) -> list[int]:
    """Ids of confirmed meetings starting in the window without a brief, organiser opted in."""
    rows = uow.session.execute(
        select(MeetingRow.id, MeetingRow.organizer_user_id)
        .outerjoin(MeetingPrepBriefRow, MeetingPrepBriefRow.meeting_id == MeetingRow.id)
        .where(
            MeetingRow.status == "confirmed",
            MeetingRow.start_at >= now + WINDOW_START,
            MeetingRow.start_at < now + WINDOW_END,
            MeetingPrepBriefRow.id.is_(None),
        )
        .order_by(MeetingRow.start_at, MeetingRow.id)
    ).all()
    return [mid for mid, user_id in rows if meeting_prep_enabled(uow, user_id)]


def _claim(runtime: Runtime, tenant: str, meeting_id: int) -> int | None:
    """Insert the meeting's brief row; None when another run holds it already."""
    with runtime.tenant_uow(tenant) as uow:
        row = MeetingPrepBriefRow(meeting_id=meeting_id, status="sending")
        uow.session.add(row)
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()
            return None
        return row.id


def _finish(
    runtime: Runtime,
    tenant: str,
    brief_id: int,
    status: str,
    *,
    outbound_id: int | None = None,
    error: str | None = None,
) -> None:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MeetingPrepBriefRow, brief_id)
        if row is not None:
            row.status = status
            row.outbound_message_id = outbound_id
            row.error = error[:500] if error else None
            uow.commit()


# -- gathering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attendee:
    profile: AttendeeProfile
    record_kind: str | None
    record_id: int | None
    interactions: list[str]
    last_interaction: datetime | None


def _record_for(uow: UnitOfWork, address: str) -> tuple[str, int] | None:
    """The attendee's record: a contact first, then a lead, then an account."""
    rows = uow.session.execute(
        select(RecordEmailRow.record_kind, RecordEmailRow.record_id).where(
            RecordEmailRow.email == address,
            record_alive(RecordEmailRow.record_kind, RecordEmailRow.record_id),
        )
    ).all()
    order = {"contact": 0, "lead": 1, "account": 2}
    found = sorted(((k, i) for k, i in rows), key=lambda r: (order.get(r[0], 9), r[1]))
    return found[0] if found else None


def _profile(
    uow: UnitOfWork, kind: str, record_id: int, address: str, name: str
) -> AttendeeProfile:
    title = company = ""
    if kind == "contact":
        contact = uow.session.get(ContactRow, record_id)
        if contact is not None:
            name = f"{contact.first_name} {contact.last_name}".strip() or name
            title = contact.title or ""
            if contact.account_id is not None:
                account = uow.session.get(AccountRow, contact.account_id)
                company = account.name if account is not None else ""
    elif kind == "lead":
        lead = uow.session.get(LeadRow, record_id)
        if lead is not None:
            name = f"{lead.first_name} {lead.last_name}".strip() or name
            company = lead.company or ""
    else:
        account = uow.session.get(AccountRow, record_id)
        company = account.name if account is not None else ""
    return AttendeeProfile(address, name, title, company, "Cold")


def _interactions(
    uow: UnitOfWork, runtime: Runtime, principal: Principal, kind: str, record_id: int, skip: int
) -> list[str]:
    page = timeline_page(
        uow,
        kind,
        record_id,
        limit=INTERACTIONS + 1,
        kinds={"email", "meeting", "note"},
        viewer=mail_viewer(runtime, principal),
    )
    lines: list[str] = []
    for item in page.items:
        when = item.occurred_at.strftime("%Y-%m-%d")
        if isinstance(item, MeetingItem):
            if item.meeting_id == skip:
                continue
            lines.append(f"{when} meeting: {item.title} ({item.status})")
        elif isinstance(item, EmailItem):
            direction = "mail to them" if item.direction == "outbound" else "mail from them"
            lines.append(f"{when} {direction}: {item.subject or '(subject not shared)'}")
        elif isinstance(item, NoteItem):
            lines.append(f"{when} note: {' '.join(item.body.split())[:120]}")
    return lines[:INTERACTIONS]


def _open_deals(uow: UnitOfWork, records: list[tuple[str, int]]) -> list[str]:
    contacts = [i for k, i in records if k == "contact"]
    accounts = [i for k, i in records if k == "account"]
    for contact_id in contacts:
        contact = uow.session.get(ContactRow, contact_id)
        if contact is not None and contact.account_id is not None:
            accounts.append(contact.account_id)
    if not contacts and not accounts:
        return []
    deals = uow.session.scalars(
        select(DealRow).where(
            DealRow.status == "open",
            DealRow.deleted_at.is_(None),
            (DealRow.contact_id.in_(contacts or [0])) | (DealRow.account_id.in_(accounts or [0])),
        )
    )
    out = []
    for deal in deals:
        amount = f", {deal.amount} {deal.currency}" if deal.amount is not None else ""
        close = f", closing {deal.close_date.isoformat()}" if deal.close_date else ""
        out.append(f"“{deal.name}” ({deal.stage}{amount}{close})")
    return out[:5]


def _brief_text(
    meeting: MeetingRow, attendees: list[_Attendee], points: TalkingPoints, deals: list[str]
) -> str:
    starts = meeting.start_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Meeting prep: {meeting.title}", f"Starts {starts}", ""]
    if meeting.location:
        lines += [f"Where: {meeting.location}", ""]
    lines.append("Attendees")
    for attendee in attendees:
        p = attendee.profile
        role = ", ".join(x for x in (p.title, p.company) if x)
        lines.append(f"- {p.name or p.email} <{p.email}>" + (f" — {role}" if role else ""))
        lines.append(f"  Relationship: {p.strength}")
        if attendee.interactions:
            lines.append("  Last interactions:")
            lines += [f"    · {line}" for line in attendee.interactions]
        elif attendee.record_kind is None:
            lines.append("  Not in the CRM yet.")
    if deals:
        lines += ["", "Open deals"] + [f"- {d}" for d in deals]
    label = "" if points.provider != "offline" else f" ({OFFLINE_LABEL})"
    lines += ["", f"Talking points{label}"]
    lines += [f"{i}. {p}" for i, p in enumerate(points.points, 1)]
    lines += ["", "— sent by inboxcrm before your meeting"]
    return "\n".join(lines)


def _send_one(runtime: Runtime, tenant: str, meeting_id: int, now: datetime) -> str:
    brief_id = _claim(runtime, tenant, meeting_id)
    if brief_id is None:
        return "taken"
    try:
        return _compose_and_send(runtime, tenant, meeting_id, brief_id, now)
    except InboxCrmError as exc:
        _finish(runtime, tenant, brief_id, "failed", error=str(exc))
        logger.warning("prep brief of meeting %s in tenant %s failed: %s", meeting_id, tenant, exc)
        return "failed"


def _compose_and_send(
    runtime: Runtime, tenant: str, meeting_id: int, brief_id: int, now: datetime
) -> str:
    with runtime.tenant_uow(tenant) as uow:
        meeting = uow.session.get(MeetingRow, meeting_id)
        if meeting is None:
            raise NotFound(f"meeting {meeting_id} is gone")
        account = uow.session.get(MailAccountRow, meeting.mail_account_id)
        if account is None or account.status != "connected":
            raise NotFound("the organiser's mailbox is not connected")
        principal = member_principal(runtime, tenant, meeting.organizer_user_id)
        if principal is None:
            raise NotFound("the organiser is no longer a member")
        own = {try_normalize_email(account.email)}
        attendees: list[_Attendee] = []
        records: list[tuple[str, int]] = []
        for entry in meeting.attendees or []:
            address = try_normalize_email(str(entry.get("email") or ""))
            if address is None or address in own:
                continue
            found = _record_for(uow, address)
            name = str(entry.get("name") or "")
            if found is None:
                profile = AttendeeProfile(address, name, "", "", "Cold")
                attendees.append(_Attendee(profile, None, None, [], None))
                continue
            kind, record_id = found
            records.append(found)
            profile = _profile(uow, kind, record_id, address, name)
            strength = record_strength(uow, kind, record_id, now)
            profile = AttendeeProfile(
                profile.email, profile.name, profile.title, profile.company, strength.label
            )
            lines = _interactions(uow, runtime, principal, kind, record_id, meeting.id)
            attendees.append(_Attendee(profile, kind, record_id, lines, strength.last_interaction))
        if meeting.record_kind and meeting.record_id is not None:
            records.append((meeting.record_kind, meeting.record_id))
        deals = _open_deals(uow, records)
        context = MeetingContext(
            title=meeting.title,
            starts=meeting.start_at.isoformat(),
            attendees=[a.profile for a in attendees],
            interactions=[line for a in attendees for line in a.interactions][:INTERACTIONS],
            open_deals=deals,
            description=meeting.description[:2000],
        )
        if not records:
            _finish(runtime, tenant, brief_id, "skipped", error="no attendee is a CRM record")
            return "skipped"
        text_meeting = meeting
        subject = f"Prep: {meeting.title} at {meeting.start_at.strftime('%H:%M')} UTC"
        record_kind, record_id = records[0]
        account_id, to = account.id, account.email
    points = talking_points_provider(runtime).talking_points(context)
    body = _brief_text(text_meeting, attendees, points, deals)
    request = MessageRequest.model_validate(
        {
            "mail_account_id": account_id,
            "to": [to],
            "subject": subject[:900],
            "body_text": body,
            "record": {"type": record_kind, "id": record_id},
            "track": False,
        }
    )
    view = send_message(_sending_ports(runtime, tenant), principal, request)
    status = "sent" if view.status == "sent" else "failed"
    _finish(runtime, tenant, brief_id, status, outbound_id=view.id, error=view.error)
    logger.info("prep brief of meeting %s in tenant %s: %s", meeting_id, tenant, status)
    return status


def send_due_briefs(runtime: Runtime, now: datetime | None = None) -> int:
    """Send the briefs that are due in every tenant; returns how many were sent."""
    moment = now or utcnow()
    sent = 0
    for tenant in _tenant_slugs(runtime):
        try:
            with runtime.tenant_uow(tenant) as uow:
                if not calendar_enabled(uow):
                    continue
                due = due_meetings(uow, moment)
        except Exception:
            logger.exception("prep briefs of tenant %s not looked for", tenant)
            continue
        for meeting_id in due:
            if _send_one(runtime, tenant, meeting_id, moment) == "sent":
                sent += 1
    return sent
