"""Which CRM records a message belongs to, and why; and whether it may be stored at all.

Build one :class:`MessageMatcher` per mailbox (its own addresses, the tenant's address book, the
never-log list) and call :meth:`MessageMatcher.match` for each parsed message. Everything is
precomputed into sets and dicts, so a match is a few dictionary look-ups per participant.

Rules:

- Direction: ``outbound`` when the (first) From address is one of the account's own addresses
  (primary address and send-as aliases), else ``inbound``.
- Counterparts: every From/Reply-To/To/Cc/Bcc address that is not the account's own, not a BCC
  logging address of the account, and not in ``excluded_domains`` (typically the tenant's own
  domain, when the caller does not want colleagues matched).
- ``address`` matches: a counterpart's address is a record address, or its domain is the domain
  of a whole-domain record (an Account with a domain; the detail is then ``"@domain"``). Free-mail
  domains (gmail.com, ...) never match whole-domain records.
- ``bcc`` matches: a recipient header carries a BCC logging address of this mailbox (see
  :mod:`inboxcrm.domain.bcc`) whose tag is known. A BCC is a deliberate act of the user, so it
  applies even when every counterpart is never-logged.
- ``thread`` matches: the caller passes the record keys already linked to the message's thread.
- Never-log: counterparts on the never-log list neither match nor keep a thread link alive. A
  message whose only CRM-matching counterparts are never-logged is not stored
  (``skip_reason == "never_log"``); one with no match at all is skipped with ``"no_match"``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.bcc import bcc_hash_in
from inboxcrm.domain.mail_parsing import ParsedMail

__all__ = [
    "FREE_MAIL_DOMAINS",
    "Direction",
    "Match",
    "MatchReason",
    "MatchResult",
    "MessageMatcher",
    "NeverLogList",
    "SkipReason",
]

Direction = Literal["inbound", "outbound"]
MatchReason = Literal["address", "bcc", "thread"]
SkipReason = Literal["no_match", "never_log"]

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "zoho.com",
    }
)
"""Domains shared by unrelated people: never matched as a whole-domain record."""


@dataclass(frozen=True, slots=True)
class Match:
    """One reason a message links to a record. ``detail``: the address, ``@domain``, or tag."""

    record_key: str
    reason: MatchReason
    detail: str


@dataclass(frozen=True, slots=True)
class MatchResult:
    direction: Direction
    matches: tuple[Match, ...]
    counterparts: tuple[str, ...]
    """Participants other than the account itself (before never-log filtering)."""
    skip_reason: SkipReason | None
    """None when the message should be stored."""

    @property
    def stored(self) -> bool:
        return self.skip_reason is None

    @property
    def record_keys(self) -> tuple[str, ...]:
        """Each matched record once, in match order."""
        return tuple(dict.fromkeys(m.record_key for m in self.matches))


class NeverLogList:
    """Addresses and whole domains whose mail is never stored.

    Entries are addresses (``bob@x.com``) or domains (``x.com`` or ``@x.com``); a domain entry
    also covers its subdomains (``eu.x.com``).
    """

    __slots__ = ("_addresses", "_domains")

    def __init__(self, addresses: Iterable[str] = (), domains: Iterable[str] = ()) -> None:
        self._addresses = frozenset(a.strip().lower() for a in addresses if a.strip())
        self._domains = frozenset(d.strip().lstrip("@").lower() for d in domains if d.strip())

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> NeverLogList:
        """Split mixed entries: with a local part → address, otherwise → domain."""
        addresses: list[str] = []
        domains: list[str] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            if text.startswith("@") or "@" not in text:
                domains.append(text)
            else:
                addresses.append(try_normalize_email(text) or text.lower())
        return cls(addresses, domains)

    def __bool__(self) -> bool:
        return bool(self._addresses or self._domains)

    def blocks(self, address: str) -> bool:
        """True if the canonical ``address`` or its domain (or a parent domain) is listed."""
        if address in self._addresses:
            return True
        if not self._domains:
            return False
        domain = address.rsplit("@", 1)[-1]
        while True:
            if domain in self._domains:
                return True
            dot = domain.find(".")
            if dot < 0:
                return False
            domain = domain[dot + 1 :]


class MessageMatcher:
    """Matches parsed messages of one mailbox against one tenant's records.

    ``records_by_address``: canonical address → record keys. ``records_by_domain``: domain →
    record keys of whole-domain records. ``bcc_records``: BCC tag → record key (tags as made by
    :func:`inboxcrm.domain.bcc.bcc_hash`). ``own_addresses``: the account's primary address and
    send-as aliases. ``excluded_domains``: counterparts on these domains are ignored.
    """

    __slots__ = (
        "_bcc_records",
        "_excluded_domains",
        "_never_log",
        "_own",
        "_records_by_address",
        "_records_by_domain",
    )

    def __init__(
        self,
        *,
        own_addresses: Iterable[str],
        records_by_address: Mapping[str, Collection[str]],
        records_by_domain: Mapping[str, Collection[str]] | None = None,
        bcc_records: Mapping[str, str] | None = None,
        never_log: NeverLogList | None = None,
        excluded_domains: Iterable[str] = (),
    ) -> None:
        own = {try_normalize_email(a) or a.strip().lower() for a in own_addresses}
        self._own = frozenset(own)
        self._records_by_address = records_by_address
        self._records_by_domain = {
            d: keys for d, keys in (records_by_domain or {}).items() if d not in FREE_MAIL_DOMAINS
        }
        self._bcc_records = bcc_records or {}
        self._never_log = never_log or NeverLogList()
        self._excluded_domains = frozenset(d.strip().lstrip("@").lower() for d in excluded_domains)

    @property
    def own_addresses(self) -> frozenset[str]:
        return self._own

    def direction_of(self, mail: ParsedMail) -> Direction:
        sender = mail.sender
        return "outbound" if sender is not None and sender in self._own else "inbound"

    def match(self, mail: ParsedMail, thread_record_keys: Collection[str] = ()) -> MatchResult:
        """Direction, matches and the store/skip decision for one message."""
        own = self._own
        matches: list[Match] = []
        seen: set[tuple[str, str, str]] = set()

        def add(record_key: str, reason: MatchReason, detail: str) -> None:
            key = (record_key, reason, detail)
            if key not in seen:
                seen.add(key)
                matches.append(Match(record_key, reason, detail))

        counterparts: list[str] = []
        for address in mail.participants:
            if address in own:
                continue
            if self._bcc_records and "+" in address:
                tag = bcc_hash_in(address, own)
                if tag is not None:
                    record_key = self._bcc_records.get(tag)
                    if record_key is not None:
                        add(record_key, "bcc", address)
                    continue
            domain = address.rsplit("@", 1)[-1]
            if domain in self._excluded_domains:
                continue
            counterparts.append(address)
        if self._bcc_records:
            for address in mail.delivered_to:
                tag = bcc_hash_in(address, own)
                if tag is not None and tag in self._bcc_records:
                    add(self._bcc_records[tag], "bcc", address)

        blocked_match = False
        open_counterpart = False
        never_log = self._never_log
        for address in counterparts:
            blocked = bool(never_log) and never_log.blocks(address)
            if not blocked:
                open_counterpart = True
            keys = self._records_by_address.get(address)
            domain_keys = (
                self._records_by_domain.get(address.rsplit("@", 1)[-1])
                if self._records_by_domain
                else None
            )
            if not keys and not domain_keys:
                continue
            if blocked:
                blocked_match = True
                continue
            for record_key in keys or ():
                add(record_key, "address", address)
            if domain_keys:
                detail = "@" + address.rsplit("@", 1)[-1]
                for record_key in domain_keys:
                    add(record_key, "address", detail)

        if thread_record_keys:
            if open_counterpart or not counterparts:
                for record_key in thread_record_keys:
                    add(record_key, "thread", "")
            else:
                blocked_match = True

        skip: SkipReason | None = None
        if not matches:
            skip = "never_log" if blocked_match else "no_match"
        return MatchResult(
            direction=self.direction_of(mail),
            matches=tuple(matches),
            counterparts=tuple(counterparts),
            skip_reason=skip,
        )
