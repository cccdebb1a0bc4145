"""Mail accounts: list, sync on demand, open a mailbox, disconnect, purge, rotate keys.

Connecting (the OAuth 2.0 + PKCE flow and its callback) lives in
:mod:`inboxcrm.services.mail_connect`, the mailbox routes that push notifications follow in
:mod:`inboxcrm.services.mailbox_routes`. The write paths here, each one function:

- :func:`request_account_sync`, :func:`disconnect_mail_account` (stop watch, revoke at Google,
  tokens deleted at once, mail purged after ``settings.account_purge_days``). When another
  tenant still holds the same mailbox, the Gmail watch is left running and the grant is not
  revoked at Google (one watch serves every tenant's copy, and Google revokes the app's whole
  grant for the Google account): this tenant's tokens are still deleted at once.
- :func:`mark_account_revoked`: the sync engine calls it when Google refuses the grant; the
  account is disconnected and its owner notified exactly once.
- :func:`purge_due_accounts`, :func:`rotate_stored_tokens` (``inboxcrm keys rotate``).

:func:`open_mailbox` gives the sync engine a quota-gated :class:`MailboxClient` for an account.
Tokens are decrypted only in memory, right before use, and never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import google.auth.transport.requests
from google.auth import exceptions as auth_exceptions
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import object_session

from inboxcrm.adapters.db.control_tables import OAuthStateRow, TenantRow
from inboxcrm.adapters.db.tenant_tables import (
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
from inboxcrm.domain.errors import (
    Conflict,
    NotFound,
    ProviderAuthError,
    ProviderError,
    ProviderTransientError,
)
from inboxcrm.domain.roles import is_admin, require_write
from inboxcrm.providers.base import MailboxClient
from inboxcrm.providers.gmail import oauth
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.providers.gmail.client import GmailProvider
from inboxcrm.services.consent import record_consent
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_quota import quota_gate_for
from inboxcrm.services.mailbox_routes import (
    GMAIL,
    drop_route,
    find_mailbox_route,
    find_mailbox_routes,
    mailbox_held_elsewhere,
)
from inboxcrm.services.notifications import notify
from inboxcrm.sync.message_keys import release_message_keys
from inboxcrm.sync.status import AccountTotals, SyncStatus, derive_status, sync_statuses

__all__ = [
    "GMAIL",
    "SYNC_TASK",
    "MailAccount",
    "TokenRotationReport",
    "account_view",
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
    "reset_sync_state",
    "rotate_stored_tokens",
]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.mail.sync_account"
_REFRESH_MARGIN = timedelta(minutes=2)
_ERROR_MAX = 500

#: Names that moved to :mod:`inboxcrm.services.mail_connect`; still importable from here.
_MOVED_TO_CONNECT = frozenset(
    {
        "CALLBACK_PATH",
        "STATE_LIFETIME",
        "ConnectedAccount",
        "OAuthCallbackError",
        "complete_gmail_authorization",
        "redirect_uri_for",
        "start_gmail_authorization",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED_TO_CONNECT:
        from inboxcrm.services import mail_connect

        return getattr(mail_connect, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    sync_state: str = "waiting"
    """running, stalled, failed, synced, waiting or disconnected (from the lease and last run)."""
    sync_status: dict[str, Any] = field(default_factory=dict)
    """The running or last run's counts and the account's ledger totals (``sync.status``)."""
    messages_skipped: int = 0


@dataclass
class TokenRotationReport:
    tenants: int = 0
    accounts: int = 0
    secrets: int = 0
    pending_states: int = 0
    failures: list[str] = field(default_factory=list)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _features(row: MailAccountRow) -> dict[str, bool]:
    """What the account can do: from the granted scopes (Gmail), from its servers (IMAP/POP3)."""
    if row.provider == GMAIL:
        return gmail_scopes.features_of(row.scopes or ())
    return {"sync": True, "send": bool((row.settings or {}).get("smtp")), "labels": False}


def account_view(row: MailAccountRow, status: SyncStatus | None = None) -> MailAccount:
    """The account as shown, its sync status derived from facts (see ``sync.status``)."""
    if status is None:
        session = object_session(row)
        status = (
            sync_statuses(session, [row])[row.id]
            if session is not None
            else derive_status(row, None, AccountTotals())
        )
    return MailAccount(
        id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        email=row.email,
        status=row.status,
        scopes=tuple(row.scopes or ()),
        features=_features(row),
        missing_scopes=(
            tuple(gmail_scopes.missing_scopes(row.scopes or ())) if row.provider == GMAIL else ()
        ),
        notices={str(k): str(v) for k, v in dict(row.notices or {}).items()},
        sync_phase=status.phase,
        sync_progress=status.run.to_json() if row.sync_progress else {},
        messages_scanned=status.totals.scanned,
        messages_stored=status.totals.stored,
        last_sync_at=row.last_sync_at,
        last_full_sync_at=row.last_full_sync_at,
        last_error=status.error,
        watch_expiration=row.watch_expiration,
        created_at=row.created_at,
        disconnected_at=row.disconnected_at,
        purge_after=row.purge_after,
        sync_state=status.state,
        sync_status=status.to_json(),
        messages_skipped=status.totals.skipped,
    )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def reset_sync_state(row: MailAccountRow) -> None:
    """Forget a mailbox's sync progress (its next sync is a full one)."""
    row.history_id = None
    row.watch_expiration = None
    row.last_full_sync_at = None
    row.last_sync_at = None
    row.sync_phase = "idle"
    row.sync_progress = {}
    row.last_error = None


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
    rows = list(uow.session.scalars(query))
    statuses = sync_statuses(uow.session, rows)
    return [account_view(row, statuses[row.id]) for row in rows]


