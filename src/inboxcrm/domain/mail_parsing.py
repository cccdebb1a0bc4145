"""Parse one RFC 5322 message (raw bytes) into the facts the CRM stores and matches on.

:func:`parse_message` is pure (no I/O) and total: for any input it either returns a
:class:`ParsedMail` (problems it worked around are listed in ``defects``) or raises
:class:`UnparseableMessage` with a short machine-readable ``reason``. No other exception escapes.

Choices, for robustness and speed:

- Well-formed messages take a fast path (:func:`_split_message`): the MIME structure is cut
  along its boundary lines with regular expressions over the whole text, and the stdlib parser
  reads only each part's header block. The result is the same ``Message`` tree the stdlib
  feed parser builds, without its line-by-line walk through every body and attachment (most of
  a large message's parse time). Anything the fast path is not sure to read exactly as the
  stdlib would (lone CR or other line breaks ``str.splitlines`` knows, a missing boundary,
  ``message/*`` parts, digests, nested boundaries that overlap, a stray non-header line) is
  handed to the full stdlib parser instead.
- The stdlib parser runs with a ``compat32``-derived policy that hands header values back
  untouched. ``policy.default`` builds rich header objects for every header, which is several
  times slower and raises on some malformed headers; we only need a handful of headers, and we
  decode them ourselves: raw 8-bit bytes are tried as UTF-8 and then Windows-1252, and RFC 2047
  encoded words are decoded with a forgiving decoder (bad base64 padding, unknown charsets).
- Bodies are transfer-decoded by the stdlib (base64, quoted-printable, uuencode) and then decoded
  with the declared charset when it is a known text codec and actually decodes; otherwise UTF-8,
  then Windows-1252 with replacement characters. Each fallback is recorded as a defect.
- Parts are numbered like IMAP sections (``"1"``, ``"2.1"``; a single-part message's body is
  ``"1"``). A ``message/rfc822`` part (a forwarded mail) is an attachment whose size is that of
  the embedded message; its own parts are not searched for the body, unless the message has no
  body of its own (a bare forward or bounce: its body is then the first forwarded message's,
  however deeply forwards are nested, to :data:`MAX_PART_DEPTH` levels).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import Generator
from email.message import Message
from email.parser import Parser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from inboxcrm.domain.addresses import try_normalize_email

# A mailbox repeats the same few thousand addresses; IDNA normalisation is the costly part.
_canonical_address = lru_cache(maxsize=65536)(try_normalize_email)

__all__ = [
    "OMITTED_ID_HEADER",
    "OMITTED_SIZE_HEADER",
    "AttachmentInfo",
    "ParsedMail",
    "UnparseableMessage",
    "decode_header_value",
    "html_to_text",
    "parse_message",
    "snippet_of",
]

MAX_PART_DEPTH = 40
"""Multipart nesting deeper than this is not descended into (recorded as a defect)."""

MAX_PARTS = 2000
"""Parts beyond this count are ignored (recorded as a defect); real mail has a few dozen."""


class UnparseableMessage(Exception):
    """The input cannot be read as an email message at all.

    ``reason`` is one of: ``"not_bytes"``, ``"empty"``, ``"no_headers"``, ``"too_deep"``,
    ``"parser_failure"``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """Metadata of one attachment or inline resource (the content itself is not kept)."""

    filename: str
    mime_type: str
    size: int
    content_id: str | None
    part_path: str
    inline: bool
    provider_id: str | None = None
    """The provider's id of the content when the message arrived without it (fetch it on
    demand); None when the content was in the message."""


OMITTED_SIZE_HEADER = "X-Inboxcrm-Omitted-Size"
OMITTED_ID_HEADER = "X-Inboxcrm-Omitted-Id"
"""Headers a provider puts on a part whose content it left out (its size and content id)."""


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the CRM needs from one message. Addresses are canonical (see domain.addresses).

    Message ids keep their angle brackets (``"<abc@host>"``) so they can be written back into
    In-Reply-To/References headers unchanged.
    """

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_addresses: tuple[str, ...]
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    delivered_to: tuple[str, ...]
    display_names: Mapping[str, str]
    """Decoded display name per canonical address, for addresses that carried one."""
    sent_at: datetime | None
    """From the Date header (UTC), else the internal date given to the parser, else None."""
    text_body: str | None
    html_body: str | None
    attachments: tuple[AttachmentInfo, ...]
    list_id: str | None
    auto_submitted: str | None
    precedence: str | None
    has_list_unsubscribe: bool
    defects: tuple[str, ...] = field(default=())

    @property
    def sender(self) -> str | None:
        """The first From address, if any."""
        return self.from_addresses[0] if self.from_addresses else None

    @property
    def recipients(self) -> tuple[str, ...]:
        """To, Cc and Bcc addresses in order, without repeats."""
        return tuple(dict.fromkeys((*self.to, *self.cc, *self.bcc)))

    @property
    def participants(self) -> tuple[str, ...]:
        """Every From/Reply-To/To/Cc/Bcc address, in order, without repeats."""
        return tuple(
            dict.fromkeys((*self.from_addresses, *self.reply_to, *self.to, *self.cc, *self.bcc))
        )

    @property
    def is_bulk(self) -> bool:
        """True for list, bulk or automatically generated mail (not a person writing)."""
        if self.list_id or self.has_list_unsubscribe:
            return True
        if self.precedence in {"bulk", "list", "junk"}:
            return True
        return self.auto_submitted is not None and self.auto_submitted != "no"


class _RawHeaderPolicy(type(compat32)):  # type: ignore[misc]
    """compat32, but header values come back as the raw (surrogate-escaped) string."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaderPolicy()
_TEXT_PARSER = Parser(policy=_POLICY)

# Line breaks other than CRLF/LF that the stdlib feed parser splits lines on (str.splitlines).
_ODD_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
_BLANK_LINE_RE = re.compile(r"\n\r?\n")
_HEADER_LINE_RE = re.compile(r"[\041-\071\073-\176]*:|[\t ]")  # the feed parser's, less "From "
_RAW_MULTIPART_TE = frozenset({"7bit", "8bit", "binary"})


class _NeedsFullParse(Exception):
    """The fast path cannot promise the stdlib's reading of this message."""


def _only_crlf_or_lf(text: str) -> bool:
    """True when every line ends in CRLF or LF (no break the feed parser reads otherwise)."""
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return False
    return not any(ch in text for ch in _ODD_BREAKS)


def _read_head(head: str) -> Message:
    """A body-less ``Message`` of a clean header block, filled as the feed parser fills it."""
    msg = Message(policy=_POLICY)
    field_lines: list[str] = []
    for line in head.splitlines(keepends=True):
        if line.startswith("From ") or not _HEADER_LINE_RE.match(line):
            raise _NeedsFullParse  # envelope line or no header: the stdlib's special cases
        if line[0] in " \t":
            if not field_lines:
                raise _NeedsFullParse
            field_lines.append(line)
            continue
        if line[0] == ":":
            raise _NeedsFullParse
        if field_lines:
            msg.set_raw(*_POLICY.header_source_parse(field_lines))
        field_lines = [line]
    if field_lines:
        msg.set_raw(*_POLICY.header_source_parse(field_lines))
    return msg


