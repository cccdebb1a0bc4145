"""Data-subject access: export one record's or a whole tenant's data (GDPR Art. 15 and 20).

An export is two files:

- ``export.json``: every exported record (Lead, Contact, Account) with its fields, email
  addresses, deals, notes and timeline entries (email entries name their message by Gmail id,
  thread id and Message-ID header; meeting entries carry the meeting's title, times, status,
  location, attendees and Google event id);
- ``mail.mbox``: each stored message the records' timelines show, once however many mailboxes
  hold a copy (for a whole-tenant export: all stored mail, every copy) as an RFC 5322 message
  with its original Message-ID, In-Reply-To, References, addresses, subject and date, and the
  bodies as stored (text, and sanitised HTML when kept). Bodies are base64-encoded so that
  ``mailbox.mbox`` reads them back byte for byte (no ``>From`` mangling). Under the
  ``snippet``/``metadata``/``live`` storage policies no body is stored, so the text part holds
  the snippet (or is empty) and ``X-Inboxcrm-Body`` says so.

Two ways in:

1. ``inboxcrm export --tenant SLUG [--record KIND:ID] --out DIR`` writes both files to DIR
   (:func:`export_to_directory`).
2. ``POST /api/v1/exports`` (admins, :func:`request_export`) records a pending export and queues
   ``inboxcrm.privacy.build_export``, which writes a zip of both files under the data directory
   (:func:`build_export`). Only the admin who asked may download it
   (``GET /api/v1/exports/{id}/download``), for :data:`EXPORT_LIFETIME`; the purge job deletes
   expired files. Requests, builds and downloads are audited (``export.*``).
"""

from __future__ import annotations

import json
import logging
import mailbox
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select

from inboxcrm.adapters.db.privacy_tables import ExportJobRow
from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    DealRow,
    EmailMessageRow,
    EmailThreadRow,
    LeadRow,
    NoteRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.roles import require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORT_LIFETIME",
    "ExportResult",
    "ExportView",
    "RecordRef",
    "build_export",
    "download_export",
    "expire_exports",
    "export_to_directory",
    "list_exports",
    "parse_record_ref",
    "request_export",
]

EXPORT_LIFETIME = timedelta(hours=24)
EXPORT_TASK = "inboxcrm.privacy.build_export"
JSON_NAME = "export.json"
MBOX_NAME = "mail.mbox"
_ROWS: dict[str, type[LeadRow] | type[ContactRow] | type[AccountRow]] = {
    "lead": LeadRow,
    "contact": ContactRow,
    "account": AccountRow,
}

RecordRef = tuple[str, int]


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    records: int
    messages: int


@dataclass(frozen=True)
class ExportView:
    id: int
    status: str
    record: str | None
    requested_by_user_id: int
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    size: int
    counts: dict[str, Any]
    error: str | None


