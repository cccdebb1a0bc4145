"""Relationship strength of a record: Strong, Warm or Cold, from recency and frequency.

The interactions counted are the record's timeline entries of kind ``email`` (either
direction), ``meeting`` (not cancelled, already started) and ``note``, up to now.

Formula (:func:`strength_of`), a score of two parts:

- recency, days since the last interaction: ≤ 7 → 3 points, ≤ 30 → 2, ≤ 90 → 1, else 0;
- frequency, interactions in the last 90 days: ≥ 10 → 3 points, ≥ 4 → 2, ≥ 1 → 1, else 0.

Score ≥ 5 is **Strong**, ≥ 3 **Warm**, anything less (including never) **Cold**. So weekly
contact is Strong, a mail or two in the last month Warm, one exchange a quarter ago Cold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from inboxcrm.adapters.db.calendar_tables import MeetingRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork

__all__ = ["INTERACTION_KINDS", "Strength", "record_strength", "strength_of"]

INTERACTION_KINDS = ("email", "meeting", "note")
FREQUENCY_DAYS = 90


@dataclass(frozen=True)
class Strength:
    label: str
    score: int
    last_interaction: datetime | None
    interactions_90d: int


def _recency_points(days: float | None) -> int:
    if days is None:
        return 0
    if days <= 7:
        return 3
    if days <= 30:
        return 2
    return 1 if days <= 90 else 0


def _frequency_points(count: int) -> int:
    if count >= 10:
        return 3
    if count >= 4:
        return 2
    return 1 if count >= 1 else 0


def strength_of(moments: Sequence[datetime], now: datetime) -> Strength:
    """The strength for interactions at ``moments`` (any order), as of ``now``."""
    past = [m for m in moments if m <= now]
    last = max(past, default=None)
    days = (now - last).total_seconds() / 86400 if last is not None else None
    recent = sum(1 for m in past if now - m <= timedelta(days=FREQUENCY_DAYS))
    score = _recency_points(days) + _frequency_points(recent)
    label = "Strong" if score >= 5 else "Warm" if score >= 3 else "Cold"
    return Strength(label, score, last, recent)


def record_strength(uow: UnitOfWork, record_kind: str, record_id: int, now: datetime) -> Strength:
    """:func:`strength_of` the record's interactions (see the module docstring)."""
    not_cancelled = or_(
        ActivityRow.kind != "meeting",
        ActivityRow.ref_id.in_(select(MeetingRow.id).where(and_(MeetingRow.status != "cancelled"))),
    )
    since = now - timedelta(days=FREQUENCY_DAYS)
    where = (
        ActivityRow.record_kind == record_kind,
        ActivityRow.record_id == record_id,
        ActivityRow.kind.in_(INTERACTION_KINDS),
        ActivityRow.deleted_at.is_(None),
        ActivityRow.occurred_at <= now,
        not_cancelled,
    )
    recent = list(
        uow.session.scalars(
            select(ActivityRow.occurred_at).where(*where, ActivityRow.occurred_at >= since)
        )
    )
    if recent:
        return strength_of(recent, now)
    last = uow.session.scalar(select(func.max(ActivityRow.occurred_at)).where(*where))
    return strength_of([last] if last is not None else [], now)
