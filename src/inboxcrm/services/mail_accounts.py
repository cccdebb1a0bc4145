"""Mail accounts: connect Gmail (OAuth 2.0 + PKCE), list, sync on demand, disconnect, purge.

The write paths, each one function:

- :func:`start_gmail_authorization` → the consent URL; a one-time state row (control plane)
  remembers tenant, user and the encrypted PKCE verifier for 10 minutes.
- :func:`complete_gmail_authorization` (the OAuth callback) → tokens stored Fernet-encrypted
  in the tenant's ``mail_accounts``, a consent-log entry, the mailbox route, the first full
  sync queued.
- :func:`request_account_sync`, :func:`disconnect_mail_account` (stop watch, revoke at Google,
  tokens deleted at once, mail purged after ``settings.account_purge_days``).
- :func:`mark_account_revoked`: the sync engine calls it when Google refuses the grant; the
  account is disconnected and its owner notified exactly once.
- :func:`purge_due_accounts`, :func:`rotate_stored_tokens` (``inboxcrm keys rotate``).

:func:`open_mailbox` gives the sync engine a quota-gated :class:`MailboxClient` for an account.
Tokens are decrypted only in memory, right before use, and never logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import google.auth.transport.requests
from google.auth import exceptions as auth_exceptions
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from inboxcrm.adapters.db.control_tables import (
    MailboxRouteRow,
    MembershipRow,
    OAuthStateRow,
    TenantRow,
)
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    ConsentLogRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
    MailLedgerRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.adapters.token_vault import TokenDecryptError, TokenVault, vault_for
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import (
    Conflict,
    InboxCrmError,
    NotFound,
    ProviderAuthError,
    ProviderError,
    ProviderTransientError,
)
from inboxcrm.domain.roles import Role, can_write, is_admin, require_write
from inboxcrm.providers.base import MailboxClient
from inboxcrm.providers.gmail import oauth
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.providers.gmail.client import GmailProvider
from inboxcrm.services.consent import record_consent
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_quota import quota_gate_for
from inboxcrm.services.notifications import notify

__all__ = [
    "CALLBACK_PATH",
    "GMAIL",
    "STATE_LIFETIME",
    "SYNC_TASK",
    "ConnectedAccount",
    "MailAccount",
    "OAuthCallbackError",
    "TokenRotationReport",
    "complete_gmail_authorization",
    "disconnect_mail_account",
    "find_mailbox_route",
    "find_mailbox_routes",
    "get_mail_account",
    "list_mail_accounts",
    "mark_account_revoked",
    "open_mailbox",
    "purge_account_mail",
    "purge_due_accounts",
    "quota_gate_for",
    "request_account_sync",
    "rotate_stored_tokens",
    "start_gmail_authorization",
]

logger = logging.getLogger(__name__)

GMAIL = "gmail"
CALLBACK_PATH = "/oauth/google/callback"
STATE_LIFETIME = timedelta(minutes=10)
SYNC_TASK = "inboxcrm.mail.sync_account"
_REFRESH_MARGIN = timedelta(minutes=2)
_ERROR_MAX = 500


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


# -- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailAccount:
    """A mail account as the API and UI show it (never any token)."""

    id: int
    user_id: int
    provider: str
    email: str
    status: str
    scopes: tuple[str, ...]
    features: dict[str, bool]
    """What the granted scopes allow: ``sync``, ``send``, ``labels``."""
    missing_scopes: tuple[str, ...]
    """Requested scopes not granted (Setup → Email offers to grant them)."""
    notices: dict[str, str]
    """What Google told us that the owner should act on (push refused, a feature stopped)."""
    sync_phase: str
    sync_progress: dict[str, Any]
    messages_scanned: int
    messages_stored: int
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    last_error: str | None
    watch_expiration: datetime | None
    created_at: datetime
    disconnected_at: datetime | None
    purge_after: datetime | None


@dataclass(frozen=True)
class ConnectedAccount:
    """What a completed OAuth callback produced."""

    tenant: str
    account: MailAccount
    created: bool


@dataclass
class TokenRotationReport:
    tenants: int = 0
    accounts: int = 0
    secrets: int = 0
    pending_states: int = 0
    failures: list[str] = field(default_factory=list)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _view(row: MailAccountRow) -> MailAccount:
    progress = dict(row.sync_progress or {})
    return MailAccount(
        id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        email=row.email,
        status=row.status,
        scopes=tuple(row.scopes or ()),
        features=gmail_scopes.features_of(row.scopes or ()),
        missing_scopes=tuple(gmail_scopes.missing_scopes(row.scopes or ())),
        notices={str(k): str(v) for k, v in dict(row.notices or {}).items()},
        sync_phase=row.sync_phase,
        sync_progress=progress,
        messages_scanned=_int(progress.get("scanned", progress.get("messages_scanned"))),
        messages_stored=_int(progress.get("stored", progress.get("messages_stored"))),
        last_sync_at=row.last_sync_at,
        last_full_sync_at=row.last_full_sync_at,
        last_error=row.last_error,
        watch_expiration=row.watch_expiration,
        created_at=row.created_at,
        disconnected_at=row.disconnected_at,
        purge_after=row.purge_after,
    )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


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
    :mod:`inboxcrm.services.gmail_grants`).
    """
    require_write(principal.role)
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
        if row.via == "session" and (
            session_principal is None
            or session_principal.user_id != row.user_id
            or session_principal.tenant_id != row.tenant_id
        ):
            raise OAuthCallbackError(
                "finish connecting in the browser where you are signed in to inboxcrm",
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

    Raises :class:`OAuthCallbackError` (denied consent, bad/expired/used state, scope mismatch,
    rejected code), Conflict (the mailbox is connected by another user of the tenant),
    ProviderTransientError (Google unreachable).
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
    _put_route(runtime, slug, GMAIL, granted.email, view.id)
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
            _reset_sync_state(row)
            row.user_id = consumed.user_id
        if row.provider_subject and row.provider_subject != granted.subject:
            _reset_sync_state(row)  # a different Google account now answers for this address
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
        record_consent(
            uow,
            user_id=consumed.user_id,
            actor_user_id=consumed.user_id,
            mail_account_id=row.id,
            provider=GMAIL,
            account_email=granted.email,
            action="connect",
            scopes=granted.scopes,
            ip=ip,
            user_agent=user_agent,
        )
        uow.enqueue(SYNC_TASK, tenant=slug, account_id=row.id, full=True)
        uow.commit()
        return _view(row), created


def _reset_sync_state(row: MailAccountRow) -> None:
    row.history_id = None
    row.watch_expiration = None
    row.last_full_sync_at = None
    row.last_sync_at = None
    row.sync_phase = "idle"
    row.sync_progress = {}
    row.last_error = None


# -- mailbox routes (control plane) -------------------------------------------------------------


def _tenant_id(uow: UnitOfWork, slug: str) -> int:
    tenant_id = uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == slug))
    if tenant_id is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant_id


def _put_route(runtime: Runtime, slug: str, provider: str, email: str, account_id: int) -> None:
    with runtime.control_uow() as uow:
        tenant_id = _tenant_id(uow, slug)
        route = uow.session.scalar(
            select(MailboxRouteRow).where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == email,
                MailboxRouteRow.tenant_id == tenant_id,
            )
        )
        if route is None:
            uow.session.add(
                MailboxRouteRow(
                    provider=provider, email=email, tenant_id=tenant_id, account_id=account_id
                )
            )
        else:
            route.account_id = account_id
        uow.commit()


def _drop_route(runtime: Runtime, slug: str, provider: str, email: str) -> None:
    with runtime.control_uow() as uow:
        tenant_id = _tenant_id(uow, slug)
        uow.session.execute(
            delete(MailboxRouteRow).where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == email,
                MailboxRouteRow.tenant_id == tenant_id,
            )
        )
        uow.commit()


def find_mailbox_routes(
    runtime: Runtime, email: str, provider: str = GMAIL
) -> list[tuple[str, int]]:
    """Every (tenant slug, account id) with ``email`` connected, most recent connection first."""
    canonical = try_normalize_email(email)
    if canonical is None:
        return []
    with runtime.control_uow() as uow:
        rows = uow.session.execute(
            select(TenantRow.slug, MailboxRouteRow.account_id)
            .join(TenantRow, TenantRow.id == MailboxRouteRow.tenant_id)
            .where(
                MailboxRouteRow.provider == provider,
                MailboxRouteRow.email == canonical,
                TenantRow.status == "active",
            )
            .order_by(MailboxRouteRow.id.desc())
        ).all()
    return [(slug, account_id) for slug, account_id in rows]


