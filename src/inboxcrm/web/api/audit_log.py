"""``GET /api/v1/audit-log``: the tenant's audit entries, newest first (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import audit
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, IdFilter, Limit
from inboxcrm.web.deps import AdminPrincipal, TenantUow

router = APIRouter(prefix="/audit-log", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    occurred_at: datetime
    action: str
    actor_user_id: int | None
    actor_kind: str
    target: str | None
    outcome: str
    ip: str | None
    details: dict[str, Any]


ActionFilter = Annotated[
    str | None,
    Query(max_length=60, description="An action (`record.delete`), or an area (`record.*`)"),
]
When = Annotated[datetime | None, Query(description="ISO 8601 time with a zone")]


@router.get("", response_model=PageOut[AuditEntryOut])
def list_audit_log(
    _principal: AdminPrincipal,
    uow: TenantUow,
    actor: IdFilter = None,
    action: ActionFilter = None,
    from_: Annotated[When, Query(alias="from")] = None,
    to: When = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[AuditEntryOut]:
    page = audit.list_events(
        uow,
        actor_user_id=actor,
        action=action,
        since=from_,
        until=to,
        cursor=cursor,
        limit=limit,
    )
    return page_out(AuditEntryOut, page)
