"""Gmail's ``q`` search syntax compiled into a predicate over :class:`MessageRecord`.

Supported: ``from: to: cc: bcc: subject: after: before: newer_than: older_than: label: in: is:
has:attachment rfc822msgid: list: deliveredto:``, ``OR`` (binds tighter than the implicit AND, as in
Gmail), ``{a b}`` (any of), ``( ... )`` grouping (also as an operator value: ``from:(a OR b)``),
``"quoted phrases"``, ``-`` negation and bare words (matched against subject and snippet).

As Gmail: ``after:``/``before:`` dates mean midnight Pacific time (epoch seconds are exact);
address terms match by tokens (``from:ann@acme.com`` also finds ``jo.ann@acme.com`` and
``ann@acme.com.au``: the term must occur in the address between non-alphanumeric boundaries);
:func:`query_terms` counts the terms of a query, for the emulator's query-complexity limit
(over it, messages.list answers nothing, as Gmail has been seen to do).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from inboxcrm.emulator.errors import ApiError
from inboxcrm.emulator.mail_store import MessageRecord

Predicate = Callable[[MessageRecord], bool]
LabelResolver = Callable[[str], "str | None"]

_TOKEN = re.compile(
    r'\s*(?:(?P<quote>"[^"]*"?)|(?P<open>[({])|(?P<close>[)}])|(?P<minus>-)(?=\S)'
    r'|(?P<word>[^\s(){}"]+(?:"[^"]*"?)?))'
)
_FIELDS = {
    "from", "to", "cc", "bcc", "subject", "after", "before", "newer_than", "older_than",
    "label", "in", "is", "has", "rfc822msgid", "list", "deliveredto", "newer", "older",
    "larger", "smaller", "size",
}  # fmt: skip
_UNITS = {"h": 3600, "d": 86400, "m": 30 * 86400, "y": 365 * 86400}


@dataclass
class Token:
    kind: str  # quote, open, close, minus, word
    text: str


@dataclass
class CompiledQuery:
    predicate: Predicate
    mentions_spam_trash: bool


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        kind = match.lastgroup or "word"
        tokens.append(Token(kind, match.group(kind)))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token], resolver: LabelResolver, now_ms: int) -> None:
        self.tokens = tokens
        self.pos = 0
        self.resolver = resolver
        self.now_ms = now_ms
        self.spam_trash = False

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    # sequence := or_expr*            (implicit AND)
    def sequence(self, fld: str | None, closer: str | None) -> Predicate:
        parts: list[Predicate] = []
        while True:
            token = self.peek()
            if token is None:
                break
            if token.kind == "close":
                if closer is None:  # stray closer: ignore it like Gmail does
                    self.take()
                    continue
                break
            parts.append(self.or_expr(fld))
        return _all(parts)

    # or_expr := unary ("OR" unary)*
    def or_expr(self, fld: str | None) -> Predicate:
        options = [self.unary(fld)]
        while True:
            token = self.peek()
            if token is None or token.kind != "word" or token.text not in ("OR", "|"):
                break
            self.take()
            if self.peek() is None:
                break
            options.append(self.unary(fld))
        return _any(options)

    def unary(self, fld: str | None) -> Predicate:
        token = self.take()
        if token.kind == "minus":
            if self.peek() is None:
                return _always
            inner = self.unary(fld)
            return lambda rec: not inner(rec)
        if token.kind == "open":
            if token.text == "{":
                options: list[Predicate] = []
                while (nxt := self.peek()) is not None and nxt.kind != "close":
                    if nxt.kind == "word" and nxt.text in ("OR", "|"):
                        self.take()
                        continue
                    options.append(self.unary(fld))
                if self.peek() is not None:
                    self.take()
                return _any(options) if options else _always
            pred = self.sequence(fld, ")")
            if self.peek() is not None:
                self.take()
            return pred
        if token.kind == "close":
            return _always
        if token.kind == "quote":
            return self.term(fld, token.text.strip('"'), phrase=True)
        text = token.text
        if fld is None and ":" in text:
            name, _, value = text.partition(":")
            name = name.lower()
            if name in _FIELDS:
                if value == "":
                    nxt = self.peek()
                    if nxt is not None and nxt.kind == "open":
                        self.take()
                        if nxt.text == "{":
                            self.pos -= 1
                            return self.unary(name)
                        pred = self.sequence(name, ")")
                        if self.peek() is not None:
                            self.take()
                        return pred
                    if nxt is not None and nxt.kind == "quote":
                        self.take()
                        return self.term(name, nxt.text.strip('"'), phrase=True)
                    return _always
                return self.term(name, value.strip('"'), phrase='"' in value)
        return self.term(fld, text, phrase=False)

    def term(self, fld: str | None, value: str, *, phrase: bool) -> Predicate:
        value_l = value.lower().strip()
        if fld is None:
            return _text_match(value_l, phrase)
        if fld in ("from", "to", "cc", "bcc", "deliveredto"):
            return _address_match(fld, value_l)
        if fld == "subject":
            needle = value_l

            def subject_match(rec: MessageRecord) -> bool:
                return needle in rec.subject.lower()

            return subject_match
        if fld in ("after", "before", "newer", "older"):
            boundary = _parse_date(value_l)
            if fld in ("after", "newer"):
                return lambda rec: rec.internal_date >= boundary
            return lambda rec: rec.internal_date < boundary
        if fld in ("newer_than", "older_than"):
            match = re.fullmatch(r"(\d+)([hdmy])", value_l)
            if match is None:
                raise ApiError(400, f"Invalid query: {fld}:{value}", reason="invalidArgument")
            edge = self.now_ms - int(match.group(1)) * _UNITS[match.group(2)] * 1000
            if fld == "newer_than":
                return lambda rec: rec.internal_date >= edge
            return lambda rec: rec.internal_date < edge
        if fld == "label":
            return self._label(value)
        if fld == "in":
            if value_l == "anywhere":
                self.spam_trash = True
                return _always
            return self._label(
                {
                    "inbox": "INBOX",
                    "sent": "SENT",
                    "spam": "SPAM",
                    "trash": "TRASH",
                    "drafts": "DRAFT",
                    "draft": "DRAFT",
                    "chats": "CHAT",
                    "starred": "STARRED",
                    "important": "IMPORTANT",
                }.get(value_l, value)
            )
        if fld == "is":
            if value_l == "read":
                return lambda rec: "UNREAD" not in rec.labels
            return self._label(
                {
                    "unread": "UNREAD",
                    "starred": "STARRED",
                    "important": "IMPORTANT",
                    "sent": "SENT",
                    "chat": "CHAT",
                }.get(value_l, value)
            )
        if fld == "has":
            if value_l in ("attachment", "drive", "document", "spreadsheet", "presentation"):
                return lambda rec: rec.has_attachment
            return _never
        if fld == "rfc822msgid":
            wanted = value.strip().strip("<>")
            return lambda rec: rec.message_id.strip("<>") == wanted
        if fld == "list":
            return lambda rec: value_l in rec.list_id
        if fld in ("larger", "smaller", "size"):
            match = re.fullmatch(r"(\d+)([km]?)", value_l)
            if match is None:
                raise ApiError(400, f"Invalid query: {fld}:{value}", reason="invalidArgument")
            limit = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
            if fld == "smaller":
                return lambda rec: rec.size_estimate < limit
            return lambda rec: rec.size_estimate > limit
        return _never

    def _label(self, name: str) -> Predicate:
        label_id = self.resolver(name)
        if label_id is None:
            return _never
        if label_id in ("SPAM", "TRASH"):
            self.spam_trash = True
        return lambda rec: label_id in rec.labels


def _always(rec: MessageRecord) -> bool:
    return True


def _never(rec: MessageRecord) -> bool:
    return False


def _all(parts: list[Predicate]) -> Predicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    return lambda rec: all(p(rec) for p in parts)


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    # Exact address terms ({from:a to:a from:b ...}) become one set test per field.
    by_field: dict[str, set[str]] = {}
    rest: list[Predicate] = []
    for part in parts:
        field_value = getattr(part, "exact_address", None)
        if field_value is None:
            rest.append(part)
        else:
            by_field.setdefault(field_value[0], set()).add(field_value[1])
    if not by_field:
        return lambda rec: any(p(rec) for p in parts)
    groups = [(attr, frozenset(values)) for attr, values in by_field.items()]

    def any_match(rec: MessageRecord) -> bool:
        for attr, values in groups:
            for address in getattr(rec, attr):
                if not values.isdisjoint(token_variants(address)):
                    return True
        return any(p(rec) for p in rest)

    return any_match


def _address_match(fld: str, value: str) -> Predicate:
    attr = {"from": "senders", "deliveredto": "to"}.get(fld, fld)
    value = value.strip("<>")
    if "@" in value and not value.startswith("@"):

        def exact(rec: MessageRecord) -> bool:
            return any(value in token_variants(a) for a in getattr(rec, attr))

        exact.exact_address = (attr, value)  # type: ignore[attr-defined]
        return exact
    domain = value.lstrip("@")
    dotted = "." + domain
    at_domain = "@" + domain

    def partial(rec: MessageRecord) -> bool:
        for addr in getattr(rec, attr):
            if addr.endswith((at_domain, dotted)) or addr.split("@")[0] == value:
                return True
        return attr == "senders" and value in rec.sender_names

    return partial


@lru_cache(maxsize=65536)
def token_variants(address: str) -> frozenset[str]:
    """Every part of ``address`` that starts and ends at a token boundary and keeps the ``@``:
    the address terms Gmail's token matching finds it by."""
    bounds = [0] + [i for i, ch in enumerate(address) if not ch.isalnum()]
    starts = [0] + [i + 1 for i in bounds[1:]]
    ends = [*bounds[1:], len(address)]
    at = address.find("@")
    return frozenset(address[a:b] for a in starts for b in ends if a <= at < b and a < b)


