"""Pure record rules: email lists, domains, currencies, amounts, note summaries (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.records import (
    MAX_EMAILS_PER_RECORD,
    normalize_amount,
    normalize_currency,
    normalize_domain,
    normalize_record_emails,
    note_summary,
    search_terms,
)


def test_record_emails_are_canonical_ordered_and_unique() -> None:
    assert normalize_record_emails([" B@Example.COM ", "a@bücher.de"]) == [
        "b@example.com",
        "a@xn--bcher-kva.de",
    ]
    with pytest.raises(InvalidInput, match="twice"):
        normalize_record_emails(["a@x.com", "A@X.COM"])
    with pytest.raises(InvalidInput):
        normalize_record_emails(["nope"])
    with pytest.raises(InvalidInput):
        normalize_record_emails([f"u{i}@x.com" for i in range(MAX_EMAILS_PER_RECORD + 1)])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("www.example.com.", "example.com"),
        (" bücher.de ", "xn--bcher-kva.de"),
        ("sub.example.co.uk", "sub.example.co.uk"),
    ],
)
def test_domains_normalise(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "localhost", "exa mple.com", "-bad.com", "a..b", "x" * 300 + ".com", "a@b.com"]
)
def test_bad_domains_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_domain(raw)


def test_currencies() -> None:
    assert normalize_currency(" eur ") == "EUR"
    assert normalize_currency("TRY") == "TRY"
    for bad in ("", "EU", "EURO", "XYZ", "123"):
        with pytest.raises(InvalidInput):
            normalize_currency(bad)


def test_amounts() -> None:
    assert normalize_amount(Decimal("12.5")) == Decimal("12.50")
    assert normalize_amount(Decimal("0")) == Decimal("0.00")
    assert normalize_amount(Decimal("1.500")) == Decimal("1.50")
    for bad in ("-0.01", "1.001", "1e15", "NaN", "Infinity"):
        with pytest.raises(InvalidInput):
            normalize_amount(Decimal(bad))


def test_note_summary_and_search_terms() -> None:
    assert note_summary("\n\n  First line  \nsecond") == "First line"
    assert note_summary("x" * 400) == "x" * 299 + "…"
    assert note_summary("   ") == ""
    assert search_terms("  ada   lovelace ") == ["ada", "lovelace"]
    assert search_terms(None) == []
    assert len(search_terms("a b c d e f g")) == 5