def find_mailbox_route(runtime: Runtime, email: str) -> tuple[str, int] | None:
    """The (tenant slug, account id) a push notification for Gmail ``email`` belongs to."""
    routes = find_mailbox_routes(runtime, email)
    return routes[0] if routes else None


# -- reading and syncing ------------------------------------------------------------------------


def _load_for(
    uow: UnitOfWork, principal: Principal, account_id: int, *, lock: bool = False
) -> MailAccountRow:
    """The account if the caller owns it (or is an admin); NotFound otherwise."""
    query = select(MailAccountRow).where(MailAccountRow.id == account_id)
    if lock:
        query = query.with_for_update()
    row = uow.session.scalar(query)
    if row is None or (row.user_id != principal.user_id and not is_admin(principal.role)):
        raise NotFound(f"no mail account {account_id}")
    return row


def list_mail_accounts(uow: UnitOfWork, principal: Principal) -> list[MailAccount]:
    """The caller's own mail accounts; a tenant admin sees every account of the tenant."""
    query = select(MailAccountRow).order_by(MailAccountRow.id)
    if not is_admin(principal.role):
        query = query.where(MailAccountRow.user_id == principal.user_id)
    return [_view(row) for row in uow.session.scalars(query)]


def get_mail_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccount:
    return _view(_load_for(uow, principal, account_id))


def request_account_sync(
    uow: UnitOfWork, principal: Principal, account_id: int, *, full: bool = False
) -> MailAccount:
    """Queue a sync of the account (incremental, or ``full``); Conflict when disconnected."""
    require_write(principal.role)
    row = _load_for(uow, principal, account_id)
    if row.status == "disconnected":
        raise Conflict(f"mail account {account_id} is disconnected; connect it again first")
    uow.enqueue(SYNC_TASK, tenant=uow.tenant, account_id=row.id, full=full)
    uow.commit()
    logger.info("sync (full=%s) of mail account %s queued in tenant %s", full, row.id, uow.tenant)
    return _view(row)


# -- opening a mailbox --------------------------------------------------------------------------


def _refresh(credentials: Any) -> None:
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except auth_exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):
            raise ProviderTransientError("token refresh failed; will retry") from None
        raise ProviderAuthError("Google refused to refresh the access token (revoked)") from None
    except (auth_exceptions.TransportError, OSError) as exc:
        raise ProviderTransientError(f"token refresh failed: {type(exc).__name__}") from None


def open_mailbox(runtime: Runtime, tenant: str, account_id: int) -> MailboxClient:
    """A quota-gated client for a connected account (see the module docstring).

    Refreshes an expired access token first (and stores the new one). Raises NotFound,
    ProviderAuthError (disconnected, or the grant was revoked), ProviderTransientError, or
    ProviderError when the stored tokens cannot be decrypted with the configured keys.
    """
    settings = runtime.settings
    vault = vault_for(settings)
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None:
            raise NotFound(f"no mail account {account_id} in tenant {tenant}")
        if row.status == "disconnected" or (
            row.refresh_token_enc is None and not row.access_token_enc
        ):
            raise ProviderAuthError(f"mail account {account_id} is not connected")
        try:
            access_token = vault.decrypt_optional(row.access_token_enc)
            refresh_token = vault.decrypt_optional(row.refresh_token_enc)
        except TokenDecryptError as exc:
            raise ProviderError(
                f"the tokens of mail account {account_id} cannot be decrypted; "
                "check INBOXCRM_FERNET_KEYS"
            ) from exc
        email, provider, scopes, expiry = row.email, row.provider, row.scopes, row.token_expiry
    if provider != GMAIL:
        raise ProviderError(f"mail account {account_id} uses provider {provider!r}")
    credentials = oauth.credentials_from_tokens(
        settings,
        access_token=access_token,
        refresh_token=refresh_token,
        expiry=expiry,
        scopes=scopes or oauth.SCOPES,
    )
    stale = access_token is None or expiry is None or expiry <= utcnow() + _REFRESH_MARGIN
    if stale and refresh_token:
        _refresh(credentials)
        _store_refreshed(runtime, tenant, account_id, vault, credentials)
    quota = quota_gate_for(settings, provider, email)
    return GmailProvider(settings.google_api_base).open_mailbox(credentials, quota=quota)


