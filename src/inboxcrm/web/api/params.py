"""Path and query parameters shared by the JSON API's resources and the UI's pages.

Every id and integer a client sends is parsed strictly and bounded here, once:

- digits only (ASCII ``0-9``, no sign, no spaces, no trailing newline: ``1%0A`` is refused,
  not read as ``1``), at most 19 of them before conversion, so no huge literal is ever turned
  into a Python int that the database driver cannot bind;
- within the column's range (ids are 32-bit integers on every backend: ``1 ..`` :data:`MAX_ID`).

A value outside these rules is a 422 problem document naming the parameter, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

from inboxcrm.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_ID",
    "Cursor",
    "EmailFilter",
    "IdFilter",
    "Limit",
    "PathId",
    "ResourceId",
    "Search",
    "StrictDigits",
    "strict_digits",
]

#: Ids are 32-bit integers on every backend.
MAX_ID = 2**31 - 1
#: The longest digit string accepted before conversion (covers every signed 64-bit value).
MAX_DIGITS = 19


def strict_digits(value: Any) -> Any:
    """Refuse a textual integer that is not plain ASCII digits (before pydantic converts it)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        if not value or len(value) > MAX_DIGITS or not (value.isascii() and value.isdigit()):
            raise ValueError(f"must be a whole number written with 1 to {MAX_DIGITS} digits 0-9")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


StrictDigits = BeforeValidator(strict_digits)

#: An id in the path, named by the route's own parameter (``{deal_id}`` → ``deal_id: PathId``).
PathId = Annotated[int, StrictDigits, Path(ge=1, le=MAX_ID, description="An id")]
#: The ``{id}`` of a resource's item routes.
ResourceId = Annotated[
    int, StrictDigits, Path(alias="id", ge=1, le=MAX_ID, description="The resource's id")
]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="The `next_cursor` of the previous page"),
]
Limit = Annotated[int, StrictDigits, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Search = Annotated[
    str | None, Query(max_length=200, description="Words to find in names, company and emails")
]
IdFilter = Annotated[int | None, StrictDigits, Query(ge=1, le=MAX_ID)]
EmailFilter = Annotated[
    str | None, Query(max_length=320, description="Records with exactly this address")
]
