"""Opaque cursors and page-size limits (no I/O)."""

from __future__ import annotations

import base64
import json

import pytest

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.services.pagination import (
    MAX_LIMIT,
    check_limit,
    decode_cursor,
    decode_id_cursor,
    encode_cursor,
)


def test_cursor_round_trip_is_url_safe() -> None:
    cursor = encode_cursor("timeline:contact:7", ["2025-03-01T09:00:00+00:00", 123])
    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(cursor, "timeline:contact:7", 2) == ["2025-03-01T09:00:00+00:00", 123]
    assert decode_id_cursor(encode_cursor("leads", [41]), "leads") == 41
    assert decode_id_cursor(None, "leads") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "é",
        "x" * 600,
        encode_cursor("contacts", [1]),  # another list's cursor
        encode_cursor("leads", [1, 2]),  # wrong arity
        encode_cursor("leads", ["1"]),  # wrong type
        encode_cursor("leads", [True]),
        encode_cursor("leads", [-5]),
        encode_cursor("leads", [2**70]),
        base64.urlsafe_b64encode(json.dumps([1]).encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursors_are_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_id_cursor(cursor, "leads")
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, 10**9])
def test_limits_outside_range_are_refused(limit: int) -> None:
    with pytest.raises(InvalidInput):
        check_limit(limit)


def test_limits_in_range_pass() -> None:
    assert check_limit(1) == 1
    assert check_limit(MAX_LIMIT) == MAX_LIMIT
