"""Gmail search queries that select only mail exchanged with CRM addresses.

Syntax (one form, always): a brace group, which Gmail reads as OR, with a ``from:``, ``to:``,
``cc:`` and ``bcc:`` term per address, followed by an optional date bound::

    {from:a@x.com to:a@x.com cc:a@x.com bcc:a@x.com from:b@y.com ...} after:1763856000

- Whole-domain entries (an Account with a domain) are given as ``"@acme.com"`` and become
  ``from:@acme.com to:@acme.com ...``; Gmail and the emulator match them against the domain of
  the address.
- ``bcc:`` only finds mail the account itself sent (Gmail keeps the Bcc header of sent mail
  only); it is there so a customer who was only blind-copied is still found. Pass
  ``include_bcc=False`` to leave it out.
- ``after:`` takes epoch seconds (exact to the second). A date (``after:2025/11/23``) would be
  read by Gmail as midnight Pacific time, not the account's or UTC midnight, so the window would
  be off by up to a day.
- Gmail matches address terms by tokens: ``from:ann@acme.com`` also finds
  ``jo.ann@acme.com`` or ``ann@acme.com.au``. The product screens every fetched message against
  the exact CRM addresses, so this only costs fetches.
- Very long or complex OR queries have been seen to answer *nothing*, silently. A chunk of
  several addresses that lists nothing is therefore checked with one small query per address
  (:class:`SearchChunk` keeps the addresses of each query), see the sync engine.
- Addresses are canonicalised, de-duplicated and sorted, so the same address set always yields
  the same queries (a sync can checkpoint "query k of n done").
- Addresses containing characters that the query grammar uses (``{}()"``) are quoted.

Length: Gmail documents no limit for ``q``, but its search and filter criteria are known to be
capped at 1,500 characters, and google-api-python-client rewrites any GET whose URI exceeds
2,048 characters into a POST with ``X-HTTP-Method-Override`` (a path worth not depending on). So
``max_query_chars`` bounds the query *as sent*, URL-encoded, and the default of 1,500 leaves room
for the endpoint, ``pageToken`` and the other parameters inside 2,048, while staying at the
1,500-character size known to work in Gmail search itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote_plus

from inboxcrm.domain.addresses import try_normalize_email

__all__ = [
    "DEFAULT_MAX_QUERY_CHARS",
    "SearchChunk",
    "after_term",
    "build_search_chunks",
    "build_search_queries",
    "encoded_length",
]

DEFAULT_MAX_QUERY_CHARS = 1500
_FIELDS = ("from", "to", "cc", "bcc")
_SPECIAL = set('{}()"')


def encoded_length(query: str) -> int:
    """Length of ``query`` once URL-encoded as a query-string value."""
    return len(quote_plus(query, safe=""))


def _canonical_entries(addresses: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for raw in addresses:
        text = raw.strip()
        if not text:
            continue
        if text.startswith("@"):
            domain = text[1:].strip().rstrip(".").lower()
            if domain and "." in domain and not (_SPECIAL & set(domain)) and " " not in domain:
                found.add("@" + domain)
            continue
        canonical = try_normalize_email(text)
        if canonical is not None:
            found.add(canonical)
    return sorted(found)


def _value(entry: str) -> str:
    if _SPECIAL & set(entry) or entry.startswith("-"):
        return '"' + entry.replace('"', "") + '"'
    return entry


def _terms(entry: str, fields: Sequence[str]) -> str:
    value = _value(entry)
    return " ".join(f"{field}:{value}" for field in fields)


@dataclass(frozen=True, slots=True)
class SearchChunk:
    """One query and the address entries it covers (for per-address probes)."""

    query: str
    entries: tuple[str, ...]

    def probe_queries(self, fields: Sequence[str] = _FIELDS) -> list[str]:
        """One query per entry, with the same date bound."""
        suffix = self.query[self.query.rfind("}") + 1 :]
        return ["{" + _terms(entry, fields) + "}" + suffix for entry in self.entries]


def after_term(after: date | datetime | int | None) -> str:
    """`` after:<epoch seconds>`` (a date counts from its UTC midnight); empty for None."""
    if after is None:
        return ""
    if isinstance(after, datetime):
        aware = after if after.tzinfo else after.replace(tzinfo=UTC)
        seconds = int(aware.timestamp())
    elif isinstance(after, date):
        seconds = int(datetime(after.year, after.month, after.day, tzinfo=UTC).timestamp())
    else:
        seconds = int(after)
    return f" after:{seconds}"


def build_search_chunks(
    addresses: Sequence[str],
    *,
    after: date | datetime | int | None,
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS,
    include_bcc: bool = True,
) -> list[SearchChunk]:
    """Gmail ``q`` strings that together select mail from/to/cc(/bcc) any of ``addresses``.

    Each query is at most ``max_query_chars`` long once URL-encoded. Invalid addresses are
    dropped. No addresses → no queries (the caller has nothing to sync). Raises ValueError when
    a single address does not fit the limit.
    """
    fields = _FIELDS if include_bcc else _FIELDS[:3]
    suffix = after_term(after)
    overhead = encoded_length("{}" + suffix)
    chunks: list[SearchChunk] = []
    chunk: list[str] = []
    entries: list[str] = []
    chunk_len = overhead
    for entry in _canonical_entries(addresses):
        terms = _terms(entry, fields)
        cost = encoded_length(terms) + (1 if chunk else 0)
        if overhead + encoded_length(terms) > max_query_chars:
            raise ValueError(f"address too long for a {max_query_chars}-character query")
        if chunk and chunk_len + cost > max_query_chars:
            chunks.append(SearchChunk("{" + " ".join(chunk) + "}" + suffix, tuple(entries)))
            chunk, entries, chunk_len = [], [], overhead
            cost = encoded_length(terms)
        chunk.append(terms)
        entries.append(entry)
        chunk_len += cost
    if chunk:
        chunks.append(SearchChunk("{" + " ".join(chunk) + "}" + suffix, tuple(entries)))
    return chunks


def build_search_queries(
    addresses: Sequence[str],
    *,
    after: date | datetime | int | None,
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS,
    include_bcc: bool = True,
) -> list[str]:
    """The queries of :func:`build_search_chunks`."""
    return [
        c.query
        for c in build_search_chunks(
            addresses, after=after, max_query_chars=max_query_chars, include_bcc=include_bcc
        )
    ]
