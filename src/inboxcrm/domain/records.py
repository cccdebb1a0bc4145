"""Rules of CRM records, deals and notes that need no database: allowed values and normal forms.

- Record kinds: ``lead``, ``contact``, ``account`` (how notes, addresses and timeline entries
  point at a record).
- A record's email addresses are kept in canonical form (see :mod:`inboxcrm.domain.addresses`),
  in the order given; the same address twice on one record is refused (it may belong to several
  records).
- An account domain is a bare host name (``example.com``), lower-case, IDNA-encoded.
- Deals: a pipeline ``stage`` from :data:`DEAL_STAGES`, a ``status`` of open/won/lost, an
  amount that is a non-negative decimal with at most two places, and an ISO 4217 currency code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, get_args

import idna

from inboxcrm.domain.addresses import normalize_email
from inboxcrm.domain.errors import InvalidInput

__all__ = [
    "ACTIVITY_KIND_RE",
    "CURRENCIES",
    "DEAL_STAGES",
    "DEAL_STATUSES",
    "LEAD_STATUSES",
    "MAX_AMOUNT",
    "MAX_EMAILS_PER_RECORD",
    "RECORD_KINDS",
    "DealStage",
    "DealStatus",
    "LeadStatus",
    "RecordKind",
    "normalize_amount",
    "normalize_currency",
    "normalize_domain",
    "normalize_record_emails",
    "note_summary",
    "search_terms",
]

RecordKind = Literal["lead", "contact", "account"]
RECORD_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)

LeadStatus = Literal["new", "contacted", "qualified", "unqualified", "converted"]
LEAD_STATUSES: tuple[LeadStatus, ...] = get_args(LeadStatus)

DealStatus = Literal["open", "won", "lost"]
DEAL_STATUSES: tuple[DealStatus, ...] = get_args(DealStatus)

#: The pipeline, in board order.
DealStage = Literal["qualification", "discovery", "proposal", "negotiation", "closing"]
DEAL_STAGES: tuple[DealStage, ...] = get_args(DealStage)

MAX_EMAILS_PER_RECORD = 20
#: Amounts are stored as NUMERIC(14, 2).
MAX_AMOUNT = Decimal("999999999999.99")

#: Timeline entry kinds are short snake_case words (email, note, meeting, tracking, ...).
ACTIVITY_KIND_RE = re.compile(r"^[a-z][a-z_]{0,19}$")

_ISO_4217_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
#: Active ISO 4217 currency codes.
CURRENCIES: frozenset[str] = frozenset(_ISO_4217_CODES.split())

_HOST_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_record_emails(raw: Iterable[str]) -> list[str]:
    """Canonical addresses in the given order; refuses bad addresses and repeats."""
    seen: dict[str, None] = {}
    for value in raw:
        canonical = normalize_email(value)
        if canonical in seen:
            raise InvalidInput(f"{canonical} is listed twice", field="emails")
        seen[canonical] = None
    if len(seen) > MAX_EMAILS_PER_RECORD:
        raise InvalidInput(
            f"a record has at most {MAX_EMAILS_PER_RECORD} email addresses", field="emails"
        )
    return list(seen)


def normalize_domain(raw: str) -> str:
    """A bare, lower-case, IDNA-encoded host name such as ``example.com``."""
    text = raw.strip().lower().rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    try:
        ascii_host = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidInput(f"not a valid domain: {raw!r}", field="domain") from exc
    labels = ascii_host.split(".")
    if (
        len(ascii_host) > 253
        or len(labels) < 2
        or not all(_HOST_LABEL_RE.match(label) for label in labels)
    ):
        raise InvalidInput(f"not a valid domain: {raw!r}", field="domain")
    return ascii_host


def normalize_currency(raw: str) -> str:
    code = raw.strip().upper()
    if code not in CURRENCIES:
        raise InvalidInput(f"not an ISO 4217 currency code: {raw!r}", field="currency")
    return code


def normalize_amount(value: Decimal) -> Decimal:
    """A non-negative amount with at most two decimal places that fits the column."""
    if not value.is_finite():
        raise InvalidInput("the amount must be a finite number", field="amount")
    if value < 0:
        raise InvalidInput("the amount cannot be negative", field="amount")
    if value > MAX_AMOUNT:
        raise InvalidInput(f"the amount cannot exceed {MAX_AMOUNT}", field="amount")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise InvalidInput("the amount has at most two decimal places", field="amount")
    return value.quantize(Decimal("0.01"))


def note_summary(body: str, limit: int = 300) -> str:
    """The first non-empty line of a note, shortened to ``limit`` characters for the timeline."""
    line = next((part.strip() for part in body.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def search_terms(query: str | None, *, max_terms: int = 5) -> list[str]:
    """The words of a search box query (at most ``max_terms``), or none for a blank query."""
    if not query:
        return []
    return query.split()[:max_terms]
