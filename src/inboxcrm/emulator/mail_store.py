"""One user's Gmail mailbox: messages, labels, threads and the history log.

The mailbox keeps a compact :class:`MessageRecord` per message (the fields Gmail search needs);
the message bytes are kept only for mail that arrived as bytes. Generated mail is rendered from its
seed on demand (see ``generator.py``), so a 100k-message mailbox stays small.

Not thread-safe by itself: :class:`~inboxcrm.emulator.state.EmulatorState` serialises access.
"""

from __future__ import annotations

import bisect
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from inboxcrm.emulator.errors import ApiError, not_found

SYSTEM_LABELS = (
    "CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS",
    "CATEGORY_UPDATES", "CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL",
    "STARRED", "UNREAD",
)  # fmt: skip
HIDDEN_BY_DEFAULT = frozenset({"SPAM", "TRASH"})
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw|ynt|ilt)\s*(\[\d+\])?\s*:\s*)+", re.I)


def normalize_subject(subject: str) -> str:
    return _SUBJECT_PREFIX.sub("", subject).strip().lower()


class MessageRecord:
    """Index entry of one message (no body)."""

    __slots__ = (
        "_snippet", "bcc", "cc", "gen", "has_attachment", "history_id", "id", "internal_date",
        "key", "labels", "list_id", "message_id", "raw", "sender_names", "senders",
        "size_estimate", "subject", "thread_id", "to",
    )  # fmt: skip

    def __init__(
        self,
        *,
        msg_id: str,
        thread_id: str,
        internal_date: int,
        labels: tuple[str, ...],
        history_id: int,
        size_estimate: int,
        snippet: str,
        subject: str,
        senders: tuple[str, ...],
        sender_names: str,
        to: tuple[str, ...],
        cc: tuple[str, ...],
        bcc: tuple[str, ...],
        message_id: str,
        has_attachment: bool,
        list_id: str = "",
        raw: bytes | None = None,
        gen: Any = None,
    ) -> None:
        self.id = msg_id
        self.key = int(msg_id, 16)
        self.thread_id = thread_id
        self.internal_date = internal_date
        self.labels = labels
        self.history_id = history_id
        self.size_estimate = size_estimate
        self._snippet = snippet
        self.subject = subject
        self.senders = senders
        self.sender_names = sender_names
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.message_id = message_id
        self.has_attachment = has_attachment
        self.list_id = list_id
        self.raw = raw
        self.gen = gen

    @property
    def snippet(self) -> str:
        """The stored snippet; generated mail computes it from its seed (saves memory)."""
        if self._snippet:
            return self._snippet
        if self.gen is not None:
            return str(self.gen.snippet())
        return ""


class HistoryRecord:
    __slots__ = ("at_s", "changed", "id", "kind", "labels", "message_id", "thread_id")

    def __init__(
        self,
        history_id: int,
        kind: str,
        message_id: str,
        thread_id: str,
        labels: tuple[str, ...],
        changed: tuple[str, ...] = (),
        at_s: float = 0.0,
    ) -> None:
        self.at_s = at_s
        """When the change happened (emulator clock, seconds): for the retention window."""
        self.id = history_id
        self.kind = kind
        self.message_id = message_id
        self.thread_id = thread_id
        self.labels = labels
        self.changed = changed


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"
    message_list_visibility: str | None = None
    label_list_visibility: str | None = None
    color: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.message_list_visibility:
            data["messageListVisibility"] = self.message_list_visibility
        if self.label_list_visibility:
            data["labelListVisibility"] = self.label_list_visibility
        if self.color:
            data["color"] = dict(self.color)
        return data


@dataclass
class Watch:
    topic: str
    label_ids: tuple[str, ...]
    behavior: str
    expiration_ms: int
    history_id: int


@dataclass
class Correspondent:
    email: str
    name: str
    customer: bool
    kind: str  # customer-domain, free-mail, vendor, colleague, list, ...

    def to_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "customer": self.customer,
            "kind": self.kind,
        }


ChangeHook = Callable[["Mailbox", HistoryRecord], None]


