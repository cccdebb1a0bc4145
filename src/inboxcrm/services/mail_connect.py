"""Connect Gmail (OAuth 2.0 authorization code + PKCE): the two write paths of connecting.

1. :func:`start_gmail_authorization` (``POST /api/v1/mail-accounts/gmail/authorize`` or the
   "Connect Gmail" button) → the consent URL. A one-time state row in the control plane
   remembers tenant, user, how the flow was started and the Fernet-encrypted PKCE verifier for
   10 minutes; only the SHA-256 of ``state`` is stored.
2. Google sends the user's browser to ``/oauth/google/callback``;
   :func:`complete_gmail_authorization` checks the state (unknown, used or expired states are
   refused), then **binds the flow to the browser**: the callback completes only in a login
   session of the very user who started it, however the flow was started. API clients get
   the URL, but the user finishes it signed in to inboxcrm. A consent link forwarded to
   someone else therefore fails with a clear page and never connects the other person's
   mailbox into the starter's tenant. A browser signed in as another user voids the state; a
   browser with no session keeps it, so the right user can sign in and open the link again.
3. The code is exchanged (PKCE verifier, exact scopes), the tokens are stored Fernet-encrypted
   in the tenant's ``mail_accounts``, a consent-log entry written, the mailbox route put (see
   :mod:`inboxcrm.services.mailbox_routes`) and the first full sync queued after commit.
   An incremental authorization of a connected mailbox (missing Gmail permissions, or an
   optional Google feature, see :mod:`inboxcrm.services.google_features`) is logged as a
   ``grant`` of the scopes it added; one that added only optional feature scopes queues no
   full sync.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError

from inboxcrm.adapters.db.control_tables import MembershipRow, OAuthStateRow, TenantRow
from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.token_vault import TokenDecryptError, vault_for
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.domain.errors import (
    Conflict,
    InboxCrmError,
    ProviderAuthError,
    ProviderTransientError,
)
from inboxcrm.domain.roles import Role, can_write, require_mail_integration, require_write
from inboxcrm.providers.gmail import oauth
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.services.consent import record_consent
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_accounts import (
    GMAIL,
    SYNC_TASK,
    MailAccount,
    account_view,
    purge_account_mail,
    reset_sync_state,
)
from inboxcrm.services.mailbox_routes import put_route

__all__ = [
    "CALLBACK_PATH",
    "STATE_LIFETIME",
    "ConnectedAccount",
    "OAuthCallbackError",
    "complete_gmail_authorization",
    "redirect_uri_for",
    "start_gmail_authorization",
]

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/oauth/google/callback"
STATE_LIFETIME = timedelta(minutes=10)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- errors -------------------------------------------------------------------------------------


class OAuthCallbackError(InboxCrmError):
    """The OAuth callback cannot complete a connection (the user should start again)."""

    code = "oauth_callback_failed"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


@dataclass(frozen=True)
class ConnectedAccount:
    """What a completed OAuth callback produced."""

    tenant: str
    account: MailAccount
    created: bool


def redirect_uri_for(settings: Settings) -> str:
    """Where Google sends the browser back: ``{public_url}/oauth/google/callback``."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


# -- connect ------------------------------------------------------------------------------------


def start_gmail_authorization(
    runtime: Runtime,
    principal: Principal,
    *,
    requested: Sequence[str] | None = None,
    include_granted_scopes: bool = False,
) -> str:
    """The Google consent URL for the caller; remembers the one-time state for 10 minutes.

    The first connect asks for exactly ``oauth.SCOPES``; ``requested`` with
    ``include_granted_scopes`` asks for permissions a partial consent left out (see
    :mod:`inboxcrm.services.gmail_grants`). Needs the Mail Integration permission
    (:func:`~inboxcrm.domain.roles.has_mail_integration`).
    """
    require_write(principal.role)
    require_mail_integration(principal.mail_integration)
    settings = runtime.settings
    state = secrets.token_urlsafe(32)
    redirect_uri = redirect_uri_for(settings)
    url, code_verifier = oauth.authorization_request(
        settings,
        redirect_uri,
        state,
        requested=tuple(requested) if requested else oauth.SCOPES,
        include_granted_scopes=include_granted_scopes,
    )
    now = utcnow()
    with runtime.control_uow() as uow:
        uow.session.execute(delete(OAuthStateRow).where(OAuthStateRow.expires_at < now))
        uow.session.add(
            OAuthStateRow(
                state_hash=_sha256(state),
                provider=GMAIL,
                tenant_id=principal.tenant_id,
                user_id=principal.user_id,
                via=principal.via,
                code_verifier_enc=vault_for(settings).encrypt(code_verifier),
                redirect_uri=redirect_uri,
                created_at=now,
                expires_at=now + STATE_LIFETIME,
            )
        )
        uow.commit()
    logger.info(
        "Gmail authorization started by user %s in tenant %s",
        principal.user_id,
        principal.tenant_slug,
    )
    return url


