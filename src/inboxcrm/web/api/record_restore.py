"""``POST /api/v1/{contacts|leads|accounts}/{id}/restore``: undo a deletion within the grace period.

Admins only; 404 when the record is not deleted, already purged, or past the grace period.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from inboxcrm.services import records
from inboxcrm.web.api.accounts import AccountOut
from inboxcrm.web.api.contacts import ContactOut
from inboxcrm.web.api.leads import LeadOut
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, RuntimeDep, TenantUow

router = APIRouter(tags=["retention"])


def _restore(
    runtime: RuntimeDep, principal: AdminPrincipal, uow: TenantUow, kind: str, record_id: int
) -> records.Lead | records.Contact | records.Account:
    grace = runtime.settings.record_deletion_grace_days
    return records.restore_record(uow, principal, kind, record_id, grace_days=grace)


@router.post("/contacts/{id}/restore", response_model=ContactOut)
def restore_contact(
    runtime: RuntimeDep, principal: AdminPrincipal, uow: TenantUow, item_id: ResourceId
) -> BaseModel:
    return ContactOut.model_validate(_restore(runtime, principal, uow, "contact", item_id))


@router.post("/leads/{id}/restore", response_model=LeadOut)
def restore_lead(
    runtime: RuntimeDep, principal: AdminPrincipal, uow: TenantUow, item_id: ResourceId
) -> BaseModel:
    return LeadOut.model_validate(_restore(runtime, principal, uow, "lead", item_id))


@router.post("/accounts/{id}/restore", response_model=AccountOut)
def restore_account(
    runtime: RuntimeDep, principal: AdminPrincipal, uow: TenantUow, item_id: ResourceId
) -> BaseModel:
    return AccountOut.model_validate(_restore(runtime, principal, uow, "account", item_id))
