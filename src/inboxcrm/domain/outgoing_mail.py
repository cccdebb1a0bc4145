"""Outgoing mail: header safety and the RFC 5322 / MIME message the CRM sends.

Everything a user types that ends up in a header (subject, display names, addresses, attachment
file names) passes :func:`check_header_text` first: CR, LF, every other control character,
Unicode line and paragraph separators, and RFC 2047 encoded words that decode to any of those
are refused with :class:`~inboxcrm.domain.errors.InvalidInput` naming the field. Addresses are
parsed one per value (:func:`parse_recipient`): exactly one ``addr-spec`` with an optional
display name, nothing else, so no value can smuggle in a second recipient. The address is sent as
written (only an internationalised domain is converted to its IDNA form, which is how it travels
on the wire), never as the canonical form the CRM matches with.

:func:`build_message` writes the message with the standard ``email`` package (``EmailMessage``,
policy SMTP): RFC 2047 for non-ASCII subjects and names, quoted-printable or base64 bodies as
the content needs, ``multipart/alternative`` for text + HTML, attachments as
``multipart/mixed``. ``In-Reply-To`` and ``References`` are rebuilt from Message-IDs parsed out
of stored mail (:func:`clean_message_ids`), never copied raw. :func:`verify_headers` re-reads the
finished bytes and checks that they carry exactly the expected headers and recipients.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses

import idna

from inboxcrm.domain.errors import InvalidInput

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_SUBJECT_CHARS",
    "OutgoingAttachment",
    "OutgoingMessage",
    "Recipient",
    "build_message",
    "check_header_text",
    "clean_message_ids",
    "parse_recipient",
    "reply_subject",
    "verify_headers",
]

MAX_MESSAGE_BYTES = 35 * 1024 * 1024
"""Gmail's limit for a sent message (the upload endpoint's maxSize, 35 MiB)."""
MAX_SUBJECT_CHARS = 998
MAX_NAME_CHARS = 200
MAX_REFERENCES = 20

_LINE_SEPARATORS = frozenset("\u2028\u2029\u0085")
_ENCODED_WORD_RE = re.compile(r"=\?[^?]*\?[^?]*\?[^?]*\?=")
_LOCAL_ATOM_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)
_BRACKETED_RE = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")
_MSGID_RE = re.compile(r"^<[^<>\s\"()\[\]\\,;:@]+@[^<>\s\"()\\,;:@]+>$")
_RE_PREFIX_RE = re.compile(r"^\s*((re|aw|sv|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def _unsafe_character(text: str) -> str | None:
    for char in text:
        if char in _LINE_SEPARATORS or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return char
    return None


def _decode_encoded_word(word: str) -> str | None:
    """What a mail reader shows for one RFC 2047 word; None if it is malformed."""
    match = re.fullmatch(r"=\?([^?*]+)(?:\*[^?]*)?\?([^?]*)\?([^?]*)\?=", word)
    if match is None:
        return None
    charset, encoding, text = match.groups()
    try:
        if encoding in ("b", "B"):
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        elif encoding in ("q", "Q"):
            data = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
        else:
            return None
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError, binascii.Error, UnicodeError):
        return None


def check_header_text(value: str, field: str) -> str:
    """``value`` if it is safe in a header; InvalidInput naming ``field`` otherwise."""
    bad = _unsafe_character(value)
    if bad is not None:
        raise InvalidInput(
            f"{field} contains a control or line-break character (U+{ord(bad):04X})", field=field
        )
    for word in _ENCODED_WORD_RE.findall(value):
        decoded = _decode_encoded_word(word)
        if decoded is None or _unsafe_character(decoded) is not None or "=?" in decoded:
            raise InvalidInput(
                f"{field} contains an encoded word that decodes to a line break or control "
                "character",
                field=field,
            )
    return value


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address as written (``local@domain``, domain in IDNA form) and its display name."""

    name: str
    local: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"

    def header_address(self) -> Address:
        return Address(display_name=self.name, username=self.local, domain=self.domain)


