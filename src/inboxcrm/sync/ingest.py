"""Turning fetched messages into stored mail: parse, match, dedup, thread, store, link.

:class:`AddressBook` is the tenant's CRM side of matching (record addresses, whole-domain
accounts, BCC tags), loaded once per sync run. :class:`Ingestor` handles one mail account:

- :meth:`Ingestor.screen_headers` decides from headers alone (format ``metadata``) which new
  messages might belong to a record, so bodies of other mail are never fetched.
- :meth:`Ingestor.store` parses raw messages, matches them and stores what matches: the thread
  (one :class:`EmailThreadRow` per provider thread), the message (once per account), attachment
  metadata, and one ``email`` timeline entry per (record, message) carrying the match reason and
  detail. Every insert is insert-if-absent, so a retried or concurrent batch changes nothing.

Dedup across the tenant's mailboxes: each stored copy points at the message's tenant-wide
identity (:mod:`inboxcrm.sync.message_keys`: its RFC Message-ID and sender, else a content
hash), and timeline entries point at the identity, not at the copy. A colleague's mailbox that
syncs the same email later stores its own copy (its owner's sharing rules apply to it) and adds
no second entry to a record the message is already on; a record only its match links gains
one. Thread matching looks at every copy in the thread, so a reply that only one mailbox holds
still follows the thread onto the record.

The storage policy is applied here: ``full`` keeps text and HTML bodies, ``snippet`` keeps only
the snippet, ``metadata`` keeps neither; ``live`` keeps only the Gmail ids and the headers that
matching and threading need (addresses, Message-ID, In-Reply-To, References, date): no subject,
snippet, body or attachment names, which are fetched from Gmail when a user opens the message
(services.live_mail). Message bodies are never logged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    LeadRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.domain.bcc import bcc_address, bcc_hash
from inboxcrm.domain.mail_parsing import (
    ParsedMail,
    UnparseableMessage,
    html_to_text,
    parse_message,
    snippet_of,
)
from inboxcrm.domain.matching import FREE_MAIL_DOMAINS, MatchResult, MessageMatcher, NeverLogList
from inboxcrm.providers.base import RemoteMessage
from inboxcrm.sync.autocreate import ContactAutoCreator
from inboxcrm.sync.inserts import insert_if_absent
from inboxcrm.sync.message_keys import claim_message_keys, dedup_key_of

__all__ = [
    "ACTIVITY_KIND",
    "METADATA_HEADERS",
    "AddressBook",
    "IngestPolicy",
    "Ingestor",
    "Outcome",
    "StoragePolicy",
    "bcc_record_key",
    "build_matcher",
    "link_message",
    "load_address_book",
    "load_tenant_mail_settings",
    "parse_headers_only",
    "parse_record_key",
    "parsed_from_row",
    "record_bcc_address",
    "record_key",
    "relink_stored",
]

logger = logging.getLogger(__name__)

ACTIVITY_KIND = "email"
StoragePolicy = Literal["full", "snippet", "metadata", "live"]
METADATA_HEADERS = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Delivered-To",
    "X-Original-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "Precedence",
    "Auto-Submitted",
)
"""Headers asked for with format ``metadata``: everything matching and threading look at."""

_RECORD_TABLES: dict[str, type[AccountRow] | type[ContactRow] | type[LeadRow]] = {
    "account": AccountRow,
    "contact": ContactRow,
    "lead": LeadRow,
}


def record_key(kind: str, record_id: int) -> str:
    """The matcher's key of a record: ``"contact:12"``."""
    return f"{kind}:{record_id}"


def parse_record_key(key: str) -> tuple[str, int]:
    kind, _, raw_id = key.partition(":")
    return kind, int(raw_id)


def bcc_record_key(tenant: str, kind: str, record_id: int) -> str:
    """What a record's BCC tag is computed from (unique across tenants)."""
    return f"{tenant}:{kind}:{record_id}"


