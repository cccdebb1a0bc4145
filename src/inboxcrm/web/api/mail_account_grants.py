"""Incremental authorization routes of a mailbox (the answer's ``authorization_url`` goes to the
browser and Google's callback ``/oauth/google/callback`` completes it as for a first connect):

- ``POST /api/v1/mail-accounts/{id}/authorize-missing``: grant the Gmail permissions a partial
  consent left out.
- ``POST /api/v1/mail-accounts/{id}/authorize-scopes`` with ``{"features": ["contacts" |
  "calendar", ...]}``: opt in to optional Google features the tenant's admins enabled (see
  :mod:`inboxcrm.services.google_features`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.services import gmail_grants, google_features
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


class FeaturesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: list[Literal["contacts", "calendar"]] = Field(min_length=1, max_length=2)


@router.post("/{id}/authorize-scopes", response_model=AuthorizationOut)
def authorize_feature_scopes(
    body: FeaturesIn, principal: WriterPrincipal, runtime: RuntimeDep, account_id: ResourceId
) -> AuthorizationOut:
    """Consent URL for the scopes of optional Google features (contacts.readonly,
    calendar.events), asked with ``include_granted_scopes=true``. 409 when an admin has not
    enabled a feature (``google_feature_disabled``) or the mailbox granted them all already."""
    url = google_features.start_feature_authorization(runtime, principal, account_id, body.features)
    return AuthorizationOut(authorization_url=url)
