"""Errors of mail servers spoken to over IMAP, POP3 and SMTP, grouped by how the caller reacts.

    ProviderError                      (inboxcrm.domain.errors)
    ├── ProviderAuthError              stop the account, tell the owner; never retried
    │   ├── MailServerLoginRefused     the server refused the user name or password
    │   └── MailServerCertificateError the server's TLS certificate is not trusted (or names
    │                                  another host); a per-account CA fixes self-hosted servers
    ├── ProviderTransientError         back off and retry later
    │   └── MailServerUnreachable      no connection (DNS, refused, timeout, connection lost)
    └── MailServerProtocolError        the server answered something unusable (NO/BAD, a
                                       missing capability such as STARTTLS)

Every message names the server (``host:port``) and what to do; none carries a password.
"""

from __future__ import annotations

from inboxcrm.domain.errors import ProviderAuthError, ProviderError, ProviderTransientError

__all__ = [
    "MailServerCertificateError",
    "MailServerLoginRefused",
    "MailServerProtocolError",
    "MailServerUnreachable",
]


class MailServerLoginRefused(ProviderAuthError):
    code = "mail_server_login_refused"
    status = 422


class MailServerCertificateError(ProviderAuthError):
    code = "mail_server_certificate_untrusted"
    status = 422


class MailServerUnreachable(ProviderTransientError):
    code = "mail_server_unreachable"
    status = 422


class MailServerProtocolError(ProviderError):
    code = "mail_server_protocol_error"
    status = 422
