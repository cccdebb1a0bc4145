"""The list envelope every collection returns: ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from inboxcrm.services.pagination import Page

__all__ = ["PageOut", "page_out"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_out(model: type[M], page: Page[Any]) -> PageOut[M]:
    """The envelope of one page of service results, each item read into ``model``."""
    return PageOut(
        items=[model.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )
