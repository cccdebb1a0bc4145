"""Cursor pagination shared by every list: pages, opaque cursors and the page-size limit.

A cursor is the position after the last item of a page (keyset pagination), encoded as URL-safe
base64 of a small JSON document with a scope tag, so a cursor of one list is refused by another
and clients cannot depend on its contents. Any malformed cursor is :class:`InvalidInput`.
Lists ordered by row id page through :func:`page_by_id`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from inboxcrm.domain.errors import InvalidInput

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "check_limit",
    "decode_cursor",
    "decode_id_cursor",
    "encode_cursor",
    "page_by_id",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_MAX_CURSOR_CHARS = 500

T = TypeVar("T")


class _WithId(Protocol):
    @property
    def id(self) -> int: ...


_Row = TypeVar("_Row", bound=_WithId)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next page (None on the last one)."""

    items: Sequence[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode_cursor(scope: str, position: Sequence[Any]) -> str:
    """An opaque cursor for ``position`` (JSON-safe values) within list ``scope``."""
    raw = json.dumps({"s": scope, "p": list(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, arity: int) -> list[Any]:
    """The position in a cursor made by :func:`encode_cursor` for ``scope``; else InvalidInput."""
    bad = InvalidInput("the cursor is not valid for this list", field="cursor")
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise bad
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    if not isinstance(data, dict) or data.get("s") != scope:
        raise bad
    position = data.get("p")
    if not isinstance(position, list) or len(position) != arity:
        raise bad
    return position


def decode_id_cursor(cursor: str | None, scope: str) -> int | None:
    """The last id of the previous page from an id-ordered list's cursor (None for page one)."""
    if cursor is None:
        return None
    (last_id,) = decode_cursor(cursor, scope, 1)
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id < 2**63:
        raise InvalidInput("the cursor is not valid for this list", field="cursor")
    return last_id


def page_by_id(
    session: Session,
    query: Select[_Row],
    id_column: InstrumentedAttribute[int],
    scope: str,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[_Row], str | None]:
    """One page of ``query``'s rows in ``id_column`` order after ``cursor``, and the next cursor.

    ``scope`` names the list, so that its cursors are refused by any other list.
    """
    check_limit(limit)
    after = decode_id_cursor(cursor, scope)
    if after is not None:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(scope, [rows[-1].id]) if more else None)
