"""``POST /api/v1/mail-accounts/imap`` (connect an IMAP/POP3 + SMTP mailbox) and ``.../imap/test``.

Both log in to the servers first; a refused password, an untrusted certificate or an unreachable
host is a 422 problem document whose ``code`` says which (``mail_server_login_refused``,
``mail_server_certificate_untrusted``, ``mail_server_unreachable``,
``mail_server_protocol_error``) and whose ``detail`` names the server and what to change.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from inboxcrm.services.imap_accounts import (
    MailServerRequest,
    connect_mail_server_account,
    test_mail_server_connection,
)
from inboxcrm.web.api.mail_accounts import MailAccountOut, client_ip
from inboxcrm.web.deps import RuntimeDep, WriterPrincipal

__all__ = ["MailServerIn", "router"]

router = APIRouter(prefix="/mail-accounts/imap", tags=["mail accounts"])

SecurityIn = Literal["implicit_tls", "starttls", "none"]


class MailServerIn(BaseModel):
    """An IMAP or POP3 mailbox with its optional SMTP server. Passwords are write-only."""

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["imap", "pop3"] = "imap"
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: SecurityIn = "implicit_tls"
    username: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1000)
    email: str | None = Field(default=None, max_length=320)
    """The mailbox's address (default: the user name)."""
    ca_file: str | None = Field(default=None, max_length=100_000)
    """PEM CA certificate(s) to trust for a self-hosted server (same as ``ca_pem``)."""
    ca_pem: str | None = Field(default=None, max_length=100_000)
    smtp_host: str | None = Field(default=None, max_length=253)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: SecurityIn = "starttls"
    smtp_username: str | None = Field(default=None, max_length=320)
    smtp_password: SecretStr | None = Field(default=None, max_length=1000)
    folders: list[str] | None = Field(default=None, max_length=50)

    def to_request(self) -> MailServerRequest:
        return MailServerRequest(
            protocol=self.protocol,
            host=self.host,
            port=self.port,
            security=self.security,
            username=self.username,
            password=self.password.get_secret_value(),
            email=self.email,
            ca_pem=self.ca_pem or self.ca_file,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_security=self.smtp_security,
            smtp_username=self.smtp_username,
            smtp_password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            folders=tuple(self.folders) if self.folders else None,
        )


class ConnectionTestOut(BaseModel):
    ok: bool
    folders: list[str]
    """The folders that would be synced (IMAP)."""


@router.post("", status_code=201, response_model=MailAccountOut)
def connect_imap(
    principal: WriterPrincipal, runtime: RuntimeDep, request: Request, body: MailServerIn
) -> MailAccountOut:
    """Test the connection, then connect the mailbox and start its first sync."""
    account = connect_mail_server_account(
        runtime,
        principal,
        body.to_request(),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return MailAccountOut.model_validate(account)


@router.post("/test", response_model=ConnectionTestOut)
def test_imap(principal: WriterPrincipal, body: MailServerIn) -> ConnectionTestOut:
    """Log in to the servers with these settings; stores nothing."""
    folders = test_mail_server_connection(principal, body.to_request())
    return ConnectionTestOut(ok=True, folders=folders)
