"""Stable ids for mail of providers without their own message and thread ids (IMAP, POP3).

IMAP UIDs change with a folder's UIDVALIDITY and POP3 message numbers with every session, so
they cannot identify a stored message. Instead:

- :func:`stable_message_id`: ``"mk:"`` + the message's tenant-wide dedup key
  (:func:`~inboxcrm.domain.message_keys.message_dedup_key`: its RFC Message-ID and sender, else a
  content hash). The same email is the same id whichever folder, UID or session it came from,
  so a resynced folder, a copy in INBOX and Sent, or a sent message found again by the sync
  adds nothing.
- :func:`thread_root` / :func:`thread_key`: a thread is named after its root, the first id of
  References, else In-Reply-To, else the message's own Message-ID (RFC 5322 section 3.6.4 keeps
  the root first in References). A reply therefore lands in its parent's thread whatever order
  they arrive in; the sync also looks up stored parents for replies that dropped References.
"""

from __future__ import annotations

import hashlib

from inboxcrm.domain.mail_parsing import ParsedMail
from inboxcrm.domain.message_keys import message_dedup_key, normalize_message_id

__all__ = ["stable_message_id", "thread_key", "thread_root"]


def stable_message_id(parsed: ParsedMail) -> str:
    """The provider message id of a message of a provider without its own ids."""
    return "mk:" + message_dedup_key(
        message_id_header=parsed.message_id,
        from_address=parsed.sender,
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject,
        sent_at=parsed.sent_at,
    )


def thread_root(parsed: ParsedMail) -> str | None:
    """The normalised Message-ID naming the message's thread (None without any id)."""
    for candidate in (*parsed.references[:1], parsed.in_reply_to, parsed.message_id):
        root = normalize_message_id(candidate)
        if root:
            return root
    return None


def thread_key(root: str | None, message_id: str) -> str:
    """The provider thread id for a thread root (a message with no ids is its own thread)."""
    basis = root if root else message_id
    return "tk:" + hashlib.sha256(basis.encode("utf-8", errors="surrogatepass")).hexdigest()[:40]
