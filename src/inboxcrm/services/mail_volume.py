"""How much mail a record exchanged, week by week, sent and received (for the record's chart).

Counted from the record's timeline entries with the same sharing rules as the timeline itself
(:meth:`mail_sharing.ReadScope.entry_visible`), so a reader never learns from a chart that mail
exists which they may not see. Weeks start on Monday (UTC) and the current week is the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services.mail_sharing import EMAIL_KIND, MailViewer, read_scope

__all__ = ["WeekVolume", "weekly_mail_volume"]

DEFAULT_WEEKS = 12
MAX_WEEKS = 104


@dataclass(frozen=True)
class WeekVolume:
    """The messages of one week: ``week`` is its Monday."""

    week: date
    sent: int
    received: int


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def weekly_mail_volume(
    uow: UnitOfWork,
    record_kind: str,
    record_id: int,
    viewer: MailViewer,
    *,
    weeks: int = DEFAULT_WEEKS,
    now: datetime | None = None,
) -> list[WeekVolume]:
    """The last ``weeks`` weeks (oldest first) of mail on the record that ``viewer`` may see."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    this_week = _monday(now or datetime.now(UTC))
    first = this_week - timedelta(weeks=weeks - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    scope = read_scope(uow, viewer)
    # An email entry is the message's tenant-wide identity; its copies in colleagues' mailboxes
    # agree on the direction seen from the team ("outbound" when any copy was sent by one of us).
    direction = (
        select(func.max(EmailMessageRow.direction))
        .where(EmailMessageRow.message_key_id == ActivityRow.ref_id)
        .scalar_subquery()
    )
    query = select(ActivityRow.occurred_at, direction).where(
        ActivityRow.record_kind == record_kind,
        ActivityRow.record_id == record_id,
        ActivityRow.kind == EMAIL_KIND,
        ActivityRow.deleted_at.is_(None),
        ActivityRow.occurred_at >= since,
        scope.entry_visible(),
    )
    counts: dict[date, list[int]] = {first + timedelta(weeks=i): [0, 0] for i in range(weeks)}
    for occurred_at, direction in uow.session.execute(query):
        bucket = counts.get(_monday(occurred_at))
        if bucket is not None:
            bucket[0 if direction == "outbound" else 1] += 1
    return [WeekVolume(week, sent, received) for week, (sent, received) in counts.items()]
