"""How to reach one IMAP/POP3 + SMTP mailbox: typed, frozen, free of passwords in reprs."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "IncomingProtocol",
    "MailServerCredentials",
    "Security",
    "ServerEndpoint",
    "tls_context",
]

Security = Literal["implicit_tls", "starttls", "none"]
IncomingProtocol = Literal["imap", "pop3"]


@dataclass(frozen=True)
class ServerEndpoint:
    """One server (IMAP, POP3 or SMTP): where, how secured, as whom, trusting which CA."""

    host: str
    port: int
    security: Security
    username: str
    ca_pem: str | None = None
    """PEM certificates to trust instead of the system's (self-hosted servers)."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "ca_pem": self.ca_pem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerEndpoint:
        security = str(data.get("security") or "implicit_tls")
        if security not in ("implicit_tls", "starttls", "none"):
            security = "implicit_tls"
        return cls(
            host=str(data["host"]),
            port=int(data["port"]),
            security=security,  # type: ignore[arg-type]
            username=str(data["username"]),
            ca_pem=str(data["ca_pem"]) if data.get("ca_pem") else None,
        )


@dataclass(frozen=True)
class MailServerCredentials:
    """Everything needed to open a mailbox; the passwords never show in a repr."""

    email: str
    protocol: IncomingProtocol
    incoming: ServerEndpoint
    incoming_password: str = field(repr=False)
    smtp: ServerEndpoint | None = None
    smtp_password: str | None = field(default=None, repr=False)
    folders: tuple[str, ...] | None = None
    """IMAP folders to sync; None: INBOX and the Sent folder found by SPECIAL-USE."""


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    """Certificate verification on (host name included); ``ca_pem`` replaces the system CAs."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