@dataclass(frozen=True)
class _ConsumedState:
    tenant_slug: str
    user_id: int
    code_verifier: str
    redirect_uri: str


def _consume_state(
    runtime: Runtime, state: str, session_principal: Principal | None
) -> _ConsumedState:
    """Check and use up the one-time state (a second use, or a late one, is refused)."""
    if not state or len(state) > 200:
        raise OAuthCallbackError(
            "the sign-in link is not valid; start Connect Gmail again", code="oauth_state_invalid"
        )
    now = utcnow()
    with runtime.control_uow() as uow:
        row = uow.session.scalar(
            select(OAuthStateRow).where(OAuthStateRow.state_hash == _sha256(state))
        )
        if row is None:
            raise OAuthCallbackError(
                "the sign-in link is not valid; start Connect Gmail again",
                code="oauth_state_invalid",
            )
        if row.used_at is not None:
            raise OAuthCallbackError(
                "this sign-in link was already used; start Connect Gmail again",
                code="oauth_state_used",
            )
        if row.expires_at <= now:
            raise OAuthCallbackError(
                "the sign-in link expired (it is valid for 10 minutes); start Connect Gmail again",
                code="oauth_state_expired",
            )
        # The flow belongs to a browser: a login session of the user who started it, whether
        # it was started there or with an API token (which carries no browser at all).
        if session_principal is None or session_principal.via != "session":
            raise OAuthCallbackError(
                "to finish connecting Gmail, sign in to inboxcrm in this browser as the person "
                "who started Connect Gmail, then open this link again (a link someone sent "
                "you cannot connect your mailbox to their organisation)",
                code="oauth_session_required",
                status=403,
            )
        if session_principal.user_id != row.user_id or session_principal.tenant_id != row.tenant_id:
            uow.session.execute(  # a forwarded link: it must never work for anyone after this
                update(OAuthStateRow)
                .where(OAuthStateRow.id == row.id)
                .values(used_at=now, code_verifier_enc=b"")
            )
            uow.commit()
            logger.warning(
                "OAuth callback for user %s in tenant %s arrived in a session of user %s in "
                "tenant %s; refused and the link voided",
                row.user_id,
                row.tenant_id,
                session_principal.user_id,
                session_principal.tenant_id,
            )
            raise OAuthCallbackError(
                "this Connect Gmail link was started by someone else; it cannot connect a "
                "mailbox for you and no longer works. Start Connect Gmail yourself under "
                "Setup → Email",
                code="oauth_session_mismatch",
                status=403,
            )
        verifier_enc, redirect_uri, user_id = row.code_verifier_enc, row.redirect_uri, row.user_id
        used = uow.session.execute(  # one use only; the verifier is not kept after it
            update(OAuthStateRow)
            .where(OAuthStateRow.id == row.id, OAuthStateRow.used_at.is_(None))
            .values(used_at=now, code_verifier_enc=b"")
        )
        if _rowcount(used) != 1:
            raise OAuthCallbackError(
                "this sign-in link was already used; start Connect Gmail again",
                code="oauth_state_used",
            )
        member = uow.session.execute(
            select(TenantRow.slug, TenantRow.status, MembershipRow.role)
            .join(MembershipRow, MembershipRow.tenant_id == TenantRow.id)
            .where(TenantRow.id == row.tenant_id, MembershipRow.user_id == row.user_id)
        ).first()
        uow.commit()
    if member is None or member.status != "active" or not can_write(Role(member.role)):
        raise OAuthCallbackError(
            "you may no longer connect mail accounts in this organisation",
            code="oauth_not_allowed",
            status=403,
        )
    try:
        verifier = vault_for(runtime.settings).decrypt(verifier_enc)
    except TokenDecryptError as exc:
        raise OAuthCallbackError(
            "the sign-in link is not valid; start Connect Gmail again", code="oauth_state_invalid"
        ) from exc
    return _ConsumedState(
        tenant_slug=member.slug,
        user_id=user_id,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
    )


def _exchange(runtime: Runtime, consumed: _ConsumedState, code: str) -> oauth.GrantedTokens:
    try:
        return oauth.exchange_code(
            runtime.settings, consumed.redirect_uri, code, consumed.code_verifier
        )
    except oauth.ScopeMismatch as exc:
        raise OAuthCallbackError(
            "Google did not grant what inboxcrm needs at the least: reading your mail and "
            "knowing your email address; connect again and keep those boxes ticked",
            code="oauth_scope_mismatch",
        ) from exc
    except ProviderTransientError:
        raise
    except ProviderAuthError as exc:
        raise OAuthCallbackError(
            "Google did not accept the sign-in (the code may have expired); "
            "start Connect Gmail again",
            code="oauth_code_rejected",
        ) from exc