def parse_record_ref(text: str) -> RecordRef:
    """``contact:12`` → ("contact", 12); InvalidInput for anything else."""
    kind, _, raw_id = text.strip().partition(":")
    if kind not in _ROWS or not raw_id.isdigit() or not 1 <= int(raw_id) < 2**31:
        raise InvalidInput(
            f"a record is contact:ID, lead:ID or account:ID, not {text!r}", field="record"
        )
    return kind, int(raw_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


def _columns(row: Any) -> dict[str, Any]:
    return {
        attr.key: _jsonable(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs
    }


def _records(uow: UnitOfWork, record: RecordRef | None) -> list[tuple[str, Any]]:
    session = uow.session
    if record is not None:
        kind, record_id = record
        row: Any = session.get(_ROWS[kind], record_id)
        if row is None or row.deleted_at is not None:
            raise NotFound(f"no {kind} with id {record_id}")
        return [(kind, row)]
    found: list[tuple[str, Any]] = []
    for kind, row_cls in _ROWS.items():
        rows = session.scalars(
            select(row_cls).where(row_cls.deleted_at.is_(None)).order_by(row_cls.id)
        )
        found.extend((kind, r) for r in rows)
    return found


def _meetings_by_id(uow: UnitOfWork, ids: set[int]) -> dict[int, Any]:
    from inboxcrm.adapters.db.calendar_tables import MeetingRow

    if not ids:
        return {}
    rows = uow.session.scalars(select(MeetingRow).where(MeetingRow.id.in_(sorted(ids))))
    return {row.id: row for row in rows}


def _record_document(uow: UnitOfWork, kind: str, row: Any) -> tuple[dict[str, Any], set[int]]:
    """One record's JSON and the ids of the messages its timeline shows."""
    session = uow.session
    emails = list(
        session.scalars(
            select(RecordEmailRow.email)
            .where(RecordEmailRow.record_kind == kind, RecordEmailRow.record_id == row.id)
            .order_by(RecordEmailRow.position, RecordEmailRow.id)
        )
    )
    deals: list[Any] = []
    if kind in ("account", "contact"):
        column = DealRow.account_id if kind == "account" else DealRow.contact_id
        deals = list(
            session.scalars(select(DealRow).where(column == row.id, DealRow.deleted_at.is_(None)))
        )
    notes = session.scalars(
        select(NoteRow)
        .where(NoteRow.record_kind == kind, NoteRow.record_id == row.id)
        .order_by(NoteRow.id)
    )
    entries = list(
        session.scalars(
            select(ActivityRow)
            .where(
                ActivityRow.record_kind == kind,
                ActivityRow.record_id == row.id,
                ActivityRow.deleted_at.is_(None),
            )
            .order_by(ActivityRow.occurred_at, ActivityRow.id)
        )
    )
    live = _live_messages_by_key(uow, {e.ref_id for e in entries if e.kind == "email"})
    meetings = _meetings_by_id(uow, {e.ref_id for e in entries if e.kind == "meeting"})
    timeline = []
    for entry in entries:
        if entry.kind == "email" and entry.ref_id not in live:
            continue
        item: dict[str, Any] = {
            "kind": entry.kind,
            "occurred_at": entry.occurred_at.isoformat(),
            "summary": entry.summary,
            "match_reason": entry.match_reason,
        }
        if entry.kind == "email":
            message, thread_id = live[entry.ref_id]
            item.update(
                provider_message_id=message.provider_message_id,
                thread_id=thread_id,
                message_id_header=message.message_id_header,
                subject=message.subject,
                direction=message.direction,
            )
        elif entry.kind == "meeting" and entry.ref_id in meetings:
            meeting = meetings[entry.ref_id]
            item.update(
                title=meeting.title,
                start=meeting.start_at.isoformat(),
                end=meeting.end_at.isoformat(),
                status=meeting.status,
                location=meeting.location,
                attendees=list(meeting.attendees or []),
                provider_event_id=meeting.provider_event_id,
            )
        timeline.append(item)
    document = {
        "kind": kind,
        **_columns(row),
        "emails": emails,
        "deals": [_columns(d) for d in deals],
        "notes": [_columns(n) for n in notes],
        "timeline": timeline,
    }
    return document, {message.id for message, _ in live.values()}


def _live_messages_by_key(
    uow: UnitOfWork, key_ids: Iterable[int]
) -> dict[int, tuple[EmailMessageRow, str]]:
    """One live copy per message identity (an ``email`` entry's ``ref_id``): the oldest stored
    copy, so a message held by several mailboxes is exported once."""
    key_list = sorted(set(key_ids))
    found: dict[int, tuple[EmailMessageRow, str]] = {}
    for start in range(0, len(key_list), 500):
        query = (
            select(EmailMessageRow, EmailThreadRow.provider_thread_id)
            .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
            .where(
                EmailMessageRow.deleted_at.is_(None),
                EmailMessageRow.message_key_id.in_(key_list[start : start + 500]),
            )
            .order_by(EmailMessageRow.id)
        )
        for message, thread_id in uow.session.execute(query):
            found.setdefault(message.message_key_id, (message, thread_id))
    return found


def _live_messages(
    uow: UnitOfWork, ids: Iterable[int] | None
) -> dict[int, tuple[EmailMessageRow, str]]:
    query = (
        select(EmailMessageRow, EmailThreadRow.provider_thread_id)
        .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        .where(EmailMessageRow.deleted_at.is_(None))
        .order_by(EmailMessageRow.sent_at, EmailMessageRow.id)
    )
    if ids is not None:
        id_list = list(ids)
        if not id_list:
            return {}
        query = query.where(EmailMessageRow.id.in_(id_list))
    return {m.id: (m, t) for m, t in uow.session.execute(query)}


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    return MIMEText(text, subtype, "utf-8", policy=policy.default)  # base64 body


def mime_message(message: EmailMessageRow, thread_id: str) -> MIMENonMultipart | MIMEMultipart:
    """The stored message as an RFC 5322 message (bodies as stored, base64-encoded)."""
    if message.body_text is not None:
        text, body_kind = message.body_text, "full"
    elif message.body_html is None:
        text, body_kind = message.snippet or "", "snippet" if message.snippet else "none"
    else:
        text, body_kind = "", "full"
    mime: MIMENonMultipart | MIMEMultipart
    if message.body_html is not None:
        mime = MIMEMultipart("alternative", policy=policy.default)
        mime.attach(_text_part(text, "plain"))
        mime.attach(_text_part(message.body_html, "html"))
    else:
        mime = _text_part(text, "plain")
    sender = message.from_address or ""
    if message.from_name and sender:
        sender = f'"{message.from_name}" <{sender}>'
    headers = {
        "From": sender,
        "To": ", ".join(message.to_addresses or []),
        "Cc": ", ".join(message.cc_addresses or []),
        "Subject": message.subject or "",
        "Date": format_datetime(message.sent_at),
        "Message-ID": message.message_id_header,
        "In-Reply-To": message.in_reply_to,
        "References": " ".join(message.references or []),
        "X-Gmail-Message-Id": message.provider_message_id,
        "X-Gmail-Thread-Id": thread_id,
        "X-Inboxcrm-Direction": message.direction,
        "X-Inboxcrm-Body": body_kind,
    }
    for name, value in headers.items():
        if value:
            mime[name] = value
    return mime


def _write(uow: UnitOfWork, directory: Path, record: RecordRef | None) -> tuple[int, int]:
    directory.mkdir(parents=True, exist_ok=True)
    documents = []
    shown: set[int] = set()
    rows = _records(uow, record)
    for kind, row in rows:
        document, message_ids = _record_document(uow, kind, row)
        documents.append(document)
        shown |= message_ids
    messages = _live_messages(uow, shown if record is not None else None)
    payload = {
        "format": "inboxcrm-export/1",
        "tenant": uow.tenant,
        "exported_at": utcnow().isoformat(),
        "scope": f"{record[0]}:{record[1]}" if record else "tenant",
        "records": documents,
        "messages": len(messages),
    }
    (directory / JSON_NAME).write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    mbox_path = directory / MBOX_NAME
    mbox_path.unlink(missing_ok=True)
    box = mailbox.mbox(str(mbox_path), create=True)
    try:
        box.lock()
        for message, thread_id in messages.values():
            box.add(mime_message(message, thread_id))
        box.flush()
    finally:
        box.unlock()
        box.close()
    return len(documents), len(messages)


def export_to_directory(
    runtime: Runtime, tenant: str, directory: Path, *, record: RecordRef | None = None
) -> ExportResult:
    """Write ``export.json`` and ``mail.mbox`` of ``record`` (or the whole tenant) to ``directory``.

    For the command line: audited as ``export.create`` by the system (the operator's shell).
    """
    with runtime.tenant_uow(tenant) as uow:
        records, messages = _write(uow, directory, record)
        record_event(
            uow,
            action="export.create",
            actor_user_id=None,
            actor_kind="system",
            target=f"{record[0]}:{record[1]}" if record else "tenant",
            details={"records": records, "messages": messages, "via": "cli"},
        )
        uow.commit()
    return ExportResult(directory, records, messages)


def _view(row: ExportJobRow) -> ExportView:
    return ExportView(
        id=row.id,
        status=row.status,
        record=f"{row.record_kind}:{row.record_id}" if row.record_kind else None,
        requested_by_user_id=row.requested_by_user_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
        expires_at=row.expires_at,
        size=row.size,
        counts=dict(row.counts or {}),
        error=row.error,
    )


def request_export(
    uow: UnitOfWork, principal: Principal, record: RecordRef | None, *, ip: str | None = None
) -> ExportView:
    """Admins ask for an export; a background job builds it (``inboxcrm.privacy.build_export``)."""
    require_admin(principal.role)
    if record is not None:
        kind, record_id = record
        row_cls = _ROWS[kind]
        found: Any = uow.session.get(row_cls, record_id)
        if found is None or found.deleted_at is not None:
            raise NotFound(f"no {kind} with id {record_id}")
    job = ExportJobRow(
        requested_by_user_id=principal.user_id,
        record_kind=record[0] if record else None,
        record_id=record[1] if record else None,
        status="pending",
        counts={},
    )
    uow.session.add(job)
    uow.session.flush()
    record_event(
        uow,
        action="export.request",
        actor_user_id=principal.user_id,
        target=f"export:{job.id}",
        ip=ip,
        details={"scope": f"{record[0]}:{record[1]}" if record else "tenant"},
    )
    uow.enqueue(EXPORT_TASK, tenant=uow.tenant, export_id=job.id)
    uow.commit()
    return _view(job)


def _export_dir(runtime: Runtime, tenant: str) -> Path:
    return runtime.settings.data_dir / "exports" / tenant


def build_export(runtime: Runtime, tenant: str, export_id: int) -> None:
    """Build a pending export into a zip under the data directory. Idempotent."""
    with runtime.tenant_uow(tenant) as uow:
        job = uow.session.get(ExportJobRow, export_id)
        if job is None or job.status not in ("pending", "running"):
            return
        job.status = "running"
        uow.commit()
        record = (job.record_kind, job.record_id) if job.record_kind and job.record_id else None
    base = _export_dir(runtime, tenant)
    work = base / f"{export_id}-work"
    target = base / f"{export_id}-{secrets.token_hex(8)}.zip"
    try:
        with runtime.tenant_uow(tenant) as uow:
            records, messages = _write(uow, work, record)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in (JSON_NAME, MBOX_NAME):
                archive.write(work / name, arcname=name)
    except Exception as exc:
        logger.exception("export %s of tenant %s failed", export_id, tenant)
        with runtime.tenant_uow(tenant) as uow:
            failed = uow.session.get(ExportJobRow, export_id)
            if failed is not None:
                failed.status = "failed"
                failed.error = type(exc).__name__
                failed.finished_at = utcnow()
                record_event(
                    uow,
                    action="export.build",
                    actor_user_id=None,
                    actor_kind="system",
                    target=f"export:{export_id}",
                    outcome="failure",
                )
                uow.commit()
        return
    finally:
        for name in (JSON_NAME, MBOX_NAME):
            (work / name).unlink(missing_ok=True)
        if work.exists():
            work.rmdir()
    now = utcnow()
    with runtime.tenant_uow(tenant) as uow:
        done = uow.session.get(ExportJobRow, export_id)
        if done is None:
            target.unlink(missing_ok=True)
            return
        done.status = "done"
        done.path = str(target)
        done.size = target.stat().st_size
        done.counts = {"records": records, "messages": messages}
        done.finished_at = now
        done.expires_at = now + EXPORT_LIFETIME
        record_event(
            uow,
            action="export.build",
            actor_user_id=None,
            actor_kind="system",
            target=f"export:{export_id}",
            details={"records": records, "messages": messages},
        )
        uow.commit()


def list_exports(uow: UnitOfWork, principal: Principal) -> list[ExportView]:
    """The tenant's exports, newest first (admins)."""
    require_admin(principal.role)
    rows = uow.session.scalars(select(ExportJobRow).order_by(ExportJobRow.id.desc()).limit(100))
    return [_view(r) for r in rows]


def get_export(uow: UnitOfWork, principal: Principal, export_id: int) -> ExportView:
    require_admin(principal.role)
    row = uow.session.get(ExportJobRow, export_id)
    if row is None:
        raise NotFound(f"no export {export_id}")
    return _view(row)


def download_export(
    uow: UnitOfWork, principal: Principal, export_id: int, *, ip: str | None = None
) -> Path:
    """The zip of a finished export, for the admin who requested it while it has not expired."""
    require_admin(principal.role)
    row = uow.session.get(ExportJobRow, export_id)
    if row is None:
        raise NotFound(f"no export {export_id}")
    if row.requested_by_user_id != principal.user_id:
        record_event(
            uow,
            action="export.download",
            actor_user_id=principal.user_id,
            target=f"export:{export_id}",
            outcome="denied",
            ip=ip,
        )
        uow.commit()
        raise PermissionDenied("only the admin who requested an export may download it")
    if row.status != "done" or row.path is None:
        raise NotFound(f"export {export_id} is not ready (status {row.status})")
    if row.expires_at is None or row.expires_at <= utcnow() or not Path(row.path).exists():
        raise NotFound(f"export {export_id} has expired; request a new one")
    record_event(
        uow,
        action="export.download",
        actor_user_id=principal.user_id,
        target=f"export:{export_id}",
        ip=ip,
    )
    uow.commit()
    return Path(row.path)


def expire_exports(uow: UnitOfWork, now: datetime) -> int:
    """Delete the files of exports past their lifetime (the caller commits); returns how many."""
    rows = uow.session.scalars(
        select(ExportJobRow).where(
            ExportJobRow.path.is_not(None),
            ExportJobRow.expires_at.is_not(None),
            ExportJobRow.expires_at <= now,
        )
    ).all()
    for row in rows:
        if row.path:
            Path(row.path).unlink(missing_ok=True)
        row.path = None
        row.status = "expired"
    return len(rows)
