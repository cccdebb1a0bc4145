"""Optional Google features beyond Gmail (Contacts, Calendar): who may ask for their scopes.

A feature's scope is never part of the first connect (that asks for exactly the five Gmail
scopes, SPEC 3.1). It is asked for only when

1. a tenant admin enabled the feature (``PATCH /api/v1/mail-settings`` with
   ``google_contacts_enabled`` / ``google_calendar_enabled``), and
2. the mailbox's owner opts in: :func:`start_feature_authorization`
   (``POST /api/v1/mail-accounts/{id}/authorize-scopes`` or Setup → Email's button) returns a
   consent URL asking for the feature scopes only, with ``include_granted_scopes=true``.

Google's answer then carries every scope granted so far; the usual OAuth callback
(:func:`inboxcrm.services.mail_connect.complete_gmail_authorization`, bound to the starter's
browser session) stores them in the account's ``scopes`` and writes a ``grant`` entry to the
consent log. :func:`require_feature` is the check every feature's use case makes before it
calls Google.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, TenantSettingsRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.services.identity import Principal

__all__ = [
    "FEATURE_LABELS",
    "FeatureDisabled",
    "FeatureNotGranted",
    "enabled_features",
    "require_feature",
    "start_feature_authorization",
]

logger = logging.getLogger(__name__)

FEATURE_LABELS = {"contacts": "Google Contacts", "calendar": "Google Calendar"}
_SETTING = {"contacts": "google_contacts_enabled", "calendar": "google_calendar_enabled"}


class FeatureDisabled(Conflict):
    """The tenant's admins have not enabled this Google feature."""

    code = "google_feature_disabled"


class FeatureNotGranted(Conflict):
    """The mailbox's owner has not granted the feature's scope (yet)."""

    code = "google_feature_not_granted"


def enabled_features(uow: UnitOfWork) -> dict[str, bool]:
    """Feature → whether the tenant's admins enabled it."""
    row = uow.session.get(TenantSettingsRow, 1)
    return {name: bool(row is not None and getattr(row, attr)) for name, attr in _SETTING.items()}


def require_feature(uow: UnitOfWork, row: MailAccountRow, feature: str) -> None:
    """Raise unless the tenant enabled ``feature`` and the account's grant allows it."""
    label = FEATURE_LABELS[feature]
    if not enabled_features(uow)[feature]:
        raise FeatureDisabled(
            f"{label} is not enabled for this organisation; an admin can enable it under "
            "Setup → Email"
        )
    if not gmail_scopes.google_features_of(row.scopes or ())[feature]:
        raise FeatureNotGranted(
            f"{row.email} has not given inboxcrm access to {label}; allow it under "
            "Setup → Email first"
        )


def start_feature_authorization(
    runtime: Runtime, principal: Principal, account_id: int, features: Sequence[str]
) -> str:
    """The consent URL asking for the scopes of ``features`` for the caller's own mailbox.

    Raises InvalidInput (no or unknown features), NotFound (not the caller's mailbox),
    Conflict (disconnected), FeatureDisabled (an admin did not enable one of them),
    Conflict when every asked-for feature is granted already.
    """
    from inboxcrm.services.mail_connect import start_gmail_authorization

    wanted = list(dict.fromkeys(features))
    unknown = [f for f in wanted if f not in gmail_scopes.GOOGLE_FEATURES]
    if not wanted or unknown:
        raise InvalidInput(
            f"features must be some of {sorted(gmail_scopes.GOOGLE_FEATURES)}", field="features"
        )
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"no mail account {account_id}")
        if row.status == "disconnected":
            raise Conflict(f"mail account {account_id} is disconnected; connect it again")
        enabled = enabled_features(uow)
        for feature in wanted:
            if not enabled[feature]:
                raise FeatureDisabled(
                    f"{FEATURE_LABELS[feature]} is not enabled for this organisation; an admin "
                    "can enable it under Setup → Email"
                )
        granted = gmail_scopes.google_features_of(row.scopes or ())
    if all(granted[f] for f in wanted):
        raise Conflict("this mailbox has already granted access to " + ", ".join(wanted))
    requested = [gmail_scopes.GOOGLE_FEATURES[f][1] for f in wanted if not granted[f]]
    logger.info(
        "user %s asks for Google features %s for mail account %s in tenant %s",
        principal.user_id,
        wanted,
        account_id,
        principal.tenant_slug,
    )
    return start_gmail_authorization(
        runtime, principal, requested=requested, include_granted_scopes=True
    )
