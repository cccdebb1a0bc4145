"""Stable ids of IMAP/POP3 mail: the same email is the same id wherever it is read from, and a
thread is named after its root, whatever order its messages come in."""

from __future__ import annotations

from inboxcrm.domain.mail_identity import stable_message_id, thread_key, thread_root
from inboxcrm.domain.mail_parsing import parse_message


def _raw(
    message_id: str | None, references: str = "", date: str = "Mon, 3 Nov 2025 10:00:00 +0000"
) -> bytes:
    lines = ["From: a@customer.example", "To: b@mail.test", "Subject: Hallo", f"Date: {date}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if references:
        lines += [f"References: {references}", f"In-Reply-To: {references.split()[-1]}"]
    return ("\r\n".join(lines) + "\r\n\r\nText\r\n").encode()


def test_the_same_email_has_one_id_and_other_emails_others() -> None:
    first = parse_message(_raw("<x@customer.example>"))
    again = parse_message(_raw("<X@Customer.Example>"))  # Message-IDs compare case-blind
    other = parse_message(_raw("<y@customer.example>"))
    assert stable_message_id(first) == stable_message_id(again)
    assert stable_message_id(first) != stable_message_id(other)
    assert len(stable_message_id(first)) <= 100  # fits provider_message_id


def test_without_a_message_id_the_content_decides() -> None:
    one = parse_message(_raw(None))
    same = parse_message(_raw(None))
    later = parse_message(_raw(None, date="Mon, 3 Nov 2025 11:00:00 +0000"))
    assert stable_message_id(one) == stable_message_id(same) != stable_message_id(later)


def test_replies_share_their_roots_thread_key() -> None:
    root = parse_message(_raw("<r@customer.example>"))
    reply = parse_message(_raw("<s@mail.test>", "<r@customer.example>"))
    deeper = parse_message(_raw("<t@customer.example>", "<r@customer.example> <s@mail.test>"))
    keys = {thread_key(thread_root(m), stable_message_id(m)) for m in (root, reply, deeper)}
    assert len(keys) == 1
    lone = parse_message(_raw("<u@customer.example>"))
    assert thread_key(thread_root(lone), stable_message_id(lone)) not in keys
