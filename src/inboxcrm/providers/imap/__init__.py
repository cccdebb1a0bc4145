"""IMAP, POP3 and SMTP mailboxes: the second mail provider beside Gmail.

- :mod:`.settings`: where a server is and how it is secured (:class:`ServerEndpoint`), and the
  account's credentials (:class:`MailServerCredentials`; passwords never in a repr).
- :mod:`.imap_client` (imapclient), :mod:`.pop3_client` (poplib), :mod:`.smtp_sender` (smtplib):
  one session each, TLS verified by default (implicit or STARTTLS; a per-account CA).
- :mod:`.mailbox`: the account as a :class:`~inboxcrm.providers.base.MailboxClient` for the send
  path (SMTP + copy to Sent), and :class:`MailServerProvider`.
- :mod:`.errors`: login refused / certificate untrusted (stop the account) versus unreachable
  (back off), drawn in that module's docstring.

Nothing here knows the database; stable message and thread ids come from
:mod:`inboxcrm.domain.mail_identity`.
"""

from inboxcrm.providers.imap.errors import (
    MailServerCertificateError,
    MailServerLoginRefused,
    MailServerProtocolError,
    MailServerUnreachable,
)
from inboxcrm.providers.imap.mailbox import MailServerMailbox, MailServerProvider
from inboxcrm.providers.imap.settings import MailServerCredentials, ServerEndpoint

__all__ = [
    "MailServerCertificateError",
    "MailServerCredentials",
    "MailServerLoginRefused",
    "MailServerMailbox",
    "MailServerProtocolError",
    "MailServerProvider",
    "MailServerUnreachable",
    "ServerEndpoint",
]
