"""``POST /api/v1/mail-accounts/{id}/authorize-missing``: grant the permissions a partial consent
left out (incremental authorization; the answer's ``authorization_url`` goes to the browser and
Google's callback completes it as for a first connect)."""

from __future__ import annotations

from fastapi import APIRouter

from inboxcrm.services import gmail_grants
from inboxcrm.web.api.mail_accounts import AuthorizationOut
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import RuntimeDep, WriterPrincipal

__all__ = ["router"]

router = APIRouter(prefix="/mail-accounts", tags=["mail accounts"])


@router.post("/{id}/authorize-missing", response_model=AuthorizationOut)
def authorize_missing_scopes(
    principal: WriterPrincipal, runtime: RuntimeDep, account_id: ResourceId
) -> AuthorizationOut:
    """Consent URL for the scopes the account lacks (409 when it has them all)."""
    url = gmail_grants.start_missing_scopes_authorization(runtime, principal, account_id)
    return AuthorizationOut(authorization_url=url)