@dataclass
class Mailbox:
    """A Gmail user: profile, labels, messages in date order, threads and history."""

    email: str
    name: str = ""
    aliases: list[str] = field(default_factory=list)
    history_seed: int = 0
    labels: dict[str, Label] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)  # sorted message keys (oldest first)
    threads: dict[str, list[str]] = field(default_factory=dict)
    by_message_id: dict[str, str] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    history_id: int = 1000
    history_floor: int = 0
    watch: Watch | None = None
    correspondents: list[Correspondent] = field(default_factory=list)
    display_names: dict[str, str] = field(default_factory=dict)
    fetched: dict[str, set[str]] = field(default_factory=dict)
    next_label: int = 1
    counter: int = 0
    on_change: ChangeHook | None = None
    now_s: Callable[[], float] = time.time
    """The emulator clock (set by the state; wall time until then)."""
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.email}:{self.history_seed}")
        for label_id in SYSTEM_LABELS:
            self.labels[label_id] = Label(label_id, label_id, "system")

    # -- history ---------------------------------------------------------------------------
    def next_history_id(self) -> int:
        self.history_id += self._rng.randint(1, 7)
        return self.history_id

    def record_change(
        self, kind: str, rec: MessageRecord, changed: tuple[str, ...] = ()
    ) -> HistoryRecord:
        hid = self.next_history_id()
        rec.history_id = hid
        entry = HistoryRecord(
            hid, kind, rec.id, rec.thread_id, rec.labels, changed, at_s=self.now_s()
        )
        self.history.append(entry)
        if self.on_change is not None:
            self.on_change(self, entry)
        return entry

    def expire_history(self) -> int:
        """Forget every history record: any older start id now answers 404."""
        self.history.clear()
        self.history_floor = self.history_id
        return self.history_id

    def history_since(self, start: int, retention_s: float | None = None) -> list[HistoryRecord]:
        """Changes after ``start``; 404 when ``start`` is older than the history kept.

        With ``retention_s``, changes older than that are forgotten first (Google keeps
        history for about a week, sometimes only hours), moving the floor up.
        """
        if retention_s is not None and retention_s >= 0 and self.history:
            cutoff = self.now_s() - retention_s
            ages = [getattr(h, "at_s", 0.0) for h in self.history]
            keep = bisect.bisect_left(ages, cutoff)
            if keep:
                self.history_floor = max(self.history_floor, self.history[keep - 1].id)
                del self.history[:keep]
        if start < self.history_floor:
            raise not_found()
        ids = [h.id for h in self.history]
        first = bisect.bisect_right(ids, start)
        return self.history[first:]

    # -- ids -------------------------------------------------------------------------------
    def new_message_id(self, internal_date: int) -> str:
        while True:
            self.counter += 1
            key = (max(internal_date, 0) << 20) | (self.counter & 0xFFFFF)
            msg_id = f"{key:x}"
            if msg_id not in self.messages:
                return msg_id

    # -- messages --------------------------------------------------------------------------
    def add(self, rec: MessageRecord, *, record_history: bool = True) -> None:
        self.messages[rec.id] = rec
        bisect.insort(self.keys, rec.key)
        self.threads.setdefault(rec.thread_id, []).append(rec.id)
        thread = self.threads[rec.thread_id]
        if len(thread) > 1 and self.messages[thread[-2]].internal_date > rec.internal_date:
            thread.sort(key=lambda mid: self.messages[mid].key)
        if rec.message_id:
            self.by_message_id.setdefault(rec.message_id, rec.id)
        if record_history:
            self.record_change("messageAdded", rec)
        else:
            rec.history_id = self.history_id

    def get(self, msg_id: str) -> MessageRecord:
        rec = self.messages.get(msg_id)
        if rec is None:
            raise not_found()
        return rec

    def delete(self, msg_id: str) -> None:
        rec = self.get(msg_id)
        del self.messages[msg_id]
        index = bisect.bisect_left(self.keys, rec.key)
        if index < len(self.keys) and self.keys[index] == rec.key:
            del self.keys[index]
        thread = self.threads.get(rec.thread_id, [])
        if msg_id in thread:
            thread.remove(msg_id)
        if not thread:
            self.threads.pop(rec.thread_id, None)
        if self.by_message_id.get(rec.message_id) == msg_id:
            del self.by_message_id[rec.message_id]
        self.fetched.pop(msg_id, None)
        self.record_change("messageDeleted", rec)

    def check_labels(self, label_ids: list[str]) -> None:
        for label_id in label_ids:
            if label_id not in self.labels:
                raise ApiError(400, f"Invalid label: {label_id}", reason="invalidArgument")

    def modify(self, rec: MessageRecord, add: list[str], remove: list[str]) -> None:
        current = list(rec.labels)
        added = tuple(lbl for lbl in dict.fromkeys(add) if lbl not in current)
        removed = tuple(lbl for lbl in dict.fromkeys(remove) if lbl in current and lbl not in add)
        if not added and not removed:
            return
        rec.labels = tuple(sys_intern(lbl) for lbl in current + list(added) if lbl not in removed)
        if added:
            self.record_change("labelAdded", rec, added)
        if removed:
            self.record_change("labelRemoved", rec, removed)

    def iter_newest(self, before_key: int | None = None) -> Iterator[MessageRecord]:
        """Messages newest first, starting after ``before_key`` (a page cursor)."""
        end = len(self.keys) if before_key is None else bisect.bisect_left(self.keys, before_key)
        keys = self.keys
        messages = self.messages
        for index in range(end - 1, -1, -1):
            rec = messages.get(f"{keys[index]:x}")
            if rec is not None:
                yield rec

    def thread_messages(self, thread_id: str) -> list[MessageRecord]:
        ids = self.threads.get(thread_id)
        if not ids:
            raise not_found()
        return [self.messages[mid] for mid in ids]

    def find_thread(self, references: list[str], subject: str) -> str | None:
        """Gmail's rule: a referenced Message-ID in the mailbox and the same normalised subject."""
        wanted = normalize_subject(subject)
        for ref in reversed(references):
            msg_id = self.by_message_id.get(ref)
            if msg_id is None:
                continue
            rec = self.messages.get(msg_id)
            if rec is not None and normalize_subject(rec.subject) == wanted:
                return rec.thread_id
        return None

    # -- labels ----------------------------------------------------------------------------
    def label_by_name(self, name: str) -> Label | None:
        lowered = name.lower()
        for label in self.labels.values():
            if label.name.lower() == lowered or label.id.lower() == lowered:
                return label
        return None

    def resolve_label(self, name: str) -> str | None:
        """Label id for a ``label:`` search term (Gmail turns spaces and '/' into '-')."""
        label = self.label_by_name(name)
        if label is not None:
            return label.id
        dashed = name.lower()
        for label in self.labels.values():
            if re.sub(r"[\s/]", "-", label.name.lower()) == dashed:
                return label.id
        return None

    def create_label(self, data: dict[str, Any]) -> Label:
        name = str(data.get("name") or "").strip()
        if not name:
            raise ApiError(400, "Invalid label name", reason="invalidArgument")
        if self.label_by_name(name) is not None:
            raise ApiError(409, "Label name exists or conflicts", reason="alreadyExists")
        label_id = f"Label_{self.next_label}"
        self.next_label += 1
        label = Label(label_id, name)
        self.apply_label_fields(label, data)
        label.message_list_visibility = label.message_list_visibility or "show"
        label.label_list_visibility = label.label_list_visibility or "labelShow"
        self.labels[label_id] = label
        return label

    def apply_label_fields(self, label: Label, data: dict[str, Any]) -> None:
        if "name" in data and data["name"] is not None:
            new_name = str(data["name"]).strip()
            other = self.label_by_name(new_name)
            if other is not None and other.id != label.id:
                raise ApiError(409, "Label name exists or conflicts", reason="alreadyExists")
            label.name = new_name
        if data.get("messageListVisibility"):
            label.message_list_visibility = str(data["messageListVisibility"])
        if data.get("labelListVisibility"):
            label.label_list_visibility = str(data["labelListVisibility"])
        if isinstance(data.get("color"), dict):
            label.color = {str(k): str(v) for k, v in data["color"].items()}

    def delete_label(self, label_id: str) -> None:
        label = self.labels.get(label_id)
        if label is None:
            raise not_found()
        if label.type == "system":
            raise ApiError(400, "Invalid delete request", reason="invalidArgument")
        del self.labels[label_id]
        for rec in self.messages.values():
            if label_id in rec.labels:
                self.modify(rec, [], [label_id])

    def label_counts(self, label_id: str) -> dict[str, int]:
        total = unread = 0
        threads: set[str] = set()
        unread_threads: set[str] = set()
        for rec in self.messages.values():
            if label_id in rec.labels:
                total += 1
                threads.add(rec.thread_id)
                if "UNREAD" in rec.labels:
                    unread += 1
                    unread_threads.add(rec.thread_id)
        return {
            "messagesTotal": total,
            "messagesUnread": unread,
            "threadsTotal": len(threads),
            "threadsUnread": len(unread_threads),
        }

    def note_fetch(self, msg_id: str, fmt: str) -> None:
        self.fetched.setdefault(msg_id, set()).add(fmt)


_interned: dict[str, str] = {}


def sys_intern(value: str) -> str:
    """Share label-id strings between records (100k records hold the same few labels)."""
    return _interned.setdefault(value, value)
