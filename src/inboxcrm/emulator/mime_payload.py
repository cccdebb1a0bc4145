"""Raw RFC 822 bytes → Gmail's ``MessagePart`` tree, search index fields and snippets.

Parsing uses the ``compat32`` policy: it is the fastest and never rejects odd input, which is what
Gmail does too (it accepts almost anything).
"""

from __future__ import annotations

import base64
import email
import email.utils
import html
import re
from dataclasses import dataclass
from email.header import decode_header
from email.message import Message

ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender", "delivered-to"})
_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)
_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]')
SNIPPET_LEN = 180


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_message(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words and unfold; never raises."""
    value = value.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ").replace("\n", "")
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (ValueError, LookupError, AssertionError):
        return value
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "ascii", "replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", "replace"))
        else:
            out.append(chunk)
    return "".join(out)


def _quote_name(name: str) -> str:
    if _SPECIALS.search(name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def parse_addresses(values: list[str]) -> list[tuple[str, str]]:
    """(decoded display name, lower-cased address) pairs of address header values."""
    pairs = email.utils.getaddresses([str(v) for v in values])
    result: list[tuple[str, str]] = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if addr:
            result.append((decode_words(name).strip(), addr))
    return result


def display_header(name: str, value: str) -> str:
    """Header value as Gmail shows it: unfolded, encoded-words decoded, names re-quoted."""
    if name.lower() in ADDRESS_HEADERS and "=?" in value:
        pairs = email.utils.getaddresses([value])
        rendered = []
        for display, addr in pairs:
            display = decode_words(display).strip()
            rendered.append(f"{_quote_name(display)} <{addr}>" if display else addr)
        return ", ".join(rendered)
    return decode_words(value)


def _header_list(part: Message) -> list[dict[str, str]]:
    return [{"name": k, "value": display_header(k, str(v))} for k, v in part.items()]


def part_filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError):
        return ""
    return decode_words(name) if name else ""


def part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError, AssertionError):
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    if isinstance(raw, list):  # message/rfc822: the embedded message's bytes
        return b"".join(m.as_bytes() for m in raw if isinstance(m, Message))
    return b""


def part_text(part: Message) -> str:
    data = part_bytes(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _is_attachment(part: Message, filename: str) -> bool:
    if filename:
        return True
    disposition = str(part.get("Content-Disposition", "")).lower()
    return disposition.startswith("attachment")


def build_payload(
    msg: Message, attachment_prefix: str, *, include_data: bool = True
) -> dict[str, object]:
    """The ``payload`` MessagePart tree of a message (format=full)."""
    return _build_part(msg, "", attachment_prefix, include_data)


def _build_part(part: Message, part_id: str, prefix: str, include_data: bool) -> dict[str, object]:
    filename = part_filename(part)
    node: dict[str, object] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": filename,
        "headers": _header_list(part),
    }
    children = part.get_payload() if part.is_multipart() else None
    if isinstance(children, list) and part.get_content_maintype() == "multipart":
        node["body"] = {"size": 0}
        node["parts"] = [
            _build_part(child, f"{part_id}.{i}" if part_id else str(i), prefix, include_data)
            for i, child in enumerate(children)
            if isinstance(child, Message)
        ]
        return node
    data = part_bytes(part)
    body: dict[str, object] = {"size": len(data)}
    if _is_attachment(part, filename):
        body["attachmentId"] = attachment_id(prefix, part_id)
    elif include_data and data:
        body["data"] = b64url(data)
    node["body"] = body
    return node


def attachment_id(prefix: str, part_id: str) -> str:
    return "ANGjdJ" + b64url(f"{prefix}:{part_id or '-'}".encode()).rstrip("=")


def attachment_part_id(attachment: str, prefix: str) -> str | None:
    if not attachment.startswith("ANGjdJ"):
        return None
    try:
        text = b64url_decode(attachment[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    owner, _, part_id = text.rpartition(":")
    if owner != prefix:
        return None
    return "" if part_id == "-" else part_id


def find_part(msg: Message, part_id: str) -> Message | None:
    node = msg
    if part_id == "":
        return node
    for step in part_id.split("."):
        children = node.get_payload() if node.is_multipart() else None
        if not isinstance(children, list):
            return None
        try:
            child = children[int(step)]
        except (ValueError, IndexError):
            return None
        if not isinstance(child, Message):
            return None
        node = child
    return node


def make_snippet(text: str) -> str:
    """Gmail's snippet: the start of the visible text, whitespace collapsed, HTML-escaped."""
    clean = " ".join(text[: SNIPPET_LEN * 4].split())[:SNIPPET_LEN]
    return html.escape(clean, quote=False).replace('"', "&quot;").replace("'", "&#39;")


def html_to_text(markup: str) -> str:
    return html.unescape(_TAGS.sub(" ", markup))


@dataclass
class ParsedIndex:
    """Everything the mailbox keeps per message for search and threading."""

    senders: list[tuple[str, str]]
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    subject: str
    date_ms: int | None
    message_id: str
    in_reply_to: str
    references: list[str]
    snippet: str
    has_attachment: bool
    list_id: str


def _first_text(msg: Message) -> tuple[str, bool]:
    plain: str | None = None
    markup: str | None = None
    has_attachment = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part_filename(part)
        if _is_attachment(part, filename):
            has_attachment = True
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part_text(part)
        elif ctype == "text/html" and markup is None:
            markup = part_text(part)
    if plain is not None:
        return plain, has_attachment
    if markup is not None:
        return html_to_text(markup), has_attachment
    return "", has_attachment


_MSGID = re.compile(r"<[^<>\s]+>")


def index_message(msg: Message) -> ParsedIndex:
    def values(name: str) -> list[str]:
        return [str(v) for v in (msg.get_all(name) or [])]

    date_ms: int | None = None
    date_value = msg.get("Date")
    if date_value:
        try:
            parsed = email.utils.parsedate_to_datetime(str(date_value))
            date_ms = int(parsed.timestamp() * 1000)
        except (TypeError, ValueError, IndexError, OverflowError):
            date_ms = None
    text, has_attachment = _first_text(msg)
    message_id_match = _MSGID.search(str(msg.get("Message-ID", "")))
    in_reply = _MSGID.search(str(msg.get("In-Reply-To", "")))
    return ParsedIndex(
        senders=parse_addresses(values("From")),
        to=parse_addresses(values("To")),
        cc=parse_addresses(values("Cc")),
        bcc=parse_addresses(values("Bcc")),
        subject=decode_words(str(msg.get("Subject", ""))),
        date_ms=date_ms,
        message_id=message_id_match.group(0) if message_id_match else "",
        in_reply_to=in_reply.group(0) if in_reply else "",
        references=_MSGID.findall(str(msg.get("References", ""))),
        snippet=make_snippet(text),
        has_attachment=has_attachment,
        list_id=decode_words(str(msg.get("List-Id", ""))).lower(),
    )