@dataclass(frozen=True)
class AddressBook:
    """The tenant's records as the matcher sees them."""

    records_by_address: dict[str, frozenset[str]]
    """Canonical address → record keys (a sync run's contact auto-creation extends it)."""
    records_by_domain: Mapping[str, frozenset[str]]
    bcc_records: Mapping[str, str]

    def search_entries(self) -> list[str]:
        """Addresses and ``@domain`` entries to build search queries from."""
        entries = list(self.records_by_address)
        entries.extend(
            "@" + domain for domain in self.records_by_domain if domain not in FREE_MAIL_DOMAINS
        )
        return entries

    def bcc_addresses(self, mailbox: str) -> list[str]:
        """Every record's BCC address for ``mailbox`` (the tags as plus-addresses)."""
        local, _, domain = mailbox.partition("@")
        base = local.split("+", 1)[0]
        return [f"{base}+{tag}@{domain}" for tag in self.bcc_records]


def load_address_book(session: Session, *, tenant: str, bcc_secret: bytes) -> AddressBook:
    """Addresses, whole domains and BCC tags of every non-deleted Lead, Contact and Account."""
    by_address: dict[str, set[str]] = defaultdict(set)
    by_domain: dict[str, set[str]] = defaultdict(set)
    bcc: dict[str, str] = {}
    for kind, table in _RECORD_TABLES.items():
        rows = session.execute(
            select(RecordEmailRow.record_id, RecordEmailRow.email)
            .join(table, table.id == RecordEmailRow.record_id)
            .where(RecordEmailRow.record_kind == kind, table.deleted_at.is_(None))
        )
        for record_id, email in rows:
            by_address[email].add(record_key(kind, record_id))
        for record_id in session.scalars(select(table.id).where(table.deleted_at.is_(None))):
            key = record_key(kind, record_id)
            bcc[bcc_hash(bcc_record_key(tenant, kind, record_id), bcc_secret)] = key
    for account_id, domain in session.execute(
        select(AccountRow.id, AccountRow.domain).where(
            AccountRow.deleted_at.is_(None), AccountRow.domain.is_not(None)
        )
    ):
        if domain:
            by_domain[domain.lower()].add(record_key("account", account_id))
    return AddressBook(
        records_by_address={a: frozenset(k) for a, k in by_address.items()},
        records_by_domain={d: frozenset(k) for d, k in by_domain.items()},
        bcc_records=bcc,
    )


def record_bcc_address(
    mailbox: str, tenant: str, kind: str, record_id: int, bcc_secret: bytes
) -> str:
    """The BCC logging address of a record for ``mailbox`` (what a record page shows)."""
    return bcc_address(mailbox, bcc_record_key(tenant, kind, record_id), bcc_secret)