def _store_refreshed(
    runtime: Runtime, tenant: str, account_id: int, vault: TokenVault, credentials: Any
) -> None:
    token = getattr(credentials, "token", None)
    if not token:
        return
    expiry = getattr(credentials, "expiry", None)
    aware = expiry.replace(tzinfo=UTC) if isinstance(expiry, datetime) else None
    with runtime.tenant_uow(tenant) as uow:
        uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == account_id, MailAccountRow.status != "disconnected")
            .values(access_token_enc=vault.encrypt(str(token)), token_expiry=aware)
        )
        uow.commit()
    logger.debug("access token of mail account %s refreshed in tenant %s", account_id, tenant)


# -- disconnecting ------------------------------------------------------------------------------


def _clear_connection(row: MailAccountRow, now: datetime, purge_days: int) -> None:
    row.status = "disconnected"
    row.access_token_enc = None
    row.refresh_token_enc = None
    row.token_expiry = None
    row.watch_expiration = None
    row.disconnected_at = now
    row.purge_after = now + timedelta(days=purge_days)


def disconnect_mail_account(
    runtime: Runtime,
    principal: Principal,
    account_id: int,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> MailAccount:
    """Disconnect: tokens deleted at once, watch stopped, grant revoked at Google (best effort),
    mailbox route removed, mail scheduled for deletion after ``settings.account_purge_days``.
    Disconnecting an already disconnected account changes nothing.
    """
    require_write(principal.role)
    settings = runtime.settings
    slug = principal.tenant_slug
    with runtime.tenant_uow(slug) as uow:
        row = _load_for(uow, principal, account_id, lock=True)
        if row.status == "disconnected" and row.refresh_token_enc is None:
            return _view(row)
        try:
            access_token = vault_for(settings).decrypt_optional(row.access_token_enc)
            refresh_token = vault_for(settings).decrypt_optional(row.refresh_token_enc)
        except TokenDecryptError:
            logger.warning("tokens of mail account %s cannot be decrypted; not revoked", row.id)
            access_token = refresh_token = None
        had_watch = row.watch_expiration is not None
        expiry, scopes = row.token_expiry, list(row.scopes or oauth.SCOPES)
        _clear_connection(row, utcnow(), settings.account_purge_days)
        record_consent(
            uow,
            user_id=row.user_id,
            actor_user_id=principal.user_id,
            mail_account_id=row.id,
            provider=row.provider,
            account_email=row.email,
            action="disconnect",
            scopes=scopes,
            ip=ip,
            user_agent=user_agent,
        )
        uow.commit()
        view = _view(row)
    _drop_route(runtime, slug, view.provider, view.email)
    if had_watch and (access_token or refresh_token):
        _stop_watch_quietly(runtime, access_token, refresh_token, expiry, scopes, view)
    if refresh_token or access_token:
        _revoke_quietly(settings, refresh_token or access_token or "", view)
    logger.info(
        "mail account %s disconnected by user %s in tenant %s", view.id, principal.user_id, slug
    )
    return view


def _stop_watch_quietly(
    runtime: Runtime,
    access_token: str | None,
    refresh_token: str | None,
    expiry: datetime | None,
    scopes: Sequence[str],
    account: MailAccount,
) -> None:
    settings = runtime.settings
    try:
        credentials = oauth.credentials_from_tokens(
            settings,
            access_token=access_token,
            refresh_token=refresh_token,
            expiry=expiry,
            scopes=scopes,
        )
        client = GmailProvider(settings.google_api_base).open_mailbox(
            credentials, quota=quota_gate_for(settings, account.provider, account.email)
        )
        client.stop_watch()
    except Exception as exc:  # best effort: the revocation below ends the watch's use anyway
        logger.warning(
            "could not stop the push watch of mail account %s: %s", account.id, type(exc).__name__
        )


def _revoke_quietly(settings: Settings, token: str, account: MailAccount) -> None:
    try:
        revoked = oauth.revoke_token(settings, token)
    except Exception as exc:  # best effort: the tokens are already deleted here
        logger.warning(
            "could not revoke the grant of mail account %s at Google: %s",
            account.id,
            type(exc).__name__,
        )
        return
    if not revoked:
        logger.info("grant of mail account %s was already invalid at Google", account.id)


def mark_account_revoked(runtime: Runtime, tenant: str, account_id: int, reason: str) -> bool:
    """The provider refused the account's grant: disconnect it and notify its owner.

    Only the first call for a connected account does anything (returns True); later or
    concurrent calls, and calls for accounts the user disconnected, return False, so the owner
    gets exactly one notification and no retries follow (the account is no longer synced).
    """
    settings = runtime.settings
    now = utcnow()
    with runtime.tenant_uow(tenant) as uow:
        cause = _revocation_cause(uow, account_id, now)
        if cause:
            reason = f"{reason}. Likely cause: {cause}"
        changed = uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == account_id, MailAccountRow.status != "disconnected")
            .values(
                status="disconnected",
                access_token_enc=None,
                refresh_token_enc=None,
                token_expiry=None,
                watch_expiration=None,
                disconnected_at=now,
                purge_after=now + timedelta(days=settings.account_purge_days),
                last_error=reason[:_ERROR_MAX],
            )
        )
        if _rowcount(changed) != 1:
            return False
        row = uow.session.get(MailAccountRow, account_id, populate_existing=True)
        if row is None:  # pragma: no cover - the update above just matched it
            return False
        record_consent(
            uow,
            user_id=row.user_id,
            actor_user_id=None,
            mail_account_id=row.id,
            provider=row.provider,
            account_email=row.email,
            action="revoked",
            scopes=row.scopes or (),
        )
        notify(
            uow,
            row.user_id,
            "mail_account_revoked",
            f"{row.email} was disconnected",
            "Google no longer accepts inboxcrm's access to this mailbox (the access was revoked "
            "or has expired), so syncing stopped. "
            + (f"Likely cause: {cause}. " if cause else "")
            + "Connect it again under Setup → Email to resume; "
            f"otherwise its synced mail will be deleted after {settings.account_purge_days} days.",
        )
        uow.commit()
        provider, email = row.provider, row.email
    _drop_route(runtime, tenant, provider, email)
    logger.warning(
        "mail account %s in tenant %s disconnected: the provider refused its grant",
        account_id,
        tenant,
    )
    return True


