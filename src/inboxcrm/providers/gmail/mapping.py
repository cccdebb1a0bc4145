"""Gmail API JSON → the provider-neutral dataclasses of :mod:`inboxcrm.providers.base`.

The only module that knows the shape of Gmail's resources (Message, History, Profile, ...).
Functions are pure and tolerate missing optional fields; a missing required field (an id) raises
``KeyError``/``ValueError``, which the client reports as a provider error.
"""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from typing import Any

from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.mail_parsing import OMITTED_ID_HEADER, OMITTED_SIZE_HEADER
from inboxcrm.providers.base import (
    HistoryDelta,
    LabelChange,
    MailboxProfile,
    MessageRef,
    RemoteMessage,
    WatchInfo,
)

__all__ = [
    "b64url_decode",
    "b64url_encode",
    "epoch_ms_to_datetime",
    "history_from_json",
    "labels_by_name",
    "message_from_json",
    "message_ref_from_json",
    "mime_from_payload",
    "profile_from_json",
    "send_as_addresses",
    "thread_messages_from_json",
    "watch_from_json",
]

Json = Mapping[str, Any]


def b64url_decode(data: str) -> bytes:
    """Decode Gmail's base64url (padding optional)."""
    text = data.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def epoch_ms_to_datetime(value: str | int | None) -> datetime | None:
    """Gmail's epoch-milliseconds strings (internalDate, expiration) as aware UTC datetimes."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def profile_from_json(data: Json) -> MailboxProfile:
    email = str(data["emailAddress"])
    return MailboxProfile(
        email=try_normalize_email(email) or email.lower(),
        history_id=int(data["historyId"]),
        messages_total=int(data.get("messagesTotal") or 0),
    )


def message_ref_from_json(data: Json) -> MessageRef:
    return MessageRef(id=str(data["id"]), thread_id=str(data.get("threadId") or data["id"]))


_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "delivered-to", "resent-from", "resent-to"}
)
_DROPPED_PART_HEADERS = frozenset({"content-transfer-encoding", "content-length"})


def _header_line(name: str, value: str) -> bytes:
    """One header as bytes; Gmail shows values decoded, so non-ASCII is encoded again."""
    text = value.replace("\r", " ").replace("\n", " ")
    if not text.isascii():
        if name.lower() in _ADDRESS_HEADERS:
            text = ", ".join(
                email.utils.formataddr((n, a), charset="utf-8")
                for n, a in email.utils.getaddresses([text])
            )
        elif name.lower() in _PARAMETER_HEADERS:
            text = _parameter_header(name, text)
        else:
            text = Header(text, "utf-8").encode()
    return f"{name}: {text}\r\n".encode("ascii", "replace")


_PARAMETER_HEADERS = frozenset({"content-type", "content-disposition"})


def _parameter_header(name: str, text: str) -> str:
    """A structured header (``type; key=value``) with its non-ASCII parameter values encoded as
    RFC 2231 says (``name*=utf-8''...``): an encoded-word over the whole value would hide the
    type itself from a parser."""
    probe = Message()
    probe[name] = text
    params = probe.get_params(header=name, unquote=True) or []
    if not params or not params[0][0].isascii():
        return Header(text, "utf-8").encode()
    out = Message()
    out[name] = params[0][0]
    for key, raw in params[1:]:
        value = email.utils.collapse_rfc2231_value(raw)
        out.set_param(key, value, header=name, charset=None if value.isascii() else "utf-8")
    return str(out[name])


def _boundary(part: Json, fallback: str) -> str:
    for header in part.get("headers") or ():
        if str(header.get("name", "")).lower() == "content-type":
            for param in str(header.get("value", "")).split(";")[1:]:
                key, _, value = param.strip().partition("=")
                if key.lower() == "boundary" and value:
                    return value.strip().strip('"')
    return fallback


def _part_bytes(part: Json, message_id: str, depth: int = 0) -> bytes:
    mime = str(part.get("mimeType") or "text/plain")
    headers = [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in part.get("headers") or ()
        if isinstance(h, Mapping) and h.get("name")
    ]
    body = part.get("body") or {}
    children = part.get("parts") or ()
    if mime.startswith("multipart/") and children and depth < 40:
        boundary = _boundary(part, f"inboxcrm-{message_id}-{depth}")
        head = b"".join(_header_line(n, v) for n, v in headers)
        chunks = [head, b"\r\n"]
        for child in children:
            chunks += [f"--{boundary}\r\n".encode(), _part_bytes(child, message_id, depth + 1)]
            chunks.append(b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        return b"".join(chunks)
    kept = [(n, v) for n, v in headers if n.lower() not in _DROPPED_PART_HEADERS]
    if body.get("attachmentId") and not body.get("data"):
        kept += [
            (OMITTED_SIZE_HEADER, str(int(body.get("size") or 0))),
            (OMITTED_ID_HEADER, str(body["attachmentId"])),
        ]
        return b"".join(_header_line(n, v) for n, v in kept) + b"\r\n"
    data = b64url_decode(str(body.get("data") or ""))
    kept.append(("Content-Transfer-Encoding", "base64"))
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return b"".join(_header_line(n, v) for n, v in kept) + b"\r\n" + encoded


def mime_from_payload(payload: Json, message_id: str = "") -> bytes:
    """RFC 5322 bytes rebuilt from a ``format=full`` payload.

    Text parts come back whole; parts Gmail left out (attachments, given as ``attachmentId``)
    become empty parts carrying the omitted-content headers, so parsing records their size and
    id without their bytes ever being fetched.
    """
    return _part_bytes(payload, message_id)


def message_from_json(data: Json) -> RemoteMessage:
    """A Message resource in any format (minimal, metadata, full, raw)."""
    raw_text = data.get("raw")
    payload = data.get("payload") or {}
    headers = tuple(
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in payload.get("headers") or ()
        if isinstance(h, Mapping)
    )
    return RemoteMessage(
        id=str(data["id"]),
        thread_id=str(data.get("threadId") or data["id"]),
        label_ids=tuple(str(label) for label in data.get("labelIds") or ()),
        history_id=_int_or_none(data.get("historyId")),
        internal_date=epoch_ms_to_datetime(data.get("internalDate")),
        size_estimate=int(data.get("sizeEstimate") or 0),
        snippet=str(data.get("snippet") or ""),
        raw=(
            b64url_decode(raw_text)
            if isinstance(raw_text, str)
            else mime_from_payload(payload, str(data["id"]))
            if payload.get("parts") or (payload.get("body") or {}).get("data")
            else None
        ),
        headers=headers,
    )


def thread_messages_from_json(data: Json) -> list[RemoteMessage]:
    """The messages of a Thread resource (threads.get), oldest first as Gmail lists them."""
    return [message_from_json(item) for item in data.get("messages") or ()]


def _label_changes(items: Iterable[Json]) -> list[LabelChange]:
    changes = []
    for item in items:
        message = item.get("message") or {}
        if "id" not in message:
            continue
        changes.append(
            LabelChange(
                message_id=str(message["id"]),
                thread_id=str(message.get("threadId") or message["id"]),
                label_ids=tuple(str(x) for x in item.get("labelIds") or ()),
            )
        )
    return changes


def history_from_json(data: Json, *, start_history_id: int) -> HistoryDelta:
    """One page of users.history.list.

    With no changes Gmail answers only ``{"historyId": ...}``; if even that is missing, the start
    id is kept so the cursor never moves backwards or gets lost.
    """
    added: dict[str, MessageRef] = {}
    deleted: dict[str, None] = {}
    labels_added: list[LabelChange] = []
    labels_removed: list[LabelChange] = []
    for record in data.get("history") or ():
        for item in record.get("messagesAdded") or ():
            message = item.get("message") or {}
            if "id" in message:
                ref = message_ref_from_json(message)
                added.setdefault(ref.id, ref)
        for item in record.get("messagesDeleted") or ():
            message = item.get("message") or {}
            if "id" in message:
                deleted.setdefault(str(message["id"]), None)
        labels_added.extend(_label_changes(record.get("labelsAdded") or ()))
        labels_removed.extend(_label_changes(record.get("labelsRemoved") or ()))
    history_id = _int_or_none(data.get("historyId"))
    token = data.get("nextPageToken")
    return HistoryDelta(
        added=tuple(added.values()),
        deleted=tuple(deleted),
        labels_added=tuple(labels_added),
        labels_removed=tuple(labels_removed),
        history_id=history_id if history_id is not None else start_history_id,
        next_page_token=str(token) if token else None,
    )


def watch_from_json(data: Json) -> WatchInfo:
    expiration = epoch_ms_to_datetime(data.get("expiration"))
    if expiration is None:
        raise ValueError("watch response without an expiration")
    return WatchInfo(history_id=int(data["historyId"]), expiration=expiration)


def send_as_addresses(data: Json) -> list[str]:
    """The account's own addresses from users.settings.sendAs.list (primary first).

    Aliases still awaiting verification are left out: they are not (yet) the user's.
    """
    primary: list[str] = []
    others: list[str] = []
    for item in data.get("sendAs") or ():
        address = try_normalize_email(str(item.get("sendAsEmail") or ""))
        if address is None:
            continue
        status = item.get("verificationStatus")
        if item.get("isPrimary"):
            primary.append(address)
        elif status in (None, "accepted"):
            others.append(address)
    return list(dict.fromkeys(primary + others))


def labels_by_name(data: Json) -> dict[str, str]:
    """users.labels.list → lower-cased label name → label id (Gmail names are case-insensitive)."""
    return {
        str(item["name"]).lower(): str(item["id"])
        for item in data.get("labels") or ()
        if "name" in item and "id" in item
    }