@dataclass(frozen=True)
class IngestPolicy:
    """Per-tenant and per-account rules applied at ingest."""

    storage: StoragePolicy = "full"
    included_labels: frozenset[str] | None = None
    """When set, only messages carrying one of these labels are synced."""
    excluded_labels: frozenset[str] = frozenset({"SPAM", "TRASH"})

    def label_skip(self, labels: Collection[str]) -> str | None:
        """The skip reason the labels of a message give, or None."""
        if "DRAFT" in labels and not (self.included_labels and "DRAFT" in self.included_labels):
            return "draft"
        if self.included_labels is not None:
            return None if self.included_labels.intersection(labels) else "label_excluded"
        return "label_excluded" if self.excluded_labels.intersection(labels) else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message: ``stored`` or ``skipped`` with a reason."""

    message_id: str
    outcome: Literal["stored", "skipped"]
    reason: str | None = None
    detail: str | None = None


@dataclass
class _ThreadState:
    row_id: int
    keys: set[str] = field(default_factory=set)


def _text(value: str) -> str:
    """Text as every database accepts it (PostgreSQL refuses NUL characters)."""
    return value.replace("\x00", "") if "\x00" in value else value


def _cut(value: str | None, limit: int | None) -> str | None:
    """``value`` cleaned and cut to ``limit`` characters; empty becomes None."""
    if not value:
        return None
    text = _text(value)
    return text[:limit] if limit is not None else text


def _header_bytes(headers: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for name, value in headers:
        clean = value.replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}: {clean}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", errors="surrogateescape")


def parse_headers_only(message: RemoteMessage) -> ParsedMail:
    """A ParsedMail from a ``metadata`` fetch (no bodies). Raises UnparseableMessage."""
    if not message.headers:
        raise UnparseableMessage("no_headers", "the provider returned no headers")
    return parse_message(_header_bytes(message.headers), internal_date=message.internal_date)


class Ingestor:
    """Stores the matching mail of one account. Build one per sync run."""

    def __init__(
        self,
        *,
        account_id: int,
        matcher: MessageMatcher,
        policy: IngestPolicy,
        autocreator: ContactAutoCreator | None = None,
    ) -> None:
        self.account_id = account_id
        self.matcher = matcher
        self.policy = policy
        self.autocreator = autocreator if autocreator is not None and autocreator.enabled else None

    def _wants_contacts(self, parsed: ParsedMail, result: MatchResult) -> list[str]:
        """Addresses of ``parsed`` a contact is to be created for (auto-creation on)."""
        if self.autocreator is None or result.skip_reason == "never_log":
            return []
        return self.autocreator.candidates(parsed, result)

    # -- threads ---------------------------------------------------------------------------

    def thread_record_keys(
        self, session: Session, provider_thread_ids: Collection[str]
    ) -> dict[str, set[str]]:
        """Record keys already linked to each of these threads (by any of its messages).

        Two indexed lookups (the threads' message identities, then their timeline entries)
        rather than one three-way join, which SQLite may start from every ``email`` entry
        of the tenant (a cost that grows with the mailbox, batch after batch)."""
        found: dict[str, set[str]] = defaultdict(set)
        ids = list(dict.fromkeys(provider_thread_ids))
        threads_of: dict[int, list[str]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            for thread_id, key_id in session.execute(
                select(EmailThreadRow.provider_thread_id, EmailMessageRow.message_key_id)
                .join(EmailMessageRow, EmailMessageRow.thread_id == EmailThreadRow.id)
                .where(
                    EmailThreadRow.mail_account_id == self.account_id,
                    EmailThreadRow.provider_thread_id.in_(ids[start : start + 500]),
                )
            ):
                threads_of[int(key_id)].append(thread_id)
        keys = list(threads_of)
        for start in range(0, len(keys), 500):
            for ref_id, kind, record_id in session.execute(
                select(ActivityRow.ref_id, ActivityRow.record_kind, ActivityRow.record_id).where(
                    ActivityRow.kind == ACTIVITY_KIND,
                    ActivityRow.ref_id.in_(keys[start : start + 500]),
                    ActivityRow.deleted_at.is_(None),
                )
            ):
                for thread_id in threads_of[int(ref_id)]:
                    found[thread_id].add(record_key(kind, record_id))
        return found

    # -- screening by headers --------------------------------------------------------------

    def screen_headers(
        self, session: Session, messages: Sequence[RemoteMessage]
    ) -> tuple[list[str], list[Outcome]]:
        """Split ``metadata`` messages into ids worth fetching in full and skip outcomes."""
        thread_keys = self.thread_record_keys(session, [m.thread_id for m in messages])
        wanted: list[str] = []
        skipped: dict[str, Outcome] = {}
        unmatched: list[tuple[RemoteMessage, ParsedMail]] = []
        for message in messages:
            label_reason = self.policy.label_skip(message.label_ids)
            if label_reason is not None:
                skipped[message.id] = Outcome(message.id, "skipped", label_reason)
                continue
            try:
                parsed = parse_headers_only(message)
            except UnparseableMessage:
                # Headers alone were unreadable: let the full parse decide.
                wanted.append(message.id)
                continue
            result = self.matcher.match(parsed, thread_keys.get(message.thread_id, ()))
            if result.stored or self._wants_contacts(parsed, result):
                wanted.append(message.id)
                thread_keys.setdefault(message.thread_id, set()).update(result.record_keys)
            else:
                reason = "no_match_headers" if result.skip_reason == "no_match" else "never_log"
                skipped[message.id] = Outcome(message.id, "skipped", reason)
                if result.skip_reason == "no_match":
                    unmatched.append((message, parsed))
        # A reply listed before the message that links its thread follows it all the same.
        for message, _ in _thread_followers(self.matcher, unmatched, thread_keys):
            wanted.append(message.id)
            del skipped[message.id]
        return wanted, list(skipped.values())

    # -- storing ---------------------------------------------------------------------------

    def store(self, session: Session, messages: Sequence[RemoteMessage]) -> list[Outcome]:
        """Parse, match and store raw messages; returns one outcome per message.

        Each message is parsed once and matched in memory; then the whole batch is written
        with one statement per table (threads, messages, attachments, timeline entries), so
        the cost per message is a few rows, not a few round trips.
        """
        thread_keys = self.thread_record_keys(session, [m.thread_id for m in messages])
        known = {thread: frozenset(keys) for thread, keys in thread_keys.items()}
        outcomes: dict[str, Outcome] = {}
        to_write: list[tuple[RemoteMessage, ParsedMail, MatchResult]] = []
        unmatched: list[tuple[RemoteMessage, ParsedMail]] = []
        for message in messages:
            outcome, parsed, result = self._decide(session, message, thread_keys)
            outcomes[message.id] = outcome
            if parsed is not None and result is not None:
                if result.stored:
                    to_write.append((message, parsed, result))
                elif result.skip_reason == "no_match":
                    unmatched.append((message, parsed))
        # Order must not matter: a reply that came before the message linking its thread is
        # stored all the same, and messages stored earlier in a thread that gained records are
        # linked to them too (below, after the write).
        for message, parsed in _thread_followers(self.matcher, unmatched, thread_keys):
            result = self.matcher.match(parsed, thread_keys[message.thread_id])
            outcomes[message.id] = Outcome(message.id, "stored", None, ",".join(result.record_keys))
            to_write.append((message, parsed, result))
        if to_write:
            self._write_batch(session, to_write)
            grown = {
                thread: keys
                for thread, keys in thread_keys.items()
                if keys - known.get(thread, frozenset())
            }
            if grown:
                self._link_threads(session, grown)
        return [outcomes[m.id] for m in messages]

    def _link_threads(self, session: Session, thread_keys: Mapping[str, set[str]]) -> None:
        """Link the stored messages of these threads (this mailbox) to the threads' records
        (as the matcher allows: never-logged counterparts keep a message off): the columns
        matching reads (no bodies), and one insert-if-absent for all the entries."""
        ids = list(thread_keys)
        links: list[dict[str, object]] = []
        for start in range(0, len(ids), 200):
            rows = session.execute(
                select(*_MATCH_COLUMNS, EmailThreadRow.provider_thread_id)
                .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
                .where(
                    EmailThreadRow.mail_account_id == self.account_id,
                    EmailThreadRow.provider_thread_id.in_(ids[start : start + 200]),
                    EmailMessageRow.deleted_at.is_(None),
                )
            ).all()
            for row in rows:
                result = self.matcher.match(
                    parsed_from_row(row), thread_keys[row.provider_thread_id]
                )
                if result.stored:
                    links.extend(
                        _activity_rows(row.message_key_id, row.sent_at, row.subject, result)
                    )
        insert_if_absent(
            session,
            ActivityRow.__table__,  # type: ignore[arg-type]
            links,
            ["record_kind", "record_id", "kind", "ref_id"],
        )

    def _decide(
        self, session: Session, message: RemoteMessage, thread_keys: dict[str, set[str]]
    ) -> tuple[Outcome, ParsedMail | None, MatchResult | None]:
        label_reason = self.policy.label_skip(message.label_ids)
        if label_reason is not None:
            return Outcome(message.id, "skipped", label_reason), None, None
        if message.raw is None:
            return Outcome(message.id, "skipped", "unparseable:no_raw"), None, None
        try:
            parsed = parse_message(message.raw, internal_date=message.internal_date)
        except UnparseableMessage as exc:
            reason = f"unparseable:{exc.reason}"
            return Outcome(message.id, "skipped", reason, exc.detail), None, None
        result = self.matcher.match(parsed, thread_keys.get(message.thread_id, ()))
        new_contacts = self._wants_contacts(parsed, result)
        if new_contacts and self.autocreator is not None:
            self.autocreator.create(session, new_contacts, parsed.display_names)
            result = self.matcher.match(parsed, thread_keys.get(message.thread_id, ()))
        if not result.stored:
            return Outcome(message.id, "skipped", result.skip_reason), parsed, result
        thread_keys.setdefault(message.thread_id, set()).update(result.record_keys)
        outcome = Outcome(message.id, "stored", None, ",".join(result.record_keys))
        return outcome, parsed, result

    def _thread_rows(
        self, session: Session, items: Sequence[tuple[RemoteMessage, ParsedMail, MatchResult]]
    ) -> dict[str, int]:
        """Thread row ids by provider thread id (created if absent, last message time kept)."""
        latest: dict[str, tuple[datetime, str]] = {}
        for message, parsed, _ in items:
            when = parsed.sent_at or message.internal_date or utcnow()
            known = latest.get(message.thread_id)
            if known is None or known[0] < when:
                latest[message.thread_id] = (when, self._kept_subject(parsed))
        insert_if_absent(
            session,
            EmailThreadRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "mail_account_id": self.account_id,
                    "provider_thread_id": thread_id,
                    "subject": _text(subject)[:500],
                    "last_message_at": when,
                }
                for thread_id, (when, subject) in latest.items()
            ],
            ["mail_account_id", "provider_thread_id"],
        )
        rows = session.execute(
            select(
                EmailThreadRow.id, EmailThreadRow.provider_thread_id, EmailThreadRow.last_message_at
            ).where(
                EmailThreadRow.mail_account_id == self.account_id,
                EmailThreadRow.provider_thread_id.in_(list(latest)),
            )
        ).all()
        later = [
            {"row_id": row.id, "when": latest[row.provider_thread_id][0]}
            for row in rows
            if row.last_message_at is None
            or row.last_message_at < latest[row.provider_thread_id][0]
        ]
        if later:
            table = EmailThreadRow.__table__
            session.connection().execute(
                table.update()  # type: ignore[attr-defined]
                .where(table.c.id == bindparam("row_id"))
                .values(last_message_at=bindparam("when")),
                later,
            )
        return {row.provider_thread_id: int(row.id) for row in rows}

    def _kept_subject(self, parsed: ParsedMail) -> str:
        """The subject as stored: none under the ``live`` policy."""
        return "" if self.policy.storage == "live" else parsed.subject or ""

    def _message_values(
        self, message: RemoteMessage, parsed: ParsedMail, result: MatchResult, thread_row_id: int
    ) -> dict[str, object]:
        sent_at = parsed.sent_at or message.internal_date or utcnow()
        subject = self._kept_subject(parsed)
        policy = self.policy.storage
        text_body = parsed.text_body
        html_body = parsed.html_body
        if policy in ("metadata", "live"):
            snippet = ""
            text_body = html_body = None
        else:
            snippet = message.snippet or snippet_of(
                text_body or (html_to_text(html_body) if html_body else "")
            )
            if policy == "snippet":
                text_body = html_body = None
        sender = parsed.sender
        return {
            "mail_account_id": self.account_id,
            "thread_id": thread_row_id,
            "provider_message_id": message.id,
            "message_id_header": _cut(parsed.message_id, 998),
            "in_reply_to": _cut(parsed.in_reply_to, 998),
            "references": [_text(r)[:998] for r in parsed.references[-50:]],
            "from_address": _cut(sender, 320),
            "from_name": _cut(parsed.display_names.get(sender) if sender else None, 200),
            "to_addresses": list(parsed.to),
            "cc_addresses": list(parsed.cc),
            "bcc_addresses": list(parsed.bcc),
            "subject": _text(subject),
            "sent_at": sent_at,
            "direction": result.direction,
            "snippet": _text(snippet),
            "body_text": _cut(text_body, None),
            "body_html": _cut(html_body, None),
            "labels": list(message.label_ids),
            "size_estimate": message.size_estimate,
            "created_at": utcnow(),
        }

    def _write_batch(
        self, session: Session, items: Sequence[tuple[RemoteMessage, ParsedMail, MatchResult]]
    ) -> None:
        threads = self._thread_rows(session, items)
        ids = [message.id for message, _, _ in items]
        existing = set(
            session.scalars(
                select(EmailMessageRow.provider_message_id).where(
                    EmailMessageRow.mail_account_id == self.account_id,
                    EmailMessageRow.provider_message_id.in_(ids),
                )
            )
        )
        fresh = [item for item in items if item[0].id not in existing]
        values = [self._message_values(m, p, r, threads[m.thread_id]) for m, p, r in fresh]
        dedup_keys = [dedup_key_of(v) for v in values]
        key_ids = claim_message_keys(session, dedup_keys)
        for row_values, dedup_key in zip(values, dedup_keys, strict=True):
            row_values["message_key_id"] = key_ids[dedup_key]
        insert_if_absent(
            session,
            EmailMessageRow.__table__,  # type: ignore[arg-type]
            values,
            ["mail_account_id", "provider_message_id"],
        )
        row_ids: dict[str, int] = {}
        entry_refs: dict[str, int] = {}
        for provider_id, row_id, key_id in session.execute(
            select(
                EmailMessageRow.provider_message_id,
                EmailMessageRow.id,
                EmailMessageRow.message_key_id,
            ).where(
                EmailMessageRow.mail_account_id == self.account_id,
                EmailMessageRow.provider_message_id.in_(ids),
            )
        ):
            row_ids[provider_id] = int(row_id)
            entry_refs[provider_id] = int(key_id)
        attachments = [
            {
                "message_id": row_ids[message.id],
                "filename": _text(a.filename)[:500],
                "mime_type": _text(a.mime_type or "application/octet-stream")[:200],
                "size": a.size,
                "provider_attachment_id": a.provider_id,
                "content_id": _cut(a.content_id, 500),
                "part_id": _text(a.part_path)[:50],
            }
            for message, parsed, _ in fresh
            for a in parsed.attachments
            if self.policy.storage != "live"
        ]
        if attachments:
            session.connection().execute(
                EmailAttachmentRow.__table__.insert(),  # type: ignore[attr-defined]
                attachments,
            )
        links: list[dict[str, object]] = []
        for message, parsed, result in items:
            sent_at = parsed.sent_at or message.internal_date or utcnow()
            links.extend(
                _activity_rows(entry_refs[message.id], sent_at, self._kept_subject(parsed), result)
            )
        insert_if_absent(
            session,
            ActivityRow.__table__,  # type: ignore[arg-type]
            links,
            ["record_kind", "record_id", "kind", "ref_id"],
        )


def _thread_followers(
    matcher: MessageMatcher,
    unmatched: Sequence[tuple[RemoteMessage, ParsedMail]],
    thread_keys: dict[str, set[str]],
) -> list[tuple[RemoteMessage, ParsedMail]]:
    """Messages of ``unmatched`` that their thread's records take in, once the rest of the
    batch is known (to a fixpoint: a follower can link further followers); ``thread_keys``
    grows with them."""
    followers: list[tuple[RemoteMessage, ParsedMail]] = []
    remaining = list(unmatched)
    while remaining:
        progressed = False
        still: list[tuple[RemoteMessage, ParsedMail]] = []
        for message, parsed in remaining:
            keys = thread_keys.get(message.thread_id)
            result = matcher.match(parsed, keys) if keys else None
            if result is not None and result.stored:
                thread_keys[message.thread_id].update(result.record_keys)
                followers.append((message, parsed))
                progressed = True
            else:
                still.append((message, parsed))
        if not progressed:
            break
        remaining = still
    return followers


def _activity_rows(
    message_key_id: int, occurred_at: datetime, subject: str, result: MatchResult
) -> list[dict[str, object]]:
    """One timeline entry row per matched record (each record once), pointing at the message's
    tenant-wide identity."""
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    now = utcnow()
    summary = _text(subject)[:300]
    for match in result.matches:
        if match.record_key in seen:
            continue
        seen.add(match.record_key)
        kind, record_id = parse_record_key(match.record_key)
        rows.append(
            {
                "record_kind": kind,
                "record_id": record_id,
                "kind": ACTIVITY_KIND,
                "ref_id": message_key_id,
                "occurred_at": occurred_at,
                "summary": summary,
                "match_reason": match.reason,
                "match_detail": _cut(match.detail, 320),
                "created_at": now,
            }
        )
    return rows


def link_message(
    session: Session, message_key_id: int, occurred_at: datetime, subject: str, result: MatchResult
) -> int:
    """One timeline entry per matched record for the message with identity ``message_key_id``
    (insert-if-absent); returns how many were new."""
    inserted = insert_if_absent(
        session,
        ActivityRow.__table__,  # type: ignore[arg-type]
        _activity_rows(message_key_id, occurred_at, subject, result),
        ["record_kind", "record_id", "kind", "ref_id"],
        returning=["id"],
    )
    return len(inserted)


def build_matcher(
    book: AddressBook, own_addresses: Iterable[str], never_log: NeverLogList
) -> MessageMatcher:
    """A matcher for one account: colleagues on the account's own (non free-mail) domain and
    group addresses never count as counterparts of their own."""
    own = list(own_addresses)
    domains = {a.rsplit("@", 1)[-1] for a in own if "@" in a}
    excluded = domains - FREE_MAIL_DOMAINS
    return MessageMatcher(
        own_addresses=own,
        records_by_address=book.records_by_address,
        records_by_domain=book.records_by_domain,
        bcc_records=book.bcc_records,
        never_log=never_log,
        excluded_domains=excluded,
    )


def load_tenant_mail_settings(session: Session) -> tuple[StoragePolicy, NeverLogList, str]:
    """The tenant's storage policy, never-log list and contact auto-creation mode."""
    from inboxcrm.adapters.db.tenant_tables import NeverLogEntryRow, TenantSettingsRow

    row = session.get(TenantSettingsRow, 1)
    policy = (row.mail_storage_policy if row is not None else "full") or "full"
    if policy not in ("full", "snippet", "metadata", "live"):
        policy = "full"
    autocreate = (row.contact_autocreate if row is not None else "off") or "off"
    entries = list(session.scalars(select(NeverLogEntryRow.entry)))
    return policy, NeverLogList.from_entries(entries), autocreate  # type: ignore[return-value]


_MATCH_COLUMNS = (
    EmailMessageRow.message_key_id,
    EmailMessageRow.message_id_header,
    EmailMessageRow.in_reply_to,
    EmailMessageRow.references,
    EmailMessageRow.subject,
    EmailMessageRow.from_address,
    EmailMessageRow.to_addresses,
    EmailMessageRow.cc_addresses,
    EmailMessageRow.bcc_addresses,
    EmailMessageRow.sent_at,
)
"""What :func:`parsed_from_row` reads of a stored message (and the identity it links)."""


def parsed_from_row(row: Any) -> ParsedMail:
    """The matching-relevant facts of a stored message (for re-linking without a fetch), from
    an :class:`EmailMessageRow` or a row of :data:`_MATCH_COLUMNS`."""
    return ParsedMail(
        message_id=row.message_id_header,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references or ()),
        subject=row.subject,
        from_addresses=(row.from_address,) if row.from_address else (),
        reply_to=(),
        to=tuple(row.to_addresses or ()),
        cc=tuple(row.cc_addresses or ()),
        bcc=tuple(row.bcc_addresses or ()),
        delivered_to=(),
        display_names={},
        sent_at=row.sent_at,
        text_body=None,
        html_body=None,
        attachments=(),
        list_id=None,
        auto_submitted=None,
        precedence=None,
        has_list_unsubscribe=False,
    )


def relink_stored(session: Session, ingestor: Ingestor, provider_message_ids: Sequence[str]) -> int:
    """Match already stored messages again and add missing timeline entries; returns how many."""
    added = 0
    for start in range(0, len(provider_message_ids), 200):
        rows = list(
            session.scalars(
                select(EmailMessageRow).where(
                    EmailMessageRow.mail_account_id == ingestor.account_id,
                    EmailMessageRow.provider_message_id.in_(
                        list(provider_message_ids[start : start + 200])
                    ),
                )
            )
        )
        for row in rows:
            result = ingestor.matcher.match(parsed_from_row(row))
            if result.stored:
                added += link_message(session, row.message_key_id, row.sent_at, row.subject, result)
    return added
