"""A record's activity timeline: what happened with a Lead, Contact or Account, newest first.

The timeline is the ``activities`` rows of one record (one row per item per record), ordered by
``occurred_at`` then ``id``, both descending, and paged by keyset on that pair, so every page is
one range scan of ``ix_activities_timeline`` however long the history. Each page then loads what
its entries point at with one batched query per kind (email messages with their threads, their
attachments, notes, meetings). Kinds without a loader yet (tracking, draft, sync_notice, ...)
come back as plain :class:`TimelineItem` with the common fields.

Mail sharing (:mod:`inboxcrm.services.mail_sharing`) is applied here, as the page is read: the
range scan itself leaves out email entries the viewer may not see (and entries whose message is
gone), so a page still holds ``limit`` entries when that many remain; the emails it keeps are
then redacted to the detail the viewer may see (metadata: no subject, snippet, bodies or
attachments; subject: no snippet, bodies or attachments). Other entries whose target is gone
(a deleted note, say) are left out of the page after the scan.

One email in several colleagues' mailboxes is one entry (its ``ref_id`` is the message's
tenant-wide identity, see :mod:`inboxcrm.adapters.db.dedup_tables`), and each mailbox's copy
keeps its owner's sharing. For each entry the page looks at the copies the viewer may see:

- the entry is shown when at least one copy is visible; ``mailboxes`` lists the mailboxes of the
  visible copies (a mailbox whose copy the viewer may not see is not named);
- the copy shown is the viewer's own when they hold one (its ``provider_message_id`` and
  ``thread_id`` are the ones the viewer's own Gmail knows, e.g. to reply), else the copy with
  the most detail the viewer may see, the oldest stored copy on a tie; ``detail`` is that
  copy's, so the most permissive detail among the visible copies. Copies of one email are the
  same email, so showing the widest shared view reveals nothing another visible copy would not;
- ``conversation_id`` groups the page's emails into conversations across mailboxes: threads
  holding copies of one email are the same conversation (its value is the smallest
  ``email_thread_id`` among them, among the page's visible copies).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, select, tuple_

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
    NoteRow,
)
from inboxcrm.adapters.db.types import UTCDateTime
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.records import ACTIVITY_KIND_RE
from inboxcrm.domain.sharing import Detail
from inboxcrm.services.mail_sharing import EMAIL_KIND, MailViewer, ReadScope, read_scope
from inboxcrm.services.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from inboxcrm.services.records import require_record

logger = logging.getLogger(__name__)

__all__ = [
    "AttachmentInfo",
    "EmailItem",
    "MailboxRef",
    "MeetingItem",
    "NoteItem",
    "TimelineEntry",
    "TimelineItem",
    "timeline_page",
]

MAX_KIND_FILTERS = 10


@dataclass(frozen=True)
class TimelineItem:
    """The fields every timeline entry has (``id`` is the entry's own id)."""

    id: int
    kind: str
    occurred_at: datetime
    summary: str
    match_reason: str | None
    match_detail: str | None


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    mime_type: str
    size: int
    content_id: str | None


@dataclass(frozen=True)
class MailboxRef:
    """A mailbox holding a copy of a timeline email."""

    mail_account_id: int
    email: str


@dataclass(frozen=True)
class EmailItem(TimelineItem):
    """An email message on the timeline, as the viewer may see it.

    ``thread_id`` is the provider's thread id, ``email_thread_id`` inboxcrm's. ``detail`` is what
    the viewer sees (``everything`` for the mailbox owner): below ``subject`` the subject (and the
    entry's summary) are withheld (None / ""), below ``everything`` the snippet, bodies and
    attachments. ``own`` is True for the mailbox owner, who alone gets the thread's sharing
    override (``thread_sharing`` / ``thread_sharing_detail``, None = as the mailbox).
    """

    message_id: int
    mail_account_id: int
    provider_message_id: str
    thread_id: str
    message_id_header: str | None
    subject: str | None
    from_address: str | None
    from_name: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    direction: str
    sent_at: datetime
    snippet: str | None
    attachments: tuple[AttachmentInfo, ...]
    body_text: str | None = None
    body_html: str | None = None
    email_thread_id: int = 0
    detail: Detail = Detail.EVERYTHING
    own: bool = False
    thread_sharing: str | None = None
    thread_sharing_detail: str | None = None
    mailboxes: tuple[MailboxRef, ...] = ()
    conversation_id: int = 0


@dataclass(frozen=True)
class NoteItem(TimelineItem):
    note_id: int
    body: str
    author_user_id: int | None


@dataclass(frozen=True)
class MeetingItem(TimelineItem):
    """A meeting (:mod:`inboxcrm.services.meetings`); ``attendees``: ``{email, name, response}``."""

    meeting_id: int
    title: str
    start: datetime
    end: datetime
    status: str
    location: str
    attendees: tuple[dict[str, Any], ...]
    provider_event_id: str | None
    mail_account_id: int
    organizer_email: str


TimelineEntry = TimelineItem | EmailItem | NoteItem | MeetingItem


def _scope(record_kind: str, record_id: int) -> str:
    return f"timeline:{record_kind}:{record_id}"


def _decode_position(cursor: str, scope: str) -> tuple[datetime, int]:
    moment_text, entry_id = decode_cursor(cursor, scope, 2)
    bad = InvalidInput("the cursor is not valid for this list", field="cursor")
    if not isinstance(moment_text, str) or not isinstance(entry_id, int):
        raise bad
    if isinstance(entry_id, bool) or not 0 <= entry_id < 2**63:
        raise bad
    try:
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise bad
        return moment.astimezone(UTC), entry_id
    except (ValueError, OverflowError):
        raise bad from None


def _check_kinds(kinds: Collection[str] | None) -> list[str] | None:
    if not kinds:
        return None
    if len(kinds) > MAX_KIND_FILTERS:
        raise InvalidInput(f"at most {MAX_KIND_FILTERS} kinds", field="kind")
    for kind in kinds:
        if not ACTIVITY_KIND_RE.match(kind):
            raise InvalidInput(f"not a timeline entry kind: {kind!r}", field="kind")
    return sorted(set(kinds))


_EntryTypes = tuple[int, str, int, datetime, str, str | None, str | None]
_EntryRow = Row[*_EntryTypes]

#: The columns a page reads (plain rows, not ORM objects: a page is read-only and hot).
_ENTRY_COLUMNS = (
    ActivityRow.id,
    ActivityRow.kind,
    ActivityRow.ref_id,
    ActivityRow.occurred_at,
    ActivityRow.summary,
    ActivityRow.match_reason,
    ActivityRow.match_detail,
)
_EMAIL_COLUMNS = (
    EmailMessageRow.id,
    EmailMessageRow.message_key_id,
    EmailThreadRow.id.label("email_thread_id"),
    EmailThreadRow.sharing,
    EmailThreadRow.sharing_detail,
    EmailMessageRow.mail_account_id,
    EmailMessageRow.provider_message_id,
    EmailThreadRow.provider_thread_id,
    EmailMessageRow.message_id_header,
    EmailMessageRow.subject,
    EmailMessageRow.from_address,
    EmailMessageRow.from_name,
    EmailMessageRow.to_addresses,
    EmailMessageRow.cc_addresses,
    EmailMessageRow.direction,
    EmailMessageRow.sent_at,
    EmailMessageRow.snippet,
)
_BODY_COLUMNS = (EmailMessageRow.body_text, EmailMessageRow.body_html)


def _entries_statement(
    *, with_kinds: bool, with_cursor: bool, scope: ReadScope | None = None
) -> Select[*_EntryTypes]:
    """The page's range scan; with ``scope``, email entries the viewer may not see (or whose
    message is gone) are left out by the scan itself."""
    query = select(*_ENTRY_COLUMNS).where(
        ActivityRow.record_kind == bindparam("record_kind"),
        ActivityRow.record_id == bindparam("record_id"),
        ActivityRow.deleted_at.is_(None),
    )
    if scope is not None:
        query = query.where(scope.entry_visible())
    if with_kinds:
        query = query.where(ActivityRow.kind.in_(bindparam("kinds", expanding=True)))
    if with_cursor:
        query = query.where(
            tuple_(ActivityRow.occurred_at, ActivityRow.id)
            < tuple_(
                bindparam("after_time", type_=UTCDateTime()), bindparam("after_id", type_=Integer())
            )
        )
    return query.order_by(ActivityRow.occurred_at.desc(), ActivityRow.id.desc()).limit(
        bindparam("fetch", type_=Integer())
    )


# Statements are built once: a page executes them with new parameters only (the scan that
# applies mail sharing is built per page, as its condition depends on the viewer).
_ENTRIES = {
    (kinds, after): _entries_statement(with_kinds=kinds, with_cursor=after)
    for kinds in (False, True)
    for after in (False, True)
}
_MESSAGES = {
    bodies: select(
        *_EMAIL_COLUMNS,
        MailAccountRow.email.label("mailbox_email"),
        *(_BODY_COLUMNS if bodies else ()),
    )
    .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
    .join(MailAccountRow, MailAccountRow.id == EmailMessageRow.mail_account_id)
    .where(
        EmailMessageRow.message_key_id.in_(bindparam("ids", expanding=True)),
        EmailMessageRow.deleted_at.is_(None),
    )
    .order_by(EmailMessageRow.id)
    for bodies in (False, True)
}
_ATTACHMENTS = (
    select(
        EmailAttachmentRow.id,
        EmailAttachmentRow.message_id,
        EmailAttachmentRow.filename,
        EmailAttachmentRow.mime_type,
        EmailAttachmentRow.size,
        EmailAttachmentRow.content_id,
    )
    .where(EmailAttachmentRow.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(EmailAttachmentRow.message_id, EmailAttachmentRow.id)
)
_NOTES = select(NoteRow.id, NoteRow.body, NoteRow.author_user_id).where(
    NoteRow.id.in_(bindparam("ids", expanding=True))
)


def _common(row: _EntryRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "occurred_at": row.occurred_at,
        "summary": row.summary,
        "match_reason": row.match_reason,
        "match_detail": row.match_detail,
    }


def _attachments_of(uow: UnitOfWork, message_ids: list[int]) -> dict[int, list[AttachmentInfo]]:
    found: dict[int, list[AttachmentInfo]] = defaultdict(list)
    if not message_ids:
        return found
    for a in uow.session.connection().execute(_ATTACHMENTS, {"ids": message_ids}):
        found[a.message_id].append(
            AttachmentInfo(
                id=a.id,
                filename=a.filename,
                mime_type=a.mime_type,
                size=a.size,
                content_id=a.content_id,
            )
        )
    return found


@dataclass
class _Copies:
    """The copies of one email the viewer may see: the one to show, and where they are."""

    shown: Any
    detail: Detail
    rank: tuple[bool, int, int]
    mailboxes: dict[int, str]  # mail account id -> address, of the visible copies
    thread_ids: list[int]


def _visible_copies(
    uow: UnitOfWork, key_ids: Collection[int], include_bodies: bool, scope: ReadScope
) -> dict[int, _Copies]:
    """For each message identity, its copies the viewer may see and the one to show."""
    found = uow.session.connection().execute(_MESSAGES[include_bodies], {"ids": list(key_ids)})
    copies: dict[int, _Copies] = {}
    for row in found:
        seen = scope.detail_for(row.mail_account_id, row.sharing, row.sharing_detail)
        if seen is None:  # (the scan already left out entries with no visible copy)
            continue
        # Own copy first, then the most detail, then the oldest copy (rows come in id order).
        rank = (scope.is_owner(row.mail_account_id), seen.rank, -row.id)
        known = copies.get(row.message_key_id)
        if known is None:
            copies[row.message_key_id] = _Copies(
                row, seen, rank, {row.mail_account_id: row.mailbox_email}, [row.email_thread_id]
            )
            continue
        known.mailboxes[row.mail_account_id] = row.mailbox_email
        known.thread_ids.append(row.email_thread_id)
        if rank > known.rank:
            known.shown, known.detail, known.rank = row, seen, rank
    return copies


def _conversations(copies: Collection[_Copies]) -> dict[int, int]:
    """Each thread's conversation: the smallest thread id among threads sharing an email."""
    parent: dict[int, int] = {}

    def root(thread_id: int) -> int:
        parent.setdefault(thread_id, thread_id)
        while parent[thread_id] != thread_id:
            parent[thread_id] = parent[parent[thread_id]]
            thread_id = parent[thread_id]
        return thread_id

    for c in copies:
        first = root(c.thread_ids[0])
        for other in c.thread_ids[1:]:
            a, b = sorted((first, root(other)))
            parent[b] = a
            first = a
    return {thread_id: root(thread_id) for thread_id in list(parent)}


def _email_items(
    uow: UnitOfWork, rows: Sequence[_EntryRow], include_bodies: bool, scope: ReadScope
) -> dict[int, EmailItem]:
    keys = {r.ref_id for r in rows}
    if not keys:
        return {}
    copies = _visible_copies(uow, keys, include_bodies, scope)
    shown = {c.shown.id: c for c in copies.values()}
    attachments = _attachments_of(uow, [i for i, c in shown.items() if c.detail.shows_content])
    conversation = _conversations(list(copies.values()))
    items: dict[int, EmailItem] = {}
    for row in rows:
        c = copies.get(row.ref_id)
        if c is None:
            continue
        m, detail = c.shown, c.detail
        subject, content = detail.shows_subject, detail.shows_content
        own = scope.is_owner(m.mail_account_id)
        common = _common(row)
        if not subject:
            common["summary"] = ""
        items[row.id] = EmailItem(
            **common,
            message_id=m.id,
            mail_account_id=m.mail_account_id,
            provider_message_id=m.provider_message_id,
            thread_id=m.provider_thread_id,
            message_id_header=m.message_id_header,
            subject=m.subject if subject else None,
            from_address=m.from_address,
            from_name=m.from_name,
            to=tuple(m.to_addresses),
            cc=tuple(m.cc_addresses),
            direction=m.direction,
            sent_at=m.sent_at,
            snippet=m.snippet if content else None,
            attachments=tuple(attachments.get(m.id, ())),
            body_text=m.body_text if include_bodies and content else None,
            body_html=m.body_html if include_bodies and content else None,
            email_thread_id=m.email_thread_id,
            detail=detail,
            own=own,
            thread_sharing=m.sharing if own else None,
            thread_sharing_detail=m.sharing_detail if own else None,
            mailboxes=tuple(MailboxRef(a, c.mailboxes[a]) for a in sorted(c.mailboxes)),
            conversation_id=conversation.get(m.email_thread_id, m.email_thread_id),
        )
    return items


def _note_items(uow: UnitOfWork, rows: Sequence[_EntryRow]) -> dict[int, NoteItem]:
    ids = {r.ref_id for r in rows}
    if not ids:
        return {}
    notes = {n.id: n for n in uow.session.connection().execute(_NOTES, {"ids": list(ids)})}
    items: dict[int, NoteItem] = {}
    for row in rows:
        note = notes.get(row.ref_id)
        if note is not None:
            items[row.id] = NoteItem(
                **_common(row), note_id=note.id, body=note.body, author_user_id=note.author_user_id
            )
    return items


def _meeting_items(uow: UnitOfWork, rows: Sequence[_EntryRow]) -> dict[int, MeetingItem]:
    from inboxcrm.adapters.db.calendar_tables import MeetingRow

    ids = {r.ref_id for r in rows}
    if not ids:
        return {}
    meetings = {
        m.id: m for m in uow.session.scalars(select(MeetingRow).where(MeetingRow.id.in_(ids)))
    }
    items: dict[int, MeetingItem] = {}
    for row in rows:
        meeting = meetings.get(row.ref_id)
        if meeting is not None:
            items[row.id] = MeetingItem(
                **_common(row),
                meeting_id=meeting.id,
                title=meeting.title,
                start=meeting.start_at,
                end=meeting.end_at,
                status=meeting.status,
                location=meeting.location,
                attendees=tuple(dict(a) for a in meeting.attendees or []),
                provider_event_id=meeting.provider_event_id,
                mail_account_id=meeting.mail_account_id,
                organizer_email=meeting.organizer_email,
            )
    return items


def timeline_page(
    uow: UnitOfWork,
    record_kind: str,
    record_id: int,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    kinds: Collection[str] | None = None,
    include_bodies: bool = False,
    viewer: MailViewer,
) -> Page[TimelineEntry]:
    """One page of a record's timeline as ``viewer`` may see it, newest first.

    ``kinds`` keeps only entries of those kinds (e.g. ``{"email", "note"}``). Email items carry
    their bodies only with ``include_bodies`` (the UI's record page; the API leaves them out),
    and only as far as mail sharing lets ``viewer`` see them (see the module docstring).
    Raises NotFound for a missing or deleted record and InvalidInput for a bad cursor or limit.
    """
    check_limit(limit)
    kind_filter = _check_kinds(kinds)
    require_record(uow, record_kind, record_id)
    scope = _scope(record_kind, record_id)
    params: dict[str, Any] = {
        "record_kind": record_kind,
        "record_id": record_id,
        "fetch": limit + 1,
    }
    if kind_filter is not None:
        params["kinds"] = kind_filter
    if cursor is not None:
        params["after_time"], params["after_id"] = _decode_position(cursor, scope)
    sharing: ReadScope | None = None
    if kind_filter is None or EMAIL_KIND in kind_filter:
        sharing = read_scope(uow, viewer)
        statement = _entries_statement(
            with_kinds=kind_filter is not None, with_cursor=cursor is not None, scope=sharing
        )
    else:
        statement = _ENTRIES[(kind_filter is not None, cursor is not None)]
    rows = list(uow.session.connection().execute(statement, params))
    more = len(rows) > limit
    rows = rows[:limit]

    by_kind: dict[str, list[_EntryRow]] = defaultdict(list)
    for row in rows:
        by_kind[row.kind].append(row)
    loaded: dict[int, TimelineEntry] = {}
    if sharing is not None:
        loaded.update(_email_items(uow, by_kind.get(EMAIL_KIND, []), include_bodies, sharing))
    loaded.update(_note_items(uow, by_kind.get("note", [])))
    loaded.update(_meeting_items(uow, by_kind.get("meeting", [])))

    items: list[TimelineEntry] = []
    for row in rows:
        if row.kind in ("email", "note", "meeting"):
            entry = loaded.get(row.id)
            if entry is not None:
                items.append(entry)
        else:
            items.append(TimelineItem(**_common(row)))
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(scope, [last.occurred_at.isoformat(), last.id])
    return Page(items, next_cursor)
