"""The tenant-wide identity of an email: what makes two mailboxes' copies "the same message".

Colleagues who were both on a conversation each hold a copy of its messages in their own
mailbox, under different provider ids. inboxcrm stores every copy (each mailbox's owner and
sharing rules apply to their own copy) but shows the message once per record, so every copy
carries a dedup key, and the timeline entry points at the key.

The key is a SHA-256 over:

- the RFC 5322 Message-ID (angle brackets and surrounding space removed, compared without case)
  and the sender's address, when the message has a Message-ID: the sender is part of the key so
  that a stranger who reuses a colleague's Message-ID does not merge their mail into the
  colleague's entry;
- otherwise a content hash: sender, To and Cc (sorted), subject and sent time. Bcc is left out
  (only the sender's copy carries it), as are labels, sizes and bodies (each mailbox's storage
  policy and Gmail's processing may differ).

Pure: no I/O, no inboxcrm imports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["message_dedup_key", "normalize_message_id"]


def normalize_message_id(value: str | None) -> str | None:
    """``<Abc@Host>`` → ``abc@host``; None for a missing or empty id."""
    if not value:
        return None
    text = value.strip().strip("<>").strip().lower()
    return text or None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", errors="surrogatepass")).hexdigest()


def message_dedup_key(
    *,
    message_id_header: str | None,
    from_address: str | None,
    to: Iterable[str] = (),
    cc: Iterable[str] = (),
    subject: str | None = None,
    sent_at: datetime | None = None,
) -> str:
    """The dedup key of a message (64 hex digits, see the module docstring)."""
    sender = (from_address or "").strip().lower()
    message_id = normalize_message_id(message_id_header)
    if message_id is not None:
        return _digest("mid", message_id, sender)
    moment = ""
    if sent_at is not None:
        aware = sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
        moment = aware.astimezone(UTC).replace(microsecond=0).isoformat()
    return _digest(
        "content",
        sender,
        ",".join(sorted(a.strip().lower() for a in to)),
        ",".join(sorted(a.strip().lower() for a in cc)),
        (subject or "").strip(),
        moment,
    )
