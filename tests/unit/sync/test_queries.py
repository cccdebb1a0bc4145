"""Gmail search query construction and chunking."""

from __future__ import annotations

import re
from datetime import date

import pytest

from inboxcrm.sync.queries import build_search_queries, encoded_length

TERM_RE = re.compile(r'(from|to|cc|bcc):("[^"]*"|\S+?)(?=[\s}])')


def addresses_in(query: str) -> set[str]:
    return {value.strip('"') for _field, value in TERM_RE.findall(query)}


def test_single_query_shape() -> None:
    (query,) = build_search_queries(["Bob@Customer.com"], after=date(2025, 11, 23))
    assert query == (
        "{from:bob@customer.com to:bob@customer.com cc:bob@customer.com bcc:bob@customer.com}"
        " after:1763856000"
    )


def test_without_date_and_bcc() -> None:
    (query,) = build_search_queries(["a@x.com"], after=None, include_bcc=False)
    assert query == "{from:a@x.com to:a@x.com cc:a@x.com}"


def test_no_addresses_no_queries() -> None:
    assert build_search_queries([], after=None) == []
    assert build_search_queries(["not an address", ""], after=None) == []


def test_chunks_cover_every_address_once_within_the_limit() -> None:
    addresses = [f"person{i}@company{i % 13}.example.com" for i in range(500)]
    addresses += ["@acme.com", "PERSON1@company1.example.com"]
    queries = build_search_queries(addresses, after=date(2024, 1, 1), max_query_chars=1500)
    assert len(queries) > 1
    assert all(encoded_length(q) <= 1500 for q in queries)
    assert all(q.endswith(" after:1704067200") and q.startswith("{") for q in queries)
    seen: list[str] = []
    for q in queries:
        seen.extend(sorted(addresses_in(q)))
    assert len(seen) == len(set(seen)) == 501
    assert "@acme.com" in seen


def test_queries_are_deterministic() -> None:
    addresses = [f"p{i}@x.com" for i in range(200)]
    assert build_search_queries(addresses, after=None) == build_search_queries(
        list(reversed(addresses)), after=None
    )


def test_special_characters_are_quoted() -> None:
    (query,) = build_search_queries(["we{ird}@x.com"], after=None, include_bcc=False)
    assert 'from:"we{ird}@x.com"' in query


def test_address_longer_than_the_limit_is_an_error() -> None:
    with pytest.raises(ValueError):
        build_search_queries(["a" * 60 + "@example.com"], after=None, max_query_chars=100)
