"""The audit log: append-only, hash-chained, one per tenant database and one in the control plane.

How it works, from a write to a verification:

1. A service that does something worth auditing calls :func:`record_event` inside the unit of
   work of that change, before it commits: the entry and the change commit together or not at
   all. A tenant unit of work writes to the tenant's own ``audit_log``; a control-plane unit of
   work (``uow.tenant is None``) writes to the control plane's (staff actions).
2. :func:`record_event` reads the chain head (``audit_chain_head``, a single row holding the
   sequence number and hash of the newest entry; locked ``FOR UPDATE`` on PostgreSQL, and on
   SQLite the database's single writer lock serialises it), appends the entry with
   ``seq = head.seq + 1`` and ``prev_hash = head.entry_hash``, and moves the head onto it.
3. ``entry_hash`` is the SHA-256 of the entry's canonical JSON (every field: seq, time, action,
   actor, target, outcome, IP, details) together with ``prev_hash``, so an entry cannot change
   without its hash changing, and no entry can be removed or slipped in without breaking the
   ``prev_hash`` link of the next one.
4. The head lives in its own table, so editing ``audit_log`` alone cannot hide a removed or
   appended last entry: the head still names the old newest entry.
5. Triggers created by the migrations (:mod:`inboxcrm.adapters.db.audit_triggers`) refuse UPDATE
   and DELETE on ``audit_log`` and let the head only move forward onto an existing entry, so the
   application's database role can only append.
6. :func:`verify_chain` (``inboxcrm audit verify``) walks the entries in order and names the first
   entry that was altered, inserted or is missing, or confirms the count.

Entries never carry a token, a password, a message body or a mail address: targets are ids
(``contact:12``, ``mail_account:3``, ``user:7``) and details hold counts and setting values.

The call others use::

    record_event(uow, action="record.delete", actor_user_id=principal.user_id,
                 target="contact:12", outcome="success", ip=None, details={"messages": 3})

Action names are dotted, lower-case (``area.verb``); ``outcome`` is ``success``, ``failure`` or
``denied``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.audit_columns import GENESIS_HASH
from inboxcrm.adapters.db.privacy_tables import AuditChainHeadRow, AuditLogRow
from inboxcrm.adapters.db.staff_tables import ControlAuditChainHeadRow, ControlAuditLogRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import Conflict, InvalidInput
from inboxcrm.services.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_id_cursor,
    encode_cursor,
)

logger = logging.getLogger(__name__)

__all__ = [
    "OUTCOMES",
    "AuditEntry",
    "ChainReport",
    "list_events",
    "record_event",
    "verify_chain",
]

OUTCOMES = frozenset({"success", "failure", "denied"})
ACTOR_KINDS = frozenset({"user", "staff", "system"})
_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MAX_DETAILS_CHARS = 4000

_EntryRow = AuditLogRow | ControlAuditLogRow
_Tables = tuple[
    type[AuditLogRow] | type[ControlAuditLogRow],
    type[AuditChainHeadRow] | type[ControlAuditChainHeadRow],
]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    seq: int
    occurred_at: datetime
    action: str
    actor_user_id: int | None
    actor_kind: str
    target: str | None
    outcome: str
    ip: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainReport:
    """The result of a verification: ``ok`` with ``count`` entries, or the first ``problem``."""

    ok: bool
    count: int
    problem: str | None = None
    seq: int | None = None


def _tables(uow: UnitOfWork) -> _Tables:
    if uow.tenant is None:
        return ControlAuditLogRow, ControlAuditChainHeadRow
    return AuditLogRow, AuditChainHeadRow


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    *,
    seq: int,
    occurred_at: datetime,
    action: str,
    actor_user_id: int | None,
    actor_kind: str,
    target: str | None,
    outcome: str,
    ip: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) binding one entry's fields to the hash of the entry before it."""
    body = _canonical(
        [
            seq,
            occurred_at.isoformat(),
            action,
            actor_user_id,
            actor_kind,
            target,
            outcome,
            ip,
            details,
            prev_hash,
        ]
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _hash_of_row(row: _EntryRow) -> str:
    return entry_hash(
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        actor_user_id=row.actor_user_id,
        actor_kind=row.actor_kind,
        target=row.target,
        outcome=row.outcome,
        ip=row.ip,
        details=row.details or {},
        prev_hash=row.prev_hash,
    )


def _clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    try:
        text = _canonical(details)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit details must be JSON values: {exc}") from exc
    if len(text) > _MAX_DETAILS_CHARS:
        raise InvalidInput("audit details are too long")
    cleaned: dict[str, Any] = json.loads(text)
    return cleaned


def _head(session: Session, head_cls: Any) -> Any:
    head = session.scalar(select(head_cls).where(head_cls.id == 1).with_for_update())
    if head is None:  # a database made without the migration's seed row
        head = head_cls(id=1, seq=0, entry_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def record_event(
    uow: UnitOfWork,
    *,
    action: str,
    actor_user_id: int | None,
    target: str | None,
    outcome: str = "success",
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    actor_kind: str = "user",
) -> int:
    """Append one entry to the audit log of ``uow``'s database; the caller commits.

    Returns the entry's sequence number. ``actor_kind`` is ``user`` (a tenant member),
    ``staff`` (support staff, ``actor_user_id`` their control-plane user id) or ``system``.
    """
    if not _ACTION_RE.match(action):
        raise InvalidInput(f"audit action {action!r} must be dotted lower-case, e.g. 'x.y'")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"audit outcome {outcome!r} must be one of {sorted(OUTCOMES)}")
    if actor_kind not in ACTOR_KINDS:
        raise InvalidInput(f"audit actor kind {actor_kind!r} is not known")
    entry_cls, head_cls = _tables(uow)
    session = uow.session
    head = _head(session, head_cls)
    values: dict[str, Any] = {
        "seq": head.seq + 1,
        "occurred_at": utcnow(),
        "action": action,
        "actor_user_id": actor_user_id,
        "actor_kind": actor_kind,
        "target": (target or None) and target[:200],
        "outcome": outcome,
        "ip": (ip or None) and ip[:64],
        "details": _clean_details(details),
        "prev_hash": head.entry_hash,
    }
    digest = entry_hash(**values)
    session.add(entry_cls(**values, entry_hash=digest))
    session.flush()
    moved = session.execute(
        update(head_cls)
        .where(head_cls.id == 1, head_cls.seq == head.seq)
        .values(seq=values["seq"], entry_hash=digest)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 1) != 1:  # pragma: no cover - the row lock prevents it
        raise Conflict("the audit log moved concurrently; try again")
    session.expire(head)
    return int(values["seq"])


def _view(row: _EntryRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        actor_user_id=row.actor_user_id,
        actor_kind=row.actor_kind,
        target=row.target,
        outcome=row.outcome,
        ip=row.ip,
        details=dict(row.details or {}),
    )


def list_events(
    uow: UnitOfWork,
    *,
    actor_user_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[AuditEntry]:
    """Entries newest first; ``action`` matches exactly, or a whole area with ``area.*``."""
    check_limit(limit)
    for name, moment in (("from", since), ("to", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-01-01T00:00:00Z", field=name)
    entry_cls, _ = _tables(uow)
    query: Select[Any] = select(entry_cls)
    if actor_user_id is not None:
        query = query.where(entry_cls.actor_user_id == actor_user_id)
    if action:
        if action.endswith(".*"):
            query = query.where(entry_cls.action.startswith(action[:-1], autoescape=True))
        else:
            query = query.where(entry_cls.action == action)
    if since is not None:
        query = query.where(entry_cls.occurred_at >= since)
    if until is not None:
        query = query.where(entry_cls.occurred_at < until)
    before = decode_id_cursor(cursor, "audit-log")
    if before is not None:
        query = query.where(entry_cls.id < before)
    rows = list(uow.session.scalars(query.order_by(entry_cls.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor("audit-log", [rows[-1].id]) if more else None
    return Page([_view(r) for r in rows], next_cursor)


def _entries(session: Session, entry_cls: Any) -> Iterator[_EntryRow]:
    query = select(entry_cls).order_by(entry_cls.seq, entry_cls.id).execution_options(yield_per=500)
    yield from session.scalars(query)


def verify_chain(uow: UnitOfWork) -> ChainReport:
    """Walk the chain of ``uow``'s database; name the first altered, inserted or missing entry."""
    entry_cls, head_cls = _tables(uow)
    session = uow.session
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in _entries(session, entry_cls):
        if row.seq < expected_seq:
            return ChainReport(
                False,
                expected_seq - 1,
                f"entry #{row.seq} (row {row.id}) is an inserted entry: #{row.seq} already exists",
                row.seq,
            )
        if row.seq > expected_seq:
            return ChainReport(
                False, expected_seq - 1, f"entry #{expected_seq} is missing", expected_seq
            )
        if row.prev_hash != prev_hash:
            return ChainReport(
                False,
                expected_seq - 1,
                f"entry #{row.seq} (row {row.id}) does not follow entry #{row.seq - 1}: "
                "an entry was altered, inserted or removed here",
                row.seq,
            )
        if _hash_of_row(row) != row.entry_hash:
            return ChainReport(
                False, expected_seq - 1, f"entry #{row.seq} (row {row.id}) was altered", row.seq
            )
        prev_hash = row.entry_hash
        expected_seq += 1
    count = expected_seq - 1
    head: Any = session.get(head_cls, 1)
    head_seq = head.seq if head is not None else 0
    head_hash = head.entry_hash if head is not None else GENESIS_HASH
    if head_seq > count:
        return ChainReport(False, count, f"entry #{count + 1} is missing", count + 1)
    if head_seq < count:
        return ChainReport(
            False,
            count,
            f"entry #{head_seq + 1} is an inserted entry: it is past the chain head",
            head_seq + 1,
        )
    if head_hash != prev_hash:
        return ChainReport(False, count, f"entry #{count} was altered", count)
    return ChainReport(True, count)