def _revocation_cause(uow: UnitOfWork, account_id: int, now: datetime) -> str:
    """The likely reason Google ended the account's refresh token (see gmail_grants)."""
    from inboxcrm.services.gmail_grants import likely_revocation_cause

    row = uow.session.get(MailAccountRow, account_id)
    if row is None or row.status == "disconnected":
        return ""
    used = [t for t in (row.last_sync_at, row.token_expiry) if t is not None]
    connects = uow.session.scalar(
        select(func.count())
        .select_from(ConsentLogRow)
        .where(ConsentLogRow.account_email == row.email, ConsentLogRow.action == "connect")
    )
    return likely_revocation_cause(
        issued_at=row.token_issued_at,
        last_used_at=max(used) - timedelta(hours=1) if used else None,
        now=now,
        connects=int(connects or 0),
    )


# -- purge --------------------------------------------------------------------------------------


def purge_account_mail(uow: UnitOfWork, account_id: int) -> int:
    """Delete the account's synced mail (messages, threads, attachments, their timeline entries
    and ledger) inside ``uow``; returns how many messages were deleted. The caller commits.
    """
    message_ids = select(EmailMessageRow.id).where(EmailMessageRow.mail_account_id == account_id)
    session = uow.session
    session.execute(
        delete(ActivityRow).where(ActivityRow.kind == "email", ActivityRow.ref_id.in_(message_ids))
    )
    session.execute(
        delete(EmailAttachmentRow).where(EmailAttachmentRow.message_id.in_(message_ids))
    )
    deleted = session.execute(
        delete(EmailMessageRow).where(EmailMessageRow.mail_account_id == account_id)
    )
    session.execute(delete(EmailThreadRow).where(EmailThreadRow.mail_account_id == account_id))
    session.execute(delete(MailLedgerRow).where(MailLedgerRow.mail_account_id == account_id))
    return _rowcount(deleted)