def query_terms(query: str) -> int:
    """How many search terms ``query`` holds (operators with a value, and bare words)."""
    return sum(
        1
        for token in tokenize(query)
        if token.kind in ("word", "quote") and token.text not in ("OR", "|")
    )


def _text_match(value: str, phrase: bool) -> Predicate:
    if not value:
        return _always
    if phrase:

        def phrase_match(rec: MessageRecord) -> bool:
            return value in rec.subject.lower() or value in html.unescape(rec.snippet).lower()

        return phrase_match
    pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)")

    def word_match(rec: MessageRecord) -> bool:
        return bool(
            pattern.search(rec.subject.lower())
            or pattern.search(html.unescape(rec.snippet).lower())
            or value in rec.senders
        )

    return word_match


def _pacific(year: int, month: int, day: int) -> datetime:
    """Midnight Pacific time (Gmail's zone for ``after:``/``before:`` dates): PST or PDT by the
    US rule (second Sunday of March to first Sunday of November)."""
    march = datetime(year, 3, 8)
    dst_start = march + timedelta(days=(6 - march.weekday()) % 7)
    november = datetime(year, 11, 1)
    dst_end = november + timedelta(days=(6 - november.weekday()) % 7)
    local = datetime(year, month, day)
    offset = -7 if dst_start <= local < dst_end else -8
    return local.replace(tzinfo=timezone(timedelta(hours=offset)))


def _parse_date(value: str) -> int:
    if value.isdigit():
        return int(value) * 1000
    match = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", value)
    if match is None:
        raise ApiError(400, f"Invalid query date: {value}", reason="invalidArgument")
    year, month, day = (int(g) for g in match.groups())
    try:
        return int(_pacific(year, month, day).timestamp()) * 1000
    except (ValueError, OverflowError):
        raise ApiError(400, f"Invalid query date: {value}", reason="invalidArgument") from None


def compile_query(query: str, resolver: LabelResolver, now_ms: int) -> CompiledQuery:
    """Compile ``q``; an empty query matches everything."""
    parser = _Parser(tokenize(query), resolver, now_ms)
    predicate = parser.sequence(None, None)
    return CompiledQuery(predicate, parser.spam_trash)
