"""What a Gmail grant allows, asking for what is missing, and reacting when Google takes it away.

- :func:`start_missing_scopes_authorization`: Setup → Email's "Grant missing permissions":
  incremental authorization for the scopes the account lacks (``include_granted_scopes``), so
  Google's answer carries every scope granted so far; the usual OAuth callback stores them.
- :func:`record_degraded_features`: a run found a permission gone (403 insufficientPermissions,
  e.g. no more gmail.modify): the feature's scope is dropped from the account's scopes, a
  notice shows on the account, the owner is notified once. The sync itself carries on.
- :func:`likely_revocation_cause`: Google answers ``invalid_grant`` for every way a refresh
  token dies; the account's facts name the likely one (Testing-mode 7-day tokens, six months
  unused, password change or revocation, the 100-tokens-per-client limit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import Conflict, NotFound
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.services.identity import Principal
from inboxcrm.services.notifications import notify

__all__ = [
    "DEGRADED_TEXT",
    "likely_revocation_cause",
    "record_degraded_features",
    "start_missing_scopes_authorization",
]

logger = logging.getLogger(__name__)

DEGRADED_TEXT = {
    "labels": (
        "Google no longer lets inboxcrm change labels in this mailbox (the gmail.modify "
        'permission is missing), so synced mail is not labelled "Synced to inboxcrm". '
        "Syncing continues. Grant the missing permission under Setup → Email to resume labelling."
    ),
    "send": (
        "Google no longer lets inboxcrm send from this mailbox (the gmail.send permission is "
        "missing). Grant the missing permission under Setup → Email to send again."
    ),
}

TESTING_MODE_LIFETIME = timedelta(days=7)
UNUSED_LIFETIME = timedelta(days=182)


def missing_scopes_of(runtime: Runtime, principal: Principal, account_id: int) -> list[str]:
    """The scopes inboxcrm asks for that the caller's mailbox ``account_id`` was not granted."""
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"no mail account {account_id}")
        return list(gmail_scopes.missing_scopes(row.scopes or ()))


def start_missing_scopes_authorization(
    runtime: Runtime, principal: Principal, account_id: int
) -> str:
    """The consent URL asking only for the scopes the account lacks (plus sign-in)."""
    from inboxcrm.services.mail_connect import start_gmail_authorization

    with runtime.tenant_uow(principal.tenant_slug) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"no mail account {account_id}")
        if row.status == "disconnected":
            raise Conflict(f"mail account {account_id} is disconnected; connect it again")
        missing = gmail_scopes.missing_scopes(row.scopes or ())
    if not missing:
        raise Conflict("this mailbox already has every permission inboxcrm asks for")
    return start_gmail_authorization(
        runtime, principal, requested=missing, include_granted_scopes=True
    )


def record_degraded_features(
    runtime: Runtime, tenant: str, account_id: int, degraded: Sequence[str]
) -> None:
    """Drop the scopes behind ``degraded`` features, note it on the account, notify once."""
    if not degraded:
        return
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None:
            return
        notices = dict(row.notices or {})
        granted = gmail_scopes.canonical_scopes(row.scopes or ())
        fresh = [f for f in degraded if f not in notices]
        for feature in degraded:
            allowed, _ = gmail_scopes.FEATURES[feature]
            granted -= allowed
            notices[feature] = DEGRADED_TEXT.get(feature, f"{feature} stopped: missing permission")
        row.scopes = [s for s in row.scopes or () if s in granted]
        row.notices = notices
        for feature in fresh:
            notify(
                uow,
                row.user_id,
                "mail_account_degraded",
                f"{row.email}: a permission is missing",
                notices[feature],
            )
        uow.commit()
    logger.warning("mail account %s in tenant %s degraded: %s", account_id, tenant, degraded)


def likely_revocation_cause(
    *,
    issued_at: datetime | None,
    last_used_at: datetime | None,
    now: datetime | None = None,
    connects: int = 0,
) -> str:
    """A sentence naming the likely reason Google refused the refresh token (``invalid_grant``)."""
    moment = now or utcnow()
    if last_used_at is not None and moment - last_used_at >= UNUSED_LIFETIME:
        return (
            "the access was unused for six months, and Google expires such tokens; "
            "connect the mailbox again"
        )
    if issued_at is not None:
        age = moment - issued_at
        if TESTING_MODE_LIFETIME <= age < TESTING_MODE_LIFETIME + timedelta(days=1):
            return (
                "it ended 7 days after it was granted, as Google does for apps whose OAuth "
                "consent screen is in Testing mode; the Google Cloud admin should publish the "
                "app (In production), then connect again"
            )
    if connects >= 50:
        return (
            "this Google account has been connected many times; Google keeps at most 100 "
            "refresh tokens per account and app and silently ends the oldest"
        )
    return (
        "the access was revoked at Google (Security → Third-party access), the Google "
        "account's password was changed (which ends access to Gmail), or more than 100 newer "
        "refresh tokens were issued for this account and app (Google then ends the oldest); "
        "connect it again"
    )
