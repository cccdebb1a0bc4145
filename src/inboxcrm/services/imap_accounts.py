"""IMAP/POP3 + SMTP mail accounts: connect (after a connection test), open, stop on refusal.

The write paths, each one function in one unit of work:

- :func:`connect_mail_server_account` (``POST /api/v1/mail-accounts/imap``, Setup → Email →
  "Connect IMAP/POP3"): logs in to the incoming server (and the SMTP server when given) first;
  a refused password, an untrusted certificate or an unreachable host is answered at once as a
  problem document (codes of :mod:`inboxcrm.providers.imap.errors`) and nothing is stored.
  Otherwise the account is created, or an existing one of the caller with the same address is
  updated (new password, settings; a stopped account resumes), the connection is recorded in
  the consent log and the audit log, and a first sync is queued.
- :func:`test_mail_server_connection`: the same check, storing nothing ("Test connection").
- :func:`mark_mail_server_refused`: the sync calls it when the server refuses the login or its
  certificate later: the account's status becomes ``refused`` (no more polls, IDLE or retries:
  no retry storm), the error is on the account and its owner is notified once. Connecting again
  with working credentials resumes it.

Secrets: the incoming password is stored in ``access_token_enc`` and the SMTP password in
``refresh_token_enc`` (the columns holding a Gmail account's OAuth tokens), encrypted with the
token vault, so ``inboxcrm keys rotate`` re-encrypts them with every other stored secret. They
are decrypted only in :func:`credentials_for`, right before use, and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.token_vault import TokenDecryptError, vault_for
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ProviderAuthError,
    ProviderError,
)
from inboxcrm.domain.roles import require_mail_integration, require_write
from inboxcrm.providers.imap import MailServerCredentials, MailServerMailbox, ServerEndpoint
from inboxcrm.providers.imap.settings import IncomingProtocol, Security
from inboxcrm.services.audit import record_event
from inboxcrm.services.consent import record_consent
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_accounts import MailAccount, account_view, purge_account_mail
from inboxcrm.services.notifications import notify

__all__ = [
    "MAIL_SERVER_PROVIDERS",
    "REFUSED",
    "MailServerRequest",
    "connect_mail_server_account",
    "credentials_for",
    "mark_mail_server_refused",
    "open_mail_server_mailbox",
    "test_mail_server_connection",
]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.mail.sync_account"
MAIL_SERVER_PROVIDERS = ("imap", "pop3")
REFUSED = "refused"
"""Account status after the server refused the login or its certificate (no retries)."""
_ERROR_MAX = 500
_PORTS = {
    ("imap", "implicit_tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "implicit_tls"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
    ("smtp", "implicit_tls"): 465,
    ("smtp", "starttls"): 587,
    ("smtp", "none"): 25,
}


@dataclass(frozen=True)
class MailServerRequest:
    """What the connect form and API send (validated by :func:`_credentials_of`)."""

    host: str
    username: str
    password: str
    port: int | None = None
    security: Security = "implicit_tls"
    protocol: IncomingProtocol = "imap"
    email: str | None = None
    ca_pem: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Security = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    folders: tuple[str, ...] | None = None

    def __repr__(self) -> str:  # never the passwords
        return f"MailServerRequest({self.protocol}://{self.username}@{self.host}:{self.port})"


def _host(value: str, field: str) -> str:
    host = value.strip()
    if not host or len(host) > 253 or any(c.isspace() or c in "/@" for c in host):
        raise InvalidInput("give a host name or IP address", field=field)
    return host


def _port(value: int | None, kind: str, security: str, field: str) -> int:
    port = value if value is not None else _PORTS[(kind, security)]
    if not 1 <= port <= 65535:
        raise InvalidInput("a port is a number from 1 to 65535", field=field)
    return port


def _credentials_of(request: MailServerRequest) -> MailServerCredentials:
    if request.protocol not in MAIL_SERVER_PROVIDERS:
        raise InvalidInput("protocol is imap or pop3", field="protocol")
    for name, security in (
        ("security", request.security),
        ("smtp_security", request.smtp_security),
    ):
        if security not in ("implicit_tls", "starttls", "none"):
            raise InvalidInput("security is implicit_tls, starttls or none", field=name)
    if not request.username.strip():
        raise InvalidInput("give the user name the server expects", field="username")
    if not request.password:
        raise InvalidInput("give the password (or app password)", field="password")
    email = try_normalize_email((request.email or request.username).strip())
    if email is None:
        raise InvalidInput(
            "give the mailbox's email address (the user name is not one)", field="email"
        )
    ca_pem = (request.ca_pem or "").strip() or None
    if ca_pem is not None and "-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise InvalidInput("the CA certificate must be in PEM format", field="ca_pem")
    incoming = ServerEndpoint(
        host=_host(request.host, "host"),
        port=_port(request.port, request.protocol, request.security, "port"),
        security=request.security,
        username=request.username.strip(),
        ca_pem=ca_pem,
    )
    smtp = None
    if request.smtp_host and request.smtp_host.strip():
        smtp = ServerEndpoint(
            host=_host(request.smtp_host, "smtp_host"),
            port=_port(request.smtp_port, "smtp", request.smtp_security, "smtp_port"),
            security=request.smtp_security,
            username=(request.smtp_username or request.username).strip(),
            ca_pem=ca_pem,
        )
    folders = tuple(f.strip() for f in request.folders or () if f.strip()) or None
    if folders is not None and request.protocol == "pop3":
        raise InvalidInput("POP3 has no folders; leave folders empty", field="folders")
    return MailServerCredentials(
        email=email,
        protocol=request.protocol,
        incoming=incoming,
        incoming_password=request.password,
        smtp=smtp,
        smtp_password=(request.smtp_password or request.password) if smtp is not None else None,
        folders=folders,
    )


def _checked(credentials: MailServerCredentials) -> list[str]:
    """Log in to the servers; their errors (with codes) are what the caller answers."""
    return MailServerMailbox(credentials).check()


def test_mail_server_connection(principal: Principal, request: MailServerRequest) -> list[str]:
    """Check the settings by logging in (nothing stored); returns the folders that would sync."""
    require_write(principal.role)
    require_mail_integration(principal.mail_integration)
    credentials = _credentials_of(request)
    folders = _checked(credentials)
    return list(credentials.folders or folders)


def connect_mail_server_account(
    runtime: Runtime,
    principal: Principal,
    request: MailServerRequest,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> MailAccount:
    """Test the connection, then store the account and queue its first sync (see above)."""
    require_write(principal.role)
    require_mail_integration(principal.mail_integration)
    credentials = _credentials_of(request)
    _checked(credentials)
    vault = vault_for(runtime.settings)
    provider = credentials.protocol
    settings_json: dict[str, object] = {
        "incoming": credentials.incoming.to_json(),
        "smtp": credentials.smtp.to_json() if credentials.smtp is not None else None,
        "folders": list(credentials.folders) if credentials.folders else None,
    }
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        row = uow.session.scalar(
            select(MailAccountRow)
            .where(MailAccountRow.provider == provider, MailAccountRow.email == credentials.email)
            .with_for_update()
        )
        created = row is None
        if row is None:
            row = MailAccountRow(
                user_id=principal.user_id, provider=provider, email=credentials.email
            )
            uow.session.add(row)
        elif row.user_id != principal.user_id:
            if row.status != "disconnected":
                raise Conflict(
                    f"{credentials.email} is already connected by another user of this organisation"
                )
            purge_account_mail(uow, row.id)
            row.user_id = principal.user_id
        merged = dict(row.settings or {})
        merged.update(settings_json)
        row.settings = merged
        row.status = "connected"
        row.access_token_enc = vault.encrypt(credentials.incoming_password)
        row.refresh_token_enc = vault.encrypt_optional(credentials.smtp_password)
        row.token_expiry = None
        row.scopes = []
        row.last_error = None
        row.disconnected_at = None
        row.purge_after = None
        if row.sync_phase == "error":
            row.sync_phase = "idle"
        uow.session.flush()
        record_consent(
            uow,
            user_id=principal.user_id,
            actor_user_id=principal.user_id,
            mail_account_id=row.id,
            provider=provider,
            account_email=credentials.email,
            action="connect",
            scopes=[],
            ip=ip,
            user_agent=user_agent,
        )
        record_event(
            uow,
            action="mail_account.connected",
            actor_user_id=principal.user_id,
            target=f"mail_account:{row.id}",
            ip=ip,
            details={
                "provider": provider,
                "host": credentials.incoming.host,
                "smtp": credentials.smtp is not None,
                "created": created,
            },
        )
        uow.enqueue(SYNC_TASK, tenant=principal.tenant_slug, account_id=row.id, full=True)
        uow.commit()
        view = account_view(row)
    logger.info(
        "%s account %s %s by user %s in tenant %s",
        provider,
        view.id,
        "connected" if created else "reconnected",
        principal.user_id,
        principal.tenant_slug,
    )
    return view


def credentials_for(runtime: Runtime, tenant: str, account_id: int) -> MailServerCredentials:
    """The decrypted credentials of a connected IMAP/POP3 account.

    Raises NotFound, ProviderAuthError (not connected), or ProviderError when the stored
    passwords cannot be decrypted with the configured keys.
    """
    vault = vault_for(runtime.settings)
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None:
            raise NotFound(f"no mail account {account_id} in tenant {tenant}")
        if row.provider not in MAIL_SERVER_PROVIDERS:
            raise ProviderError(f"mail account {account_id} is not an IMAP/POP3 account")
        if row.status != "connected" or row.access_token_enc is None:
            raise ProviderAuthError(f"mail account {account_id} is not connected")
        try:
            password = vault.decrypt(row.access_token_enc)
            smtp_password = vault.decrypt_optional(row.refresh_token_enc)
        except TokenDecryptError as exc:
            raise ProviderError(
                f"the passwords of mail account {account_id} cannot be decrypted; "
                "check INBOXCRM_FERNET_KEYS"
            ) from exc
        settings = dict(row.settings or {})
        email, protocol = row.email, row.provider
    smtp = settings.get("smtp")
    folders = settings.get("folders")
    kind: Literal["imap", "pop3"] = "pop3" if protocol == "pop3" else "imap"
    return MailServerCredentials(
        email=email,
        protocol=kind,
        incoming=ServerEndpoint.from_json(dict(settings["incoming"])),
        incoming_password=password,
        smtp=ServerEndpoint.from_json(dict(smtp)) if isinstance(smtp, dict) else None,
        smtp_password=smtp_password,
        folders=tuple(str(f) for f in folders) if isinstance(folders, list) and folders else None,
    )


def open_mail_server_mailbox(runtime: Runtime, tenant: str, account_id: int) -> MailServerMailbox:
    return MailServerMailbox(credentials_for(runtime, tenant, account_id))


def mark_mail_server_refused(runtime: Runtime, tenant: str, account_id: int, reason: str) -> bool:
    """Stop a connected account the server refused (login or certificate); notify once.

    Returns True for the call that stopped it; later calls change nothing.
    """
    with runtime.tenant_uow(tenant) as uow:
        changed = uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == account_id, MailAccountRow.status == "connected")
            .values(status=REFUSED, last_error=reason[:_ERROR_MAX], sync_phase="error")
        )
        if getattr(changed, "rowcount", 0) != 1:
            return False
        row = uow.session.get(MailAccountRow, account_id, populate_existing=True)
        if row is None:  # pragma: no cover - the update above just matched it
            return False
        notify(
            uow,
            row.user_id,
            "mail_account_refused",
            f"Syncing {row.email} stopped",
            f"{reason[:300]} inboxcrm will not try again until you connect the mailbox again "
            "under Setup → Email with working settings.",
        )
        record_event(
            uow,
            action="mail_account.refused",
            actor_user_id=None,
            actor_kind="system",
            target=f"mail_account:{row.id}",
            outcome="failure",
            details={"provider": row.provider, "at": utcnow().isoformat()},
        )
        uow.commit()
    logger.warning(
        "mail account %s in tenant %s stopped: the server refused its credentials or certificate",
        account_id,
        tenant,
    )
    return True
