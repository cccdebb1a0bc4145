"""An in-memory MailboxClient for engine tests that need exact control over the mailbox.

It understands the one query form the engine sends (``{from:a to:a ...} after:EPOCH_SECONDS``),
keeps a history log, counts body fetches per id, and can be told to fail.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.utils import getaddresses

from inboxcrm.domain.errors import ProviderAuthError, ProviderTransientError
from inboxcrm.providers.base import (
    FetchFormat,
    HistoryDelta,
    HistoryExpired,
    LabelChange,
    ListPage,
    ListQuery,
    MailboxProfile,
    MessageRef,
    RemoteMessage,
    WatchInfo,
)

_TERM_RE = re.compile(r"(from|to|cc|bcc):(\S+)")


@dataclass
class FakeMessage:
    id: str
    thread_id: str
    raw: bytes
    labels: set[str]
    history_id: int
    internal_date: datetime


@dataclass
class FakeMailbox:
    email: str
    aliases: list[str] = field(default_factory=list)
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    history: list[tuple[int, str]] = field(default_factory=list)
    #: Deletions and label changes as (history id, kind, message id, thread id, labels), kind
    #: ``deleted``, ``labels_added`` or ``labels_removed`` (Gmail's history record types).
    changes: list[tuple[int, str, str, str, tuple[str, ...]]] = field(default_factory=list)
    history_id: int = 100
    oldest_history: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    body_fetches: Counter[str] = field(default_factory=Counter)
    metadata_fetches: Counter[str] = field(default_factory=Counter)
    first_page_batches: list[list[str]] = field(default_factory=list)
    revoked: bool = False
    fail_after_fetches: int | None = None
    watches: int = 0
    id_prefix: str = "m"

    # -- test control ------------------------------------------------------------------------

    def deliver(
        self, raw: bytes, *, thread_id: str | None = None, labels: Sequence[str] = ("INBOX",)
    ) -> str:
        self.history_id += 7
        msg_id = f"{self.id_prefix}{len(self.messages) + 1:05d}"
        self.messages[msg_id] = FakeMessage(
            msg_id,
            thread_id or msg_id,
            raw,
            set(labels),
            self.history_id,
            datetime.now(UTC),
        )
        self.history.append((self.history_id, msg_id))
        return msg_id

    def delete(self, msg_id: str) -> None:
        """The owner deletes the message for good (fetching it finds nothing from now on)."""
        message = self.messages.pop(msg_id)
        self.history_id += 7
        self.changes.append((self.history_id, "deleted", msg_id, message.thread_id, ()))

    def relabel(self, msg_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Labels added to and removed from a message, each change a history record."""
        message = self.messages[msg_id]
        if add:
            message.labels.update(add)
            self.history_id += 7
            self.changes.append((self.history_id, "labels_added", msg_id, message.thread_id,
                                 tuple(add)))  # fmt: skip
        if remove:
            message.labels.difference_update(remove)
            self.history_id += 7
            self.changes.append((self.history_id, "labels_removed", msg_id, message.thread_id,
                                 tuple(remove)))  # fmt: skip

    def labelled(self, name: str) -> set[str]:
        label_id = self.labels.get(name)
        return {m.id for m in self.messages.values() if label_id in m.labels}

    def _check(self) -> None:
        if self.revoked:
            raise ProviderAuthError("revoked")

    # -- MailboxClient -----------------------------------------------------------------------

    def get_profile(self) -> MailboxProfile:
        self._check()
        return MailboxProfile(self.email, self.history_id, len(self.messages))

    def _participants(self, raw: bytes) -> dict[str, set[str]]:
        msg = message_from_bytes(raw)
        return {
            f: {a.lower() for _, a in getaddresses(msg.get_all(f) or [])}
            for f in ("from", "to", "cc", "bcc")
        }

    def iter_message_ids(
        self,
        *,
        query: str | None = None,
        label_ids: Sequence[str] = (),
        include_spam_trash: bool = False,
        page_size: int = 500,
        page_token: str | None = None,
    ) -> Iterator[MessageRef]:
        self._check()
        if "larger:" in (query or ""):
            return  # the fake's messages are all small
        terms = _TERM_RE.findall(query or "")
        for m in sorted(self.messages.values(), key=lambda x: x.history_id, reverse=True):
            if not include_spam_trash and m.labels & {"SPAM", "TRASH"}:
                continue
            if label_ids and not set(label_ids) <= m.labels:
                continue
            parts = self._participants(m.raw)
            hit = not terms
            for fld, value in terms:
                value = value.strip('"{}')
                if value.startswith("@"):
                    hit = hit or any(a.endswith(value) for a in parts[fld])
                else:
                    hit = hit or value in parts[fld]
            if hit:
                yield MessageRef(m.id, m.thread_id)

    def list_first_pages(
        self,
        queries: Sequence[str | ListQuery],
        *,
        page_size: int = 500,
        include_spam_trash: bool = False,
    ) -> list[ListPage | None]:
        """Each query's whole listing as its only page (the fake does not page)."""
        asked = [
            q if isinstance(q, ListQuery) else ListQuery(q, page_size, include_spam_trash)
            for q in queries
        ]
        self.first_page_batches.append([q.query for q in asked])
        return [
            ListPage(
                tuple(
                    self.iter_message_ids(query=q.query, include_spam_trash=q.include_spam_trash)
                ),
                None,
            )
            for q in asked
        ]

    def fetch_messages(
        self, ids: Sequence[str], *, fmt: FetchFormat = "raw", metadata_headers: Sequence[str] = ()
    ) -> list[RemoteMessage]:
        self._check()
        out = []
        for i in dict.fromkeys(ids):
            m = self.messages.get(i)
            if m is None:
                continue
            if fmt == "raw":
                if self.fail_after_fetches is not None:
                    if self.fail_after_fetches <= 0:
                        raise ProviderTransientError("injected failure")
                    self.fail_after_fetches -= 1
                self.body_fetches[i] += 1
            else:
                self.metadata_fetches[i] += 1
            headers: tuple[tuple[str, str], ...] = ()
            if fmt == "metadata":
                parsed = message_from_bytes(m.raw)
                headers = tuple((k, str(v)) for k, v in parsed.items())
            out.append(
                RemoteMessage(
                    id=m.id,
                    thread_id=m.thread_id,
                    label_ids=tuple(sorted(m.labels)),
                    history_id=m.history_id,
                    internal_date=m.internal_date,
                    size_estimate=len(m.raw),
                    snippet="",
                    raw=m.raw if fmt == "raw" else None,
                    headers=headers,
                )
            )
        return out

    def list_history(
        self, start_history_id: int, *, page_token: str | None = None, label_id: str | None = None
    ) -> HistoryDelta:
        self._check()
        if start_history_id < self.oldest_history:
            raise HistoryExpired("expired")
        threads = {i: m.thread_id for i, m in self.messages.items()}
        threads.update({c[2]: c[3] for c in self.changes})
        records = sorted(
            [(h, "added", i, threads[i], ()) for h, i in self.history if h > start_history_id]
            + [c for c in self.changes if c[0] > start_history_id]
        )
        offset = int(page_token or 0)
        page = records[offset : offset + 3]
        more = offset + 3 < len(records)

        def changed(kind: str) -> tuple[LabelChange, ...]:
            return tuple(LabelChange(i, t, labels) for _, k, i, t, labels in page if k == kind)

        return HistoryDelta(
            added=tuple(MessageRef(i, t) for _, k, i, t, _ in page if k == "added"),
            deleted=tuple(i for _, k, i, _, _ in page if k == "deleted"),
            labels_added=changed("labels_added"),
            labels_removed=changed("labels_removed"),
            history_id=self.history_id,
            next_page_token=str(offset + 3) if more else None,
        )

    def watch(
        self,
        topic: str,
        *,
        label_ids: Sequence[str] = (),
        exclude_label_ids: Sequence[str] = (),
    ) -> WatchInfo:
        self.watches += 1
        return WatchInfo(self.history_id, datetime(2100, 1, 1, tzinfo=UTC))

    def stop_watch(self) -> None:
        return None

    def list_send_as(self) -> list[str]:
        self._check()
        return [self.email, *self.aliases]

    def ensure_label(self, name: str) -> str:
        return self.labels.setdefault(name, f"Label_{len(self.labels) + 1}")

    def add_labels(self, message_ids: Sequence[str], label_ids: Sequence[str]) -> None:
        for i in message_ids:
            if i in self.messages:
                self.messages[i].labels.update(label_ids)

    def send(self, raw: bytes, *, thread_id: str | None = None) -> MessageRef:
        raise NotImplementedError

    def get_attachment(self, message_id: str, attachment_id: str) -> bytes:
        raise NotImplementedError
