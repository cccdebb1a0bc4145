"""Use cases of Deals: list, get, create, update (PATCH semantics) and soft delete.

A deal sits on an Account or a Contact (or both); it has a pipeline ``stage`` (see
:data:`inboxcrm.domain.records.DEAL_STAGES`), a status (open/won/lost), an optional amount in an
ISO 4217 currency and an expected close date. Writes take the unit of work and the acting
principal and commit inside; reads return :class:`Deal`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import DealRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound
from inboxcrm.domain.records import (
    DEAL_STAGES,
    DealStage,
    DealStatus,
    normalize_amount,
    normalize_currency,
    search_terms,
)
from inboxcrm.services.identity import Principal
from inboxcrm.services.pagination import DEFAULT_LIMIT, Page, page_by_id
from inboxcrm.services.records import check_parent, like_pattern

logger = logging.getLogger(__name__)

__all__ = [
    "DEAL_STAGES",
    "Deal",
    "DealCreate",
    "DealPatch",
    "create_deal",
    "deals_by_stage",
    "delete_deal",
    "get_deal",
    "list_deals",
    "update_deal",
]

DealName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=3)]
Amount = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=14, decimal_places=2)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DealCreate(_Input):
    name: DealName
    stage: DealStage = "qualification"
    status: DealStatus = "open"
    amount: Amount | None = None
    currency: Currency = "USD"
    close_date: date | None = None
    account_id: RowId | None = None
    contact_id: RowId | None = None


class DealPatch(_Input):
    name: DealName | None = None
    stage: DealStage | None = None
    status: DealStatus | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    close_date: date | None = None
    account_id: RowId | None = None
    contact_id: RowId | None = None


@dataclass(frozen=True)
class Deal:
    id: int
    name: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    close_date: date | None
    account_id: int | None
    contact_id: int | None
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime


def _view(row: DealRow) -> Deal:
    return Deal(
        id=row.id,
        name=row.name,
        stage=row.stage,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        close_date=row.close_date,
        account_id=row.account_id,
        contact_id=row.contact_id,
        owner_user_id=row.owner_user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _live_deal(session: Session, deal_id: int) -> DealRow:
    row = session.get(DealRow, deal_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no deal with id {deal_id}")
    return row


def _check_parents(session: Session, account_id: int | None, contact_id: int | None) -> None:
    if account_id is None and contact_id is None:
        raise InvalidInput("a deal needs an account_id or a contact_id", field="account_id")
    check_parent(session, "account", account_id)
    check_parent(session, "contact", contact_id)


def _commit(uow: UnitOfWork, what: str) -> None:
    try:
        uow.commit()
    except IntegrityError:
        uow.rollback()
        raise Conflict(f"{what} conflicts with a concurrent change; try again") from None


def list_deals(
    uow: UnitOfWork,
    *,
    q: str | None = None,
    account_id: int | None = None,
    contact_id: int | None = None,
    status: str | None = None,
    stage: str | None = None,
    owner_user_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Deal]:
    """Deals by id; ``q`` searches deal names; the rest are exact filters."""
    conditions: list[ColumnElement[bool]] = [DealRow.deleted_at.is_(None)]
    conditions += [DealRow.name.ilike(like_pattern(term), escape="\\") for term in search_terms(q)]
    for column, value in (
        (DealRow.account_id, account_id),
        (DealRow.contact_id, contact_id),
        (DealRow.status, status),
        (DealRow.stage, stage),
        (DealRow.owner_user_id, owner_user_id),
    ):
        if value is not None:
            conditions.append(column == value)
    rows, next_cursor = page_by_id(
        uow.session,
        select(DealRow).where(*conditions),
        DealRow.id,
        "deals",
        cursor=cursor,
        limit=limit,
    )
    return Page([_view(r) for r in rows], next_cursor)


def get_deal(uow: UnitOfWork, deal_id: int) -> Deal:
    return _view(_live_deal(uow.session, deal_id))


def create_deal(uow: UnitOfWork, principal: Principal, data: DealCreate) -> Deal:
    _check_parents(uow.session, data.account_id, data.contact_id)
    values = data.model_dump()
    values["currency"] = normalize_currency(data.currency)
    values["amount"] = normalize_amount(data.amount) if data.amount is not None else None
    row = DealRow(**values, owner_user_id=principal.user_id)
    uow.session.add(row)
    _commit(uow, "the deal")
    logger.info("deal %s created by user %s", row.id, principal.user_id)
    return _view(row)


def update_deal(uow: UnitOfWork, principal: Principal, deal_id: int, patch: DealPatch) -> Deal:
    row = _live_deal(uow.session, deal_id)
    changed = patch.model_fields_set
    for name in ("name", "stage", "status", "currency"):
        if name in changed and getattr(patch, name) is None:
            raise InvalidInput(f"{name} cannot be null", field=name)
    if {"account_id", "contact_id"} & changed:
        account_id = patch.account_id if "account_id" in changed else row.account_id
        contact_id = patch.contact_id if "contact_id" in changed else row.contact_id
        _check_parents(uow.session, account_id, contact_id)
    for name in changed:
        value = getattr(patch, name)
        if name == "currency" and value is not None:
            value = normalize_currency(value)
        elif name == "amount" and value is not None:
            value = normalize_amount(value)
        setattr(row, name, value)
    row.updated_at = utcnow()
    _commit(uow, f"deal {deal_id}")
    logger.info("deal %s updated by user %s", deal_id, principal.user_id)
    return _view(row)


def delete_deal(uow: UnitOfWork, principal: Principal, deal_id: int) -> None:
    row = _live_deal(uow.session, deal_id)
    row.deleted_at = utcnow()
    _commit(uow, f"deal {deal_id}")
    logger.info("deal %s deleted by user %s", deal_id, principal.user_id)


def deals_by_stage(deals: Sequence[Deal]) -> dict[str, list[Deal]]:
    """Deals grouped into pipeline columns, in board order (for a pipeline board)."""
    columns: dict[str, list[Deal]] = {stage: [] for stage in DEAL_STAGES}
    for deal in deals:
        columns.setdefault(deal.stage, []).append(deal)
    return columns