def parse_recipient(value: str, field: str) -> Recipient:
    """One recipient from ``a@b.example`` or ``Name <a@b.example>``; InvalidInput otherwise."""
    check_header_text(value, field)
    text = value.strip()
    name = ""
    match = _BRACKETED_RE.match(text)
    if match:
        name = match.group("name").strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        text = match.group("addr").strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"{field}: the display name is too long", field=field)
    if text.count("@") != 1 or any(c.isspace() for c in text):
        raise InvalidInput(f"{field}: {value!r} is not one email address", field=field)
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL_ATOM_RE.match(local):
        if any(ord(c) > 127 for c in local):
            raise InvalidInput(
                f"{field}: addresses with non-ASCII characters before the @ cannot be sent",
                field=field,
            )
        raise InvalidInput(f"{field}: {value!r} is not one email address", field=field)
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidInput(
            f"{field}: {domain!r} is not a valid email domain", field=field
        ) from None
    if "." not in ascii_domain:
        raise InvalidInput(f"{field}: {domain!r} is not a valid email domain", field=field)
    # IDNA keeps an ASCII domain's letters as typed; Unicode labels become punycode.
    return Recipient(name=name, local=local, domain=ascii_domain)


def clean_message_ids(values: Sequence[str | None]) -> list[str]:
    """Well-formed ``<id@domain>`` Message-IDs found in ``values``, in order, without repeats."""
    found: dict[str, None] = {}
    for value in values:
        if not value:
            continue
        for candidate in re.findall(r"<[^<>]*>", value):
            if _MSGID_RE.match(candidate) and _unsafe_character(candidate) is None:
                found.setdefault(candidate, None)
    return list(found)


def reply_subject(original: str) -> str:
    """``Re: <original>`` with exactly one reply prefix."""
    rest = _RE_PREFIX_RE.sub("", original or "").strip()
    return f"Re: {rest}" if rest else "Re:"


def collapse_reply_prefix(subject: str) -> str:
    """A subject a user typed for a reply, with repeated reply prefixes collapsed to one."""
    if _RE_PREFIX_RE.match(subject or ""):
        return reply_subject(subject)
    return subject


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything :func:`build_message` needs; all header values already checked."""

    sender: Recipient
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    bcc: tuple[Recipient, ...]
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    date: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[OutgoingAttachment, ...] = field(default=())


def _split_type(content_type: str) -> tuple[str, str]:
    main, _, sub = content_type.partition("/")
    if not main or not sub or not re.fullmatch(r"[\w.+-]+", main + sub):
        return "application", "octet-stream"
    return main.lower(), sub.lower()


def _transfer_encoding(text: str) -> str:
    """7bit for short ASCII lines; quoted-printable for mostly-ASCII text; base64 otherwise."""
    if text.isascii() and all(len(line) <= 76 for line in text.splitlines()):
        return "7bit"
    non_ascii = sum(1 for c in text if ord(c) > 127)
    return "quoted-printable" if non_ascii * 5 < len(text) else "base64"


def build_message(message: OutgoingMessage) -> bytes:
    """The complete RFC 5322 message (CRLF line ends, lines within 998 octets)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = message.sender.header_address()
    msg["To"] = [r.header_address() for r in message.to] if message.to else None
    if message.cc:
        msg["Cc"] = [r.header_address() for r in message.cc]
    if message.bcc:
        # Gmail reads the recipients from Bcc and removes the header from delivered copies.
        msg["Bcc"] = [r.header_address() for r in message.bcc]
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(message.date)
    msg["Message-ID"] = message.message_id
    if message.in_reply_to:
        msg["In-Reply-To"] = message.in_reply_to
    if message.references:
        msg["References"] = " ".join(message.references[-MAX_REFERENCES:])
    if not message.to:
        del msg["To"]
    text = message.body_text or ""
    msg.set_content(text, charset="utf-8", cte=_transfer_encoding(text))
    if message.body_html:
        html = message.body_html
        msg.add_alternative(html, subtype="html", charset="utf-8", cte=_transfer_encoding(html))
    for attachment in message.attachments:
        maintype, subtype = _split_type(attachment.content_type)
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg.as_bytes(policy=policy.SMTP)


_EXPECTED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


def verify_headers(raw: bytes, message: OutgoingMessage) -> None:
    """InvalidInput unless ``raw``'s top-level headers are exactly the expected ones, once each,
    and its sender and recipients exactly the message's (the last line of defence)."""
    head = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    names = [name.lower() for name in head]
    if set(names) - _EXPECTED or len(names) != len(set(names)):
        raise InvalidInput("the message would carry unexpected headers", field="subject")
    expected_lists = (
        ("from", (message.sender,)),
        ("to", message.to),
        ("cc", message.cc),
        ("bcc", message.bcc),
    )
    for header, expected in expected_lists:
        values = head.get_all(header) or []
        found = [a.lower() for _, a in getaddresses([str(v) for v in values]) if a]
        if sorted(found) != sorted(r.address.lower() for r in expected):
            raise InvalidInput(
                f"the {header} header would not carry exactly the given address(es)", field=header
            )
