"""``/api/v1/exports``: data exports of a record or the whole tenant (admins; services.export).

POST /exports                 202, the pending export (built in the background)
GET  /exports                 the tenant's exports, newest first
GET  /exports/{id}            one export and its status
GET  /exports/{id}/download   the zip (export.json + mail.mbox), for its requester only
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.services import export
from inboxcrm.web.api.params import MAX_ID, ResourceId
from inboxcrm.web.deps import AdminPrincipal, TenantUow

router = APIRouter(prefix="/exports", tags=["privacy"])


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["contact", "lead", "account"]
    id: int = Field(ge=1, le=MAX_ID)


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: RecordIn | None = None


class ExportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    record: str | None
    requested_by_user_id: int
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    size: int
    counts: dict[str, Any]
    error: str | None


class ExportList(BaseModel):
    items: list[ExportOut]
    next_cursor: str | None = None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("", response_model=ExportOut, status_code=202)
def create_export(
    body: ExportIn, principal: AdminPrincipal, uow: TenantUow, request: Request
) -> ExportOut:
    record = (body.record.type, body.record.id) if body.record else None
    view = export.request_export(uow, principal, record, ip=client_ip(request))
    return ExportOut.model_validate(view)


@router.get("", response_model=ExportList)
def list_exports(principal: AdminPrincipal, uow: TenantUow) -> ExportList:
    items = [ExportOut.model_validate(v) for v in export.list_exports(uow, principal)]
    return ExportList(items=items)


@router.get("/{id}", response_model=ExportOut)
def get_export(principal: AdminPrincipal, uow: TenantUow, export_id: ResourceId) -> ExportOut:
    return ExportOut.model_validate(export.get_export(uow, principal, export_id))


@router.get("/{id}/download", response_class=FileResponse)
def download_export(
    principal: AdminPrincipal, uow: TenantUow, export_id: ResourceId, request: Request
) -> FileResponse:
    path = export.download_export(uow, principal, export_id, ip=client_ip(request))
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"inboxcrm-export-{uow.tenant}-{export_id}.zip",
        headers={"Cache-Control": "no-store"},
    )
