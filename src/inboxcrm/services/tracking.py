"""Open and click tracking: telling people from machines, and recording what they did.

The whole flow (opt-in per message, see :mod:`inboxcrm.services.sending`):

1. A tracked message carries a 1x1 pixel ``/t/o/<token>`` and links ``/t/c/<token>``; each token
   is signed (:mod:`inboxcrm.services.tracking_links`) and says which tenant, message, recipient
   and (for a click) which link and target.
2. The endpoints (:mod:`inboxcrm.web.tracking_routes`) check the signature, answer at once —
   the same GIF for every pixel request, a redirect only to a signed target, a neutral page for
   anything else — and hand a :class:`TrackingHit` to a buffer. Nothing there touches a
   tenant database; the buffer is written in batches by a background thread.
3. :func:`classify_hit` labels each hit: ``proxy`` (GoogleImageProxy and other mail image
   proxies fetch images for the reader, so they prove nothing about a person), ``scanner``
   (known scanner and preview agents, HEAD requests, no agent at all, a click within
   :data:`CLICK_TOO_SOON_SECONDS` of sending) or ``human``.
4. :func:`record_tracking_hits` (one unit of work per tenant and batch) stores each hit once per
   (message, recipient, kind, link, minute, label): the unique key is the deduplication. A new
   human event adds one to the message's ``opens``/``clicks`` and one entry (``email_opened`` /
   ``email_clicked``) to the record's timeline. Several different links clicked by one visitor
   within :data:`MANY_LINKS_SECONDS` is a link scanner: those clicks are relabelled ``scanner``
   and taken off the counters and the timeline. Hits for a message that does not exist (a
   deleted message, another deployment's token) are dropped.

The client address is never stored: ``visitor`` is a hash of address and agent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update

from inboxcrm.adapters.db.sending_tables import OutboundMessageRow, TrackingEventRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.sync.inserts import insert_if_absent

__all__ = [
    "CLICK_TOO_SOON_SECONDS",
    "MANY_LINKS_SECONDS",
    "TrackingHit",
    "TrackingSummary",
    "classify_hit",
    "record_tracking_hits",
    "tracking_summary",
    "visitor_of",
]

logger = logging.getLogger(__name__)

Label = Literal["human", "proxy", "scanner"]

CLICK_TOO_SOON_SECONDS = 10
"""A click this soon after sending is a scanner following links on delivery."""
MANY_LINKS_SECONDS = 5
MANY_LINKS_COUNT = 3
"""This many different links of one message clicked by one visitor this fast: a scanner."""

OPENED_KIND = "email_opened"
CLICKED_KIND = "email_clicked"

_PROXY_AGENTS = ("googleimageproxy", "yahoomailproxy", "ymailproxy")
_SCANNER_AGENTS = (
    "bot",
    "crawler",
    "spider",
    "scanner",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "curl/",
    "wget",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "proofpoint",
    "mimecast",
    "barracuda",
    "symantec",
    "forcepoint",
    "trendmicro",
    "sophos",
    "fortinet",
    "safelinks",
    "microsoft office",
    "ms-office",
    "bingpreview",
    "facebookexternalhit",
    "slackbot",
    "skypeuripreview",
    "whatsapp",
    "preview",
)


@dataclass(frozen=True, slots=True)
class TrackingHit:
    """One request to a tracking endpoint with a valid token (JSON-safe fields only)."""

    tenant: str
    outbound_id: int
    recipient: str
    kind: Literal["open", "click"]
    link: int
    url: str | None
    issued_at: int
    at: float
    """When it happened (epoch seconds)."""
    method: str
    user_agent: str
    visitor: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def visitor_of(client_ip: str, user_agent: str) -> str:
    """A hash standing for one client (address + agent); the address itself is never kept."""
    return hashlib.sha256(f"{client_ip}|{user_agent}".encode()).hexdigest()[:32]


def classify_hit(hit: TrackingHit) -> tuple[Label, str | None]:
    """``(label, reason)``: who (or what) made this request (step 3 of the module docstring)."""
    agent = hit.user_agent.lower()
    if any(marker in agent for marker in _PROXY_AGENTS):
        return "proxy", "image_proxy"
    if hit.method == "HEAD":
        return "scanner", "head_request"
    if not agent.strip():
        return "scanner", "no_user_agent"
    if any(marker in agent for marker in _SCANNER_AGENTS):
        return "scanner", "scanner_agent"
    if hit.kind == "click" and hit.at - hit.issued_at < CLICK_TOO_SOON_SECONDS:
        return "scanner", "clicked_on_delivery"
    return "human", None


def _when(hit: TrackingHit) -> datetime:
    return datetime.fromtimestamp(hit.at, tz=UTC)


def _timeline_summary(kind: str, row: OutboundMessageRow, hit: TrackingHit) -> str:
    subject = row.subject or "(no subject)"
    if kind == "open":
        return f"Opened by {hit.recipient}: {subject}"[:300]
    return f"Clicked {hit.url} by {hit.recipient}: {subject}"[:300]


def _count(row: OutboundMessageRow, kind: str, delta: int) -> None:
    if kind == "open":
        row.opens = max(0, row.opens + delta)
    else:
        row.clicks = max(0, row.clicks + delta)


def _unmark_many_links(uow: UnitOfWork, row: OutboundMessageRow, hit: TrackingHit) -> bool:
    """Relabel this visitor's recent human clicks as a scanner's if they span many links."""
    moment = _when(hit)
    window = timedelta(seconds=MANY_LINKS_SECONDS)
    recent = list(
        uow.session.scalars(
            select(TrackingEventRow).where(
                TrackingEventRow.outbound_message_id == row.id,
                TrackingEventRow.kind == "click",
                TrackingEventRow.visitor == hit.visitor,
                TrackingEventRow.occurred_at >= moment - window,
                TrackingEventRow.occurred_at <= moment + window,
            )
        )
    )
    if len({event.link for event in recent}) < MANY_LINKS_COUNT:
        return False
    for event in recent:
        if event.label != "human":
            continue
        taken = uow.session.scalar(
            select(TrackingEventRow.id).where(
                TrackingEventRow.outbound_message_id == row.id,
                TrackingEventRow.recipient == event.recipient,
                TrackingEventRow.kind == event.kind,
                TrackingEventRow.link == event.link,
                TrackingEventRow.minute == event.minute,
                TrackingEventRow.label == "scanner",
            )
        )
        uow.session.execute(
            update(ActivityRow)
            .where(ActivityRow.kind == CLICKED_KIND, ActivityRow.ref_id == event.id)
            .values(deleted_at=utcnow())
        )
        _count(row, "click", -1)
        if taken is not None:
            uow.session.delete(event)
        else:
            event.label = "scanner"
            event.reason = "many_links"
    uow.session.flush()
    return True


def record_tracking_hits(uow: UnitOfWork, hits: Sequence[TrackingHit]) -> int:
    """Store a batch of one tenant's hits (step 4); returns how many new human events."""
    humans = 0
    rows: dict[int, OutboundMessageRow | None] = {}
    seen: set[tuple[object, ...]] = set()
    for hit in sorted(hits, key=lambda h: h.at):
        # The same event again in this batch changes nothing: skip it before the database.
        key = (hit.outbound_id, hit.recipient, hit.kind, hit.link, int(hit.at // 60), hit.visitor)
        label_key = (*key, classify_hit(hit)[0])
        if label_key in seen:
            continue
        seen.add(label_key)
        if hit.outbound_id not in rows:
            rows[hit.outbound_id] = uow.session.get(OutboundMessageRow, hit.outbound_id)
        row = rows[hit.outbound_id]
        if row is None or row.status != "sent":
            continue
        label, reason = classify_hit(hit)
        inserted = insert_if_absent(
            uow.session,
            TrackingEventRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "outbound_message_id": row.id,
                    "recipient": hit.recipient[:320],
                    "kind": hit.kind,
                    "link": hit.link if hit.kind == "click" else -1,
                    "url": hit.url,
                    "minute": int(hit.at // 60),
                    "label": label,
                    "reason": reason,
                    "visitor": hit.visitor,
                    "occurred_at": _when(hit),
                }
            ],
            ["outbound_message_id", "recipient", "kind", "link", "minute", "label"],
            returning=["id"],
        )
        if not inserted or label != "human":
            if inserted and hit.kind == "click":
                _unmark_many_links(uow, row, hit)
            continue
        event_id = int(inserted[0][0])
        _count(row, hit.kind, +1)
        humans += 1
        uow.session.add(
            ActivityRow(
                record_kind=row.record_kind,
                record_id=row.record_id,
                kind=OPENED_KIND if hit.kind == "open" else CLICKED_KIND,
                ref_id=event_id,
                occurred_at=_when(hit),
                summary=_timeline_summary(hit.kind, row, hit),
                match_reason=None,
                match_detail=None,
            )
        )
        uow.session.flush()
        if hit.kind == "click" and _unmark_many_links(uow, row, hit):
            humans -= 1
    uow.commit()
    return humans


@dataclass(frozen=True)
class TrackingSummary:
    """A message's events by label: what was counted and what was recognised as machines."""

    opens: int
    clicks: int
    proxy_opens: int
    scanner_opens: int
    scanner_clicks: int


def tracking_summary(uow: UnitOfWork, outbound_id: int) -> TrackingSummary:
    counts: dict[tuple[str, str], int] = {}
    for kind, label in uow.session.execute(
        select(TrackingEventRow.kind, TrackingEventRow.label).where(
            TrackingEventRow.outbound_message_id == outbound_id
        )
    ):
        counts[(kind, label)] = counts.get((kind, label), 0) + 1
    return TrackingSummary(
        opens=counts.get(("open", "human"), 0),
        clicks=counts.get(("click", "human"), 0),
        proxy_opens=counts.get(("open", "proxy"), 0),
        scanner_opens=counts.get(("open", "scanner"), 0),
        scanner_clicks=counts.get(("click", "scanner"), 0),
    )
