"""Raw RFC 822 bytes into a mailbox: index fields, Gmail threading, sent-mail header fixes."""

from __future__ import annotations

import email.utils
import re
import secrets

from inboxcrm.emulator.mail_store import Mailbox, MessageRecord, normalize_subject, sys_intern
from inboxcrm.emulator.mime_payload import index_message, parse_message

_HEADER_END = re.compile(rb"\r?\n\r?\n")


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    return raw[: match.start()], raw[match.start() :]


def replace_header(raw: bytes, name: str, value: str | None) -> bytes:
    """Drop every ``name`` header (with continuation lines) and add ``value`` (if given) on top."""
    head, rest = split_head(raw)
    newline = b"\r\n" if b"\r\n" in head or not head else b"\n"
    lines = head.split(newline) if head else []
    kept: list[bytes] = []
    skipping = False
    lowered = name.lower().encode() + b":"
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(lowered)
        if not skipping:
            kept.append(line)
    if value is not None:
        kept.insert(0, f"{name}: {value}".encode())
    if not rest:
        rest = newline + newline
    return newline.join(kept) + rest


def prepare_sent(raw: bytes, mailbox: Mailbox, now_ms: int) -> bytes:
    """Header fixes Gmail makes on messages.send: From, Message-ID and Date."""
    msg = parse_message(raw)
    own = {mailbox.email, *(a.lower() for a in mailbox.aliases)}
    senders = email.utils.getaddresses([str(v) for v in msg.get_all("From") or []])
    if not senders or senders[0][1].lower() not in own:
        display = mailbox.name or ""
        raw = replace_header(raw, "From", email.utils.formataddr((display, mailbox.email)))
    if not msg.get("Message-ID"):
        domain = "mail.gmail.com"
        raw = replace_header(raw, "Message-ID", f"<CA+{secrets.token_urlsafe(24)}@{domain}>")
    if not msg.get("Date"):
        raw = replace_header(raw, "Date", email.utils.formatdate(now_ms / 1000, usegmt=True))
    return raw


def build_record(
    mailbox: Mailbox,
    raw: bytes,
    *,
    labels: list[str],
    internal_date: int | None,
    now_ms: int,
    thread_id: str | None,
    strict_thread: bool,
) -> MessageRecord:
    """Index ``raw`` and choose its thread: ``thread_id`` is honoured only when the message
    references a message of that thread and keeps its subject (Gmail's rule). Without a usable
    ``thread_id``, received mail (not ``strict_thread``) that references a known message with the
    same subject joins that thread; sent mail starts a new thread."""
    msg = parse_message(raw)
    index = index_message(msg)
    when = internal_date if internal_date is not None else now_ms
    msg_id = mailbox.new_message_id(when)
    refs = [*index.references, *([index.in_reply_to] if index.in_reply_to else [])]
    chosen: str | None = None
    if thread_id and thread_id in mailbox.threads:
        members = {mailbox.messages[m].message_id for m in mailbox.threads[thread_id]}
        subjects = {
            normalize_subject(mailbox.messages[m].subject) for m in mailbox.threads[thread_id]
        }
        if any(r in members for r in refs) and normalize_subject(index.subject) in subjects:
            chosen = thread_id
    if chosen is None and not strict_thread:
        chosen = mailbox.find_thread(refs, index.subject) if refs else None
    names = " ".join(n for n, _ in index.senders).lower()
    return MessageRecord(
        msg_id=msg_id,
        thread_id=chosen or msg_id,
        internal_date=when,
        labels=tuple(sys_intern(lbl) for lbl in dict.fromkeys(labels)),
        history_id=0,
        size_estimate=len(raw),
        snippet=index.snippet,
        subject=index.subject,
        senders=tuple(a for _, a in index.senders),
        sender_names=names,
        to=tuple(a for _, a in index.to),
        cc=tuple(a for _, a in index.cc),
        bcc=tuple(a for _, a in index.bcc),
        message_id=index.message_id,
        has_attachment=index.has_attachment,
        list_id=index.list_id,
        raw=raw,
    )


def header_date_ms(raw: bytes) -> int | None:
    return index_message(parse_message(split_head(raw)[0] + b"\r\n\r\n")).date_ms
