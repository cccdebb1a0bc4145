"""``/api/v1/erasure-requests``: delete a person's data on request (admins; services.erasure).

POST /erasure-requests   201, what was deleted: {"address": ...} or {"record": {type, id}}
GET  /erasure-requests   the tenant's requests, newest first
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from inboxcrm.services import erasure
from inboxcrm.web.api.exports import RecordIn, client_ip
from inboxcrm.web.deps import AdminPrincipal, RuntimeDep

router = APIRouter(prefix="/erasure-requests", tags=["privacy"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(default=None, min_length=3, max_length=320)
    record: RecordIn | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ErasureIn:
        if (self.address is None) == (self.record is None):
            raise ValueError("give either an address or a record")
        return self


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subject: str
    status: str
    deleted: dict[str, int]
    never_log_added: int
    created_at: datetime


class ErasureList(BaseModel):
    items: list[ErasureOut]
    next_cursor: str | None = None


@router.post("", response_model=ErasureOut, status_code=201)
def create_erasure_request(
    body: ErasureIn, principal: AdminPrincipal, runtime: RuntimeDep, request: Request
) -> ErasureOut:
    record = (body.record.type, body.record.id) if body.record else None
    result = erasure.erase(
        runtime, principal, address=body.address, record=record, ip=client_ip(request)
    )
    return ErasureOut.model_validate(result)


@router.get("", response_model=ErasureList)
def list_erasure_requests(principal: AdminPrincipal, runtime: RuntimeDep) -> ErasureList:
    items = erasure.list_erasure_requests(runtime, principal)
    return ErasureList(items=[ErasureOut.model_validate(i) for i in items])