def _boundary_lines(body: str, boundary: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is_close) of each ``--boundary[--][ \t]*`` line of ``body``, in order."""
    separator = "--" + boundary
    size = len(body)
    pos = body.find(separator)
    while pos >= 0:
        end = pos + len(separator)
        if pos == 0 or body[pos - 1] == "\n":
            close = body.startswith("--", end)
            cursor = end + 2 if close else end
            while cursor < size and body[cursor] in " \t":
                cursor += 1
            if cursor == size:
                yield pos, cursor, close
            elif body[cursor] == "\n":
                yield pos, cursor + 1, close
            elif body.startswith("\r\n", cursor):
                yield pos, cursor + 2, close
        pos = body.find(separator, end)


def _split_message(
    text: str, depth: int, boundaries: tuple[str, ...], counter: list[int]
) -> Message:
    """The stdlib's ``Message`` tree of ``text`` for well-formed MIME; raises _NeedsFullParse.

    Mirrors the feed parser: headers end at the first empty line; a multipart body is cut at
    lines ``--boundary`` (``--boundary--`` closes it; trailing blanks allowed); the line break
    before a boundary line belongs to the boundary; preamble and epilogue are dropped.
    """
    counter[0] += 1
    if counter[0] > MAX_PARTS or depth > MAX_PART_DEPTH:
        raise _NeedsFullParse
    if text.startswith("\r\n"):
        head, body = "", text[2:]
    elif text.startswith("\n"):
        head, body = "", text[1:]
    else:
        blank = _BLANK_LINE_RE.search(text)
        if blank is None:
            raise _NeedsFullParse
        head, body = text[: blank.start() + 1], text[blank.end() :]
    msg = _read_head(head)
    maintype = msg.get_content_maintype()
    if maintype == "message":
        raise _NeedsFullParse
    if maintype != "multipart":
        msg.set_payload(body)
        return msg
    boundary = msg.get_boundary()
    if (
        not boundary
        or msg.get_content_subtype() == "digest"
        or str(msg.get("content-transfer-encoding", "8bit")).lower() not in _RAW_MULTIPART_TE
        or any(b.startswith(boundary) or boundary.startswith(b) for b in boundaries)
    ):
        raise _NeedsFullParse
    children: list[Message | str] = []
    start: int | None = None
    inner = (*boundaries, boundary)
    for line_start, line_end, close in _boundary_lines(body, boundary):
        if start is not None:
            if line_start == start:  # repeated boundary lines: the stdlib skips them its own way
                raise _NeedsFullParse
            # the line break before a boundary line belongs to the boundary
            cut = 2 if body.startswith("\r\n", line_start - 2) else 1
            children.append(
                _split_message(body[start : line_start - cut], depth + 1, inner, counter)
            )
        if close:
            if start is None:
                raise _NeedsFullParse
            msg.set_payload(children)
            return msg
        start = line_end
    raise _NeedsFullParse  # no start or no close boundary


def _read_structure(data: bytes) -> Message:
    """The message tree: the fast path when it applies, else the stdlib feed parser."""
    text = data.decode("ascii", errors="surrogateescape")
    if _only_crlf_or_lf(text):
        try:
            return _split_message(text, 0, (), [0])
        except _NeedsFullParse:
            pass
    return _TEXT_PARSER.parsestr(text)  # what BytesParser.parsebytes does after decoding


_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_QP_HEX_RE = re.compile(rb"=([0-9A-Fa-f]{2})")
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_WS_RE = re.compile(r"\s+")
_SURROGATES_RE = re.compile("[\udc80-\udcff]")

# Labels seen in real mail that Python does not know, or that name a subset of a better codec.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-1": "cp1252",  # what senders labelled latin-1 almost always meant
    "latin1": "cp1252",
    "latin-1": "cp1252",
}

# Single-byte codecs decode any bytes, so a UTF-8 body mislabelled with one of them would turn
# into mojibake silently; for these, valid multi-byte UTF-8 wins over the label.
_SINGLE_BYTE_PREFIXES = ("cp125", "iso8859", "mac-", "cp437", "cp850", "koi8")


def _codec_for(label: str | None) -> str | None:
    """A text codec name for a charset label, or None if unknown / not a text codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if "*" in name:  # RFC 2231 language suffix: utf-8*en
        name = name.split("*", 1)[0]
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _decode_bytes(data: bytes, label: str | None, defects: list[str] | None = None) -> str:
    """Decode text bytes whatever the label says; never raises."""
    codec = _codec_for(label)
    if codec is not None and codec.startswith(_SINGLE_BYTE_PREFIXES) and not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if defects is not None:
                defects.append(f"MislabelledCharset:{label}")
            return text
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            if defects is not None:
                defects.append(f"MislabelledCharset:{label}")
    elif label and defects is not None:
        defects.append(f"UnknownCharset:{label}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _unescape_raw(value: str) -> str:
    """Turn surrogate-escaped raw 8-bit header bytes into text (UTF-8, else Windows-1252)."""
    if not _SURROGATES_RE.search(value):
        return value
    raw = value.encode("ascii", errors="surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _decode_word(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        cleaned = text.rstrip("=")
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return text.encode("ascii", errors="replace")
    data = text.replace("_", " ").encode("ascii", errors="replace")
    return _QP_HEX_RE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_header_value(value: str | None) -> str:
    """Decode a raw header value: unfold, raw 8-bit bytes, RFC 2047 encoded words.

    Whitespace between two adjacent encoded words is dropped (RFC 2047 section 6.2); consecutive
    words in the same charset are joined before decoding so split multi-byte characters survive.
    """
    if not value:
        return ""
    text = _unescape_raw(_FOLD_RE.sub("", value))
    if "=?" not in text:
        return text.strip()
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    last_end = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(_decode_bytes(bytes(pending), pending_charset))
        pending = bytearray()
        pending_charset = None

    for match in _ENCODED_WORD_RE.finditer(text):
        between = text[last_end : match.start()]
        if between and (between.strip() or last_end == 0):
            flush()
            out.append(between)
        charset = match.group(1).lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending += _decode_word(match.group(2), match.group(3))
        last_end = match.end()
    flush()
    out.append(text[last_end:])
    return "".join(out).strip()


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    if value is None:
        return None
    return str(value)


@lru_cache(maxsize=16384)
def _parse_address_header(value: str) -> tuple[tuple[str, str], ...]:
    """(canonical address, decoded display name) pairs of one raw address header value.

    Cached: a mailbox repeats the same From/To/Cc values over and over.
    """
    pairs: list[tuple[str, str]] = []
    for raw_name, raw_addr in getaddresses([_unescape_raw(_FOLD_RE.sub("", value))]):
        canonical = _canonical_address(raw_addr) if raw_addr else None
        if canonical is None:
            continue
        name = decode_header_value(raw_name).strip().strip('"').strip() if raw_name else ""
        pairs.append((canonical, "" if name.lower() == canonical else name))
    return tuple(pairs)


def _address_list(
    headers: Mapping[str, list[str]], names: Iterable[str], display: dict[str, str]
) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for name in names:
        for value in headers.get(name, ()):
            for canonical, display_name in _parse_address_header(value):
                found.setdefault(canonical, None)
                if display_name and canonical not in display:
                    display[canonical] = display_name
    return tuple(found)


def _header_index(msg: Message) -> dict[str, list[str]]:
    """Top-level header values by lower-case name (one pass instead of a scan per lookup)."""
    index: dict[str, list[str]] = {}
    for name, value in msg.items():
        index.setdefault(name.lower(), []).append(str(value))
    return index


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    text = _unescape_raw(value)
    ids = _MSGID_RE.findall(text)
    if ids:
        return tuple(dict.fromkeys(ids))
    tokens = [t for t in _WS_RE.split(text.strip()) if "@" in t]
    return tuple(dict.fromkeys(f"<{t.strip('<>')}>" for t in tokens))


def _sent_at(
    value: str | None, internal_date: datetime | None, defects: list[str]
) -> datetime | None:
    if value:
        try:
            parsed = parsedate_to_datetime(_unescape_raw(value).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            defects.append("InvalidDateHeader")
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            try:
                return parsed.astimezone(UTC)
            except (OverflowError, ValueError):
                defects.append("InvalidDateHeader")
    if internal_date is not None:
        if internal_date.tzinfo is None:
            internal_date = internal_date.replace(tzinfo=UTC)
        return internal_date.astimezone(UTC)
    return None


def _token(value: str | None) -> str | None:
    if value is None:
        return None
    text = _unescape_raw(_FOLD_RE.sub("", value)).strip()
    return text.split(";", 1)[0].strip().lower() or None


def _iter_parts(
    part: Message, path: str, depth: int, defects: list[str], counter: list[int]
) -> Iterator[tuple[str, Message]]:
    counter[0] += 1
    if counter[0] > MAX_PARTS:
        if counter[0] == MAX_PARTS + 1:
            defects.append("TooManyParts")
        return
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        if depth >= MAX_PART_DEPTH:
            defects.append("MultipartTooDeep")
            return
        children = part.get_payload()
        if not isinstance(children, list):
            return
        for index, child in enumerate(children, start=1):
            if isinstance(child, Message):
                child_path = f"{path}.{index}" if path else str(index)
                yield from _iter_parts(child, child_path, depth + 1, defects, counter)
        return
    yield (path or "1", part)


def _filename(part: Message) -> str:
    disposition = part.get("Content-Disposition")
    ctype = part.get("Content-Type")
    if not (disposition and "name" in disposition.lower()) and not (
        ctype and "name" in ctype.lower()
    ):
        return ""  # cheap exit: get_param parses every parameter
    try:
        name = part.get_filename()
    except (ValueError, TypeError, LookupError):
        name = None
    if not name:
        try:
            name = part.get_param("name")  # type: ignore[assignment]
        except (ValueError, TypeError, LookupError):
            name = None
        if isinstance(name, tuple):
            name = _decode_bytes(
                (name[2] or "").encode("latin-1", errors="replace"), name[0] or "utf-8"
            )
    if not name or not isinstance(name, str):
        return ""
    return decode_header_value(name).replace("\x00", "")


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        data: Any = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, binascii.Error, UnicodeError):
        defects.append("UndecodableTransferEncoding")
        return b""
    if isinstance(data, bytes):
        return data
    if data is None:
        return b""
    return str(data).encode("utf-8", errors="replace")


def _embedded_messages(part: Message) -> list[Message]:
    payload = part.get_payload()
    if part.get_content_maintype() != "message" or not isinstance(payload, list):
        return []
    return [m for m in payload if isinstance(m, Message)]


def _attachment_size(part: Message, defects: list[str]) -> int:
    """Bytes of an attachment: decoded content, or the embedded message of a message/* part."""
    embedded = _embedded_messages(part)
    if not embedded:
        return len(_payload_bytes(part, defects))
    out = io.StringIO()
    try:
        generator = Generator(out, mangle_from_=False, maxheaderlen=0, policy=_POLICY)
        for message in embedded:
            generator.flatten(message, linesep="\r\n")
    except (RecursionError, ValueError, TypeError, LookupError, UnicodeError):
        defects.append("EmbeddedMessageUnmeasured")
        return 0
    return len(out.getvalue().encode("ascii", errors="surrogateescape"))


def _forwarded_bodies(
    forwards: list[Message], defects: list[str], counter: list[int]
) -> tuple[list[str], list[str]]:
    """The text and HTML bodies of the first forwarded message that has one (nested forwards
    followed to :data:`MAX_PART_DEPTH` levels)."""
    pending = list(forwards)
    for _ in range(MAX_PART_DEPTH):
        if not pending:
            break
        message = pending.pop(0)
        text_parts: list[str] = []
        html_parts: list[str] = []
        nested: list[Message] = []
        for _path, part in _iter_parts(message, "", 0, defects, counter):
            ctype = part.get_content_type()
            if _is_body(part, ctype):
                body = _decode_bytes(_payload_bytes(part, defects), part.get_content_charset())
                (text_parts if ctype == "text/plain" else html_parts).append(body)
            else:
                nested.extend(_embedded_messages(part))
        if text_parts or html_parts:
            return text_parts, html_parts
        pending = nested + pending
    return [], []


def _is_body(part: Message, ctype: str) -> bool:
    if ctype not in ("text/plain", "text/html"):
        return False
    return _token(_header(part, "Content-Disposition")) != "attachment" and not _filename(part)


def _collect_defects(part: Message, out: list[str]) -> None:
    for defect in getattr(part, "defects", ()):
        out.append(type(defect).__name__)


def parse_message(raw: bytes, *, internal_date: datetime | None = None) -> ParsedMail:
    """Parse raw RFC 5322 bytes. See the module docstring for the guarantees.

    ``internal_date`` (the provider's receive time) is used as ``sent_at`` when the Date header is
    missing or unreadable; naive values are taken as UTC.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise UnparseableMessage("not_bytes", type(raw).__name__)
    data = bytes(raw)
    if not data.strip():
        raise UnparseableMessage("empty")
    try:
        return _parse(data, internal_date)
    except UnparseableMessage:
        raise
    except RecursionError as exc:
        raise UnparseableMessage("too_deep", "nesting exceeds the parser's limit") from exc
    except Exception as exc:  # the stdlib parser on hostile input: report, never crash the sync
        raise UnparseableMessage("parser_failure", type(exc).__name__) from exc


def _parse(data: bytes, internal_date: datetime | None) -> ParsedMail:
    msg = _read_structure(data)
    if not msg.keys():
        raise UnparseableMessage("no_headers", "no header fields found")
    defects: list[str] = []
    _collect_defects(msg, defects)

    headers = _header_index(msg)

    def first(name: str) -> str | None:
        values = headers.get(name)
        return values[0] if values else None

    display: dict[str, str] = {}
    from_addresses = _address_list(headers, ("from",), display)
    if not from_addresses:
        from_addresses = _address_list(headers, ("sender",), display)
    reply_to = _address_list(headers, ("reply-to",), display)
    to = _address_list(headers, ("to",), display)
    cc = _address_list(headers, ("cc",), display)
    bcc = _address_list(headers, ("bcc",), display)
    delivered_to = _address_list(headers, ("delivered-to", "x-original-to"), display)

    message_ids = _message_ids(first("message-id"))
    in_reply_to = _message_ids(first("in-reply-to"))
    references = _message_ids(" ".join(headers.get("references", ())))

    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[AttachmentInfo] = []
    forwards: list[Message] = []
    counter = [0]
    for path, part in _iter_parts(msg, "", 0, defects, counter):
        if part is not msg:
            _collect_defects(part, defects)
        ctype = part.get_content_type()
        disposition = _token(_header(part, "Content-Disposition"))
        filename = _filename(part)
        is_text = ctype in ("text/plain", "text/html")
        if is_text and disposition != "attachment" and not filename:
            payload = _payload_bytes(part, defects)
            body = _decode_bytes(payload, part.get_content_charset(), defects)
            (text_parts if ctype == "text/plain" else html_parts).append(body)
            continue
        if ctype.startswith("multipart/"):
            continue
        content_id_raw = _header(part, "Content-ID")
        content_id = content_id_raw.strip().strip("<>").strip() or None if content_id_raw else None
        forwards.extend(_embedded_messages(part))
        omitted = _header(part, OMITTED_SIZE_HEADER)
        size = int(omitted) if omitted and omitted.strip().isdigit() else None
        if size is None:
            size = _attachment_size(part, defects)
        provider_id = _header(part, OMITTED_ID_HEADER) if omitted else None
        attachments.append(
            AttachmentInfo(
                filename=filename,
                mime_type=ctype,
                size=size,
                content_id=content_id,
                part_path=path,
                inline=disposition == "inline" or (disposition is None and content_id is not None),
                provider_id=provider_id.strip() if provider_id else None,
            )
        )

    if not text_parts and not html_parts and forwards:
        text_parts, html_parts = _forwarded_bodies(forwards, defects, counter)

    list_id_raw = first("list-id")
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references,
        subject=decode_header_value(first("subject")),
        from_addresses=from_addresses,
        reply_to=reply_to,
        to=to,
        cc=cc,
        bcc=bcc,
        delivered_to=delivered_to,
        display_names=display,
        sent_at=_sent_at(first("date"), internal_date, defects),
        text_body="\n".join(text_parts) if text_parts else None,
        html_body="\n".join(html_parts) if html_parts else None,
        attachments=tuple(attachments),
        list_id=decode_header_value(list_id_raw) or None if list_id_raw else None,
        auto_submitted=_token(first("auto-submitted")),
        precedence=_token(first("precedence")),
        has_list_unsubscribe="list-unsubscribe" in headers,
        defects=tuple(dict.fromkeys(defects)),
    )


_TAG_RE = re.compile(r"<[^>]*>")
_DROP_BLOCKS_RE = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_BREAK_RE = re.compile(r"<(br|/p|/div|/tr|/li|/h[1-6])\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """A rough plain-text rendering of HTML for previews and search (not for display)."""
    text = _DROP_BLOCKS_RE.sub(" ", markup)
    text = _BREAK_RE.sub("\n", text)
    text = _TAG_RE.sub(" ", text)
    return html.unescape(text)


def snippet_of(text: str, *, limit: int = 200) -> str:
    """A one-line preview: quoted lines dropped, whitespace collapsed, cut at a word boundary."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    flat = _WS_RE.sub(" ", " ".join(lines)).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
