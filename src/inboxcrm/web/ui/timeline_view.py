"""A page of a record's timeline arranged for display: email threads grouped, notes as they are.

The timeline service returns entries newest first. On screen, the emails of one conversation
(one thread, or the threads of colleagues' mailboxes that hold the same messages) that fall on
the same page become one collapsible group, placed where its newest message is, with its
messages in reading order (oldest first) inside.

Colleagues' mail arrives already redacted to what the viewer may see (``EmailItem.detail``);
the page says so instead of showing an empty subject or body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from inboxcrm.domain.sharing import Detail, Visibility
from inboxcrm.services.timeline import EmailItem, NoteItem, TimelineEntry

#: The choices of the per-thread sharing control ("" = as the mailbox).
SHARING_CHOICES = {
    "visibility": [("", "As the mailbox"), *((v.value, v.value.title()) for v in Visibility)],
    "detail": [("", "As the mailbox"), *((d.value, d.value.title()) for d in Detail)],
}

# match_reason values of the matcher (inboxcrm.domain.matching), as the record page explains them.
_REASON_TEXT = {
    "address": "Linked because {detail} is one of this record's addresses",
    "bcc": "Linked because it was sent to the logging address {detail}",
    "thread": "Linked because it belongs to a thread already on this record",
    "sent": "Linked because it was sent from this record in inboxcrm",
}


@dataclass
class ThreadGroup:
    """The emails of one thread on this page (newest first as collected)."""

    thread_id: str
    emails: list[EmailItem] = field(default_factory=list)
    kind: str = "thread"

    @property
    def newest(self) -> EmailItem:
        return self.emails[0]

    @property
    def occurred_at(self) -> datetime:
        return self.newest.occurred_at

    @property
    def subject(self) -> str:
        if self.newest.subject is None:
            return "(subject not shared)"
        return self.newest.subject or "(no subject)"

    @property
    def subject_shared(self) -> bool:
        return self.newest.subject is not None

    @property
    def email_thread_id(self) -> int:
        return self.newest.email_thread_id

    @property
    def own(self) -> bool:
        """The viewer owns the mailbox (and may change the thread's sharing)."""
        return self.newest.own

    @property
    def in_reading_order(self) -> list[EmailItem]:
        return sorted(self.emails, key=lambda e: (e.sent_at, e.id))

    @property
    def participants(self) -> list[str]:
        seen: dict[str, None] = {}
        for email in self.in_reading_order:
            seen.setdefault(email.from_name or email.from_address or "unknown", None)
        return list(seen)

    @property
    def attachment_count(self) -> int:
        return sum(len(e.attachments) for e in self.emails)


@dataclass(frozen=True)
class NoteEntry:
    item: NoteItem
    kind: str = "note"


@dataclass(frozen=True)
class OtherEntry:
    item: TimelineEntry
    kind: str = "other"


DisplayEntry = ThreadGroup | NoteEntry | OtherEntry


def group_timeline(items: list[TimelineEntry]) -> list[DisplayEntry]:
    """Arrange one timeline page for display (see the module docstring)."""
    out: list[DisplayEntry] = []
    # By conversation: the threads of colleagues' mailboxes that hold the same email are one.
    threads: dict[int, ThreadGroup] = {}
    for item in items:
        if isinstance(item, EmailItem):
            key = item.conversation_id or item.email_thread_id
            group = threads.get(key)
            if group is None:
                group = threads[key] = ThreadGroup(item.thread_id)
                out.append(group)
            group.emails.append(item)
        elif isinstance(item, NoteItem):
            out.append(NoteEntry(item))
        else:
            out.append(OtherEntry(item))
    return out


def why_linked(reason: str | None, detail: str | None) -> str:
    """A sentence saying why an email is on this record's timeline."""
    if not reason:
        return ""
    template = _REASON_TEXT.get(reason)
    if template is None:
        return f"Linked ({reason.replace('_', ' ')}{': ' + detail if detail else ''})"
    if reason == "address" and detail and detail.startswith("@"):
        return f"Linked because the sender or a recipient is at {detail[1:]}, this record's domain"
    return template.format(detail=detail or "an address")


def human_size(size: int) -> str:
    """Bytes as ``12 KB`` / ``3.4 MB``."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