def _tenant_slugs(runtime: Runtime) -> list[str]:
    with runtime.control_uow() as uow:
        return list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )


def purge_due_accounts(runtime: Runtime, now: datetime | None = None) -> int:
    """Delete the mail of every disconnected account whose ``purge_after`` has passed.

    Returns the number of accounts purged. A failing tenant is logged and skipped.
    """
    moment = now or utcnow()
    purged = 0
    for slug in _tenant_slugs(runtime):
        try:
            with runtime.tenant_uow(slug) as uow:
                due = list(
                    uow.session.scalars(
                        select(MailAccountRow).where(
                            MailAccountRow.status == "disconnected",
                            MailAccountRow.purge_after.is_not(None),
                            MailAccountRow.purge_after <= moment,
                        )
                    )
                )
                for row in due:
                    messages = purge_account_mail(uow, row.id)
                    _reset_sync_state(row)
                    row.purge_after = None
                    uow.commit()
                    purged += 1
                    logger.info(
                        "purged %d messages of disconnected mail account %s in tenant %s",
                        messages,
                        row.id,
                        slug,
                    )
        except Exception:
            logger.exception("purge of disconnected mail accounts failed in tenant %s", slug)
    return purged


# -- key rotation -------------------------------------------------------------------------------


def _rotate_optional(vault: TokenVault, ciphertext: bytes | None) -> bytes | None:
    return None if ciphertext is None else vault.rotate(ciphertext)


def rotate_stored_tokens(runtime: Runtime) -> TokenRotationReport:
    """Re-encrypt every stored token of every tenant (and pending OAuth states) under the
    newest Fernet key. Values no configured key can open are reported, not changed.
    """
    vault = vault_for(runtime.settings)
    report = TokenRotationReport()
    for slug in _tenant_slugs(runtime):
        report.tenants += 1
        with runtime.tenant_uow(slug) as uow:
            rows = uow.session.scalars(
                select(MailAccountRow).where(
                    (MailAccountRow.access_token_enc.is_not(None))
                    | (MailAccountRow.refresh_token_enc.is_not(None))
                )
            )
            for row in rows:
                try:
                    access = _rotate_optional(vault, row.access_token_enc)
                    refresh = _rotate_optional(vault, row.refresh_token_enc)
                except TokenDecryptError:
                    report.failures.append(f"{slug}: mail account {row.id}")
                    continue
                row.access_token_enc = access
                row.refresh_token_enc = refresh
                report.accounts += 1
                report.secrets += (access is not None) + (refresh is not None)
            uow.commit()
    with runtime.control_uow() as uow:
        for state in uow.session.scalars(
            select(OAuthStateRow).where(OAuthStateRow.used_at.is_(None))
        ):
            try:
                state.code_verifier_enc = vault.rotate(state.code_verifier_enc)
            except TokenDecryptError:
                report.failures.append(f"pending OAuth state {state.id}")
                continue
            report.pending_states += 1
        uow.commit()
    logger.info(
        "re-encrypted %d secrets of %d mail accounts in %d tenants (%d failures)",
        report.secrets,
        report.accounts,
        report.tenants,
        len(report.failures),
    )
    return report