def get_mail_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccount:
    return account_view(_load_for(uow, principal, account_id))


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
    return account_view(row)


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
        # IMAP/POP3 + SMTP: the second provider (services.imap_accounts).
        from inboxcrm.services.imap_accounts import open_mail_server_mailbox

        return open_mail_server_mailbox(runtime, tenant, account_id)
    credentials = oauth.credentials_from_tokens(
        settings,
        access_token=access_token,
        refresh_token=refresh_token,
        expiry=expiry,
        scopes=scopes or oauth.SCOPES,
        # Every refresh, here or deep inside a long sync, is stored at once.
        on_refresh=lambda fresh: _store_refreshed(runtime, tenant, account_id, vault, fresh),
    )
    stale = access_token is None or expiry is None or expiry <= utcnow() + _REFRESH_MARGIN
    if stale and refresh_token:
        _refresh(credentials)
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
    values: dict[str, Any] = {"access_token_enc": vault.encrypt(str(token)), "token_expiry": aware}
    rotated = getattr(credentials, "refresh_token", None)
    if rotated:  # Google may hand out a new refresh token with a refresh: keep the newest
        values["refresh_token_enc"] = vault.encrypt(str(rotated))
    with runtime.tenant_uow(tenant) as uow:
        uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == account_id, MailAccountRow.status != "disconnected")
            .values(**values)
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
            return account_view(row)
        try:
            access_token = vault_for(settings).decrypt_optional(row.access_token_enc)
            refresh_token = vault_for(settings).decrypt_optional(row.refresh_token_enc)
        except TokenDecryptError:
            logger.warning("tokens of mail account %s cannot be decrypted; not revoked", row.id)
            access_token = refresh_token = None
        if row.provider != GMAIL:  # IMAP/POP3 passwords: nothing to revoke anywhere
            access_token = refresh_token = None
        had_watch = row.watch_expiration is not None
        expiry = row.token_expiry
        scopes = list(row.scopes or (oauth.SCOPES if row.provider == GMAIL else ()))
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
        view = account_view(row)
    drop_route(runtime, slug, view.provider, view.email)
    shared = mailbox_held_elsewhere(runtime, slug, view.provider, view.email)
    if had_watch and not shared and (access_token or refresh_token):
        _stop_watch_quietly(runtime, access_token, refresh_token, expiry, scopes, view)
    if shared:
        # Google revokes the app's whole grant for that Google account, which would cut off
        # every other tenant holding this mailbox; their copies keep syncing.
        logger.info(
            "mail account %s: mailbox still connected in another tenant; watch and grant kept",
            view.id,
        )
    elif refresh_token or access_token:
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
    drop_route(runtime, tenant, provider, email)
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
    key_ids = set(
        session.scalars(
            select(EmailMessageRow.message_key_id)
            .where(EmailMessageRow.mail_account_id == account_id)
            .distinct()
        )
    )
    session.execute(
        delete(EmailAttachmentRow).where(EmailAttachmentRow.message_id.in_(message_ids))
    )
    deleted = session.execute(
        delete(EmailMessageRow).where(EmailMessageRow.mail_account_id == account_id)
    )
    session.execute(delete(EmailThreadRow).where(EmailThreadRow.mail_account_id == account_id))
    session.execute(delete(MailLedgerRow).where(MailLedgerRow.mail_account_id == account_id))
    # Timeline entries go with the last copy: a colleague's copy keeps the entry on the record.
    release_message_keys(session, key_ids)
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
                    reset_sync_state(row)
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
    """Re-encrypt every stored token of every tenant (OAuth tokens; the IMAP/POP3 and SMTP
    passwords, kept in the same columns) and pending OAuth states under the newest Fernet key.
    Values no configured key can open are reported, not changed.
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
