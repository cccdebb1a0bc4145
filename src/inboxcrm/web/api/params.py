"""Path and query parameters shared by the JSON API's resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from inboxcrm.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_ID",
    "Cursor",
    "EmailFilter",
    "IdFilter",
    "Limit",
    "ResourceId",
    "Search",
]

#: Ids are 32-bit integers on every backend.
MAX_ID = 2**31 - 1

ResourceId = Annotated[int, Path(alias="id", ge=1, le=MAX_ID, description="The resource's id")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="The `next_cursor` of the previous page"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Search = Annotated[
    str | None, Query(max_length=200, description="Words to find in names, company and emails")
]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
EmailFilter = Annotated[
    str | None, Query(max_length=320, description="Records with exactly this address")
]