def complete_gmail_authorization(
    runtime: Runtime,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
    session_principal: Principal | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> ConnectedAccount:
    """Finish a connection from Google's callback; see the module docstring.

    ``session_principal`` is the principal of the browser's login session (``via ==
    "session"``); it must be the user who started the flow, in that tenant.

    Raises :class:`OAuthCallbackError` (no or another user's session, denied consent,
    bad/expired/used state, scope mismatch, rejected code), Conflict (the mailbox is connected
    by another user of the tenant), ProviderTransientError (Google unreachable).
    """
    consumed = _consume_state(runtime, state, session_principal)
    if error:
        if error == "access_denied":
            raise OAuthCallbackError(
                "you declined access at Google, so no mailbox was connected",
                code="oauth_access_denied",
            )
        raise OAuthCallbackError(
            "Google could not complete the sign-in; start Connect Gmail again",
            code="oauth_provider_error",
        )
    if not code:
        raise OAuthCallbackError(
            "Google's answer carried no authorization code; start Connect Gmail again",
            code="oauth_code_missing",
        )
    granted = _exchange(runtime, consumed, code)
    slug = consumed.tenant_slug
    try:
        view, created = _store_grant(runtime, consumed, granted, ip, user_agent)
    except IntegrityError:  # the same mailbox was connected concurrently: update that row
        view, created = _store_grant(runtime, consumed, granted, ip, user_agent)
    put_route(runtime, slug, GMAIL, granted.email, view.id)
    logger.info(
        "mail account %s (%s) %s for user %s in tenant %s",
        view.id,
        granted.email,
        "connected" if created else "reconnected",
        consumed.user_id,
        slug,
    )
    return ConnectedAccount(tenant=slug, account=view, created=created)


def _store_grant(
    runtime: Runtime,
    consumed: _ConsumedState,
    granted: oauth.GrantedTokens,
    ip: str | None,
    user_agent: str | None,
) -> tuple[MailAccount, bool]:
    """Create or update the account row with the new tokens; log consent; queue the sync."""
    vault = vault_for(runtime.settings)
    slug = consumed.tenant_slug
    with runtime.tenant_uow(slug) as uow:
        row = uow.session.scalar(
            select(MailAccountRow)
            .where(MailAccountRow.provider == GMAIL, MailAccountRow.email == granted.email)
            .with_for_update()
        )
        created = row is None
        before = set() if row is None else gmail_scopes.canonical_scopes(row.scopes or ())
        incremental = (
            row is not None
            and row.status == "connected"
            and row.user_id == consumed.user_id
            and row.provider_subject == granted.subject
        )
        if row is None:
            row = MailAccountRow(user_id=consumed.user_id, provider=GMAIL, email=granted.email)
            uow.session.add(row)
        elif row.user_id != consumed.user_id:
            if row.status != "disconnected":
                raise Conflict(
                    f"{granted.email} is already connected by another user of this organisation"
                )
            # Another user's disconnected mailbox: its mail is due for deletion anyway; delete
            # it now so the new owner never sees the previous owner's synced mail.
            purge_account_mail(uow, row.id)
            reset_sync_state(row)
            row.user_id = consumed.user_id
        if row.provider_subject and row.provider_subject != granted.subject:
            reset_sync_state(row)  # a different Google account now answers for this address
        refresh_enc = vault.encrypt_optional(granted.refresh_token)
        row.status = "connected"
        row.provider_subject = granted.subject
        row.access_token_enc = vault.encrypt(granted.access_token)
        if refresh_enc is not None or created:
            row.refresh_token_enc = refresh_enc
        row.token_expiry = granted.expiry
        row.scopes = list(granted.scopes)
        if refresh_enc is not None:
            row.token_issued_at = utcnow()
        # Notices about permissions this grant now has are settled.
        row.notices = {
            k: v
            for k, v in dict(row.notices or {}).items()
            if k not in gmail_scopes.features_of(granted.scopes)
            or not gmail_scopes.features_of(granted.scopes)[k]
        }
        row.last_error = None
        row.disconnected_at = None
        row.purge_after = None
        uow.session.flush()
        added = [s for s in granted.scopes if s not in before]
        grant = incremental and bool(added)
        record_consent(
            uow,
            user_id=consumed.user_id,
            actor_user_id=consumed.user_id,
            mail_account_id=row.id,
            provider=GMAIL,
            account_email=granted.email,
            action="grant" if grant else "connect",
            scopes=added if grant else granted.scopes,
            ip=ip,
            user_agent=user_agent,
        )
        optional = set().union(*(allowed for allowed, _ in gmail_scopes.GOOGLE_FEATURES.values()))
        if not grant or any(s not in optional for s in added):
            uow.enqueue(SYNC_TASK, tenant=slug, account_id=row.id, full=True)
        uow.commit()
        return account_view(row), created
