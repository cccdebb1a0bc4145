"""Sending one RFC 5322 message over SMTP (smtplib): implicit TLS or STARTTLS, AUTH.

The envelope recipients are the To, Cc and Bcc addresses of the message; the Bcc header is
removed from what is transmitted (recipients must not see each other's blind copies) but kept
in the copy the caller files in Sent. Failures are the errors of
:mod:`inboxcrm.providers.imap.errors`; a recipient the server refuses is a
:class:`~inboxcrm.domain.errors.ProviderError` naming it.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from email import message_from_bytes, policy
from email.utils import getaddresses

from inboxcrm.domain.errors import ProviderError, ProviderTransientError
from inboxcrm.providers.imap.errors import MailServerLoginRefused, MailServerProtocolError
from inboxcrm.providers.imap.failures import translated_failures
from inboxcrm.providers.imap.settings import ServerEndpoint, tls_context

__all__ = ["envelope_of", "open_smtp", "send_raw"]

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0


def envelope_of(raw: bytes) -> tuple[str, list[str], bytes]:
    """(envelope sender, recipients, bytes to transmit without the Bcc header)."""
    parsed = message_from_bytes(raw, policy=policy.SMTP)
    sender = next((a for _, a in getaddresses([str(parsed.get("From", ""))]) if a), "")
    recipients: list[str] = []
    for header in ("To", "Cc", "Bcc"):
        values = [str(v) for v in parsed.get_all(header, [])]
        recipients += [a for _, a in getaddresses(values) if a]
    if parsed.get("Bcc") is not None:
        del parsed["Bcc"]
        transmitted = parsed.as_bytes()
    else:
        transmitted = raw
    return sender, list(dict.fromkeys(recipients)), transmitted


def open_smtp(
    endpoint: ServerEndpoint, password: str, *, timeout: float = TIMEOUT_SECONDS
) -> smtplib.SMTP:
    """A connected, authenticated SMTP client (TLS as configured, certificates verified)."""
    context = tls_context(endpoint.ca_pem)
    with translated_failures("SMTP", endpoint.address):
        client: smtplib.SMTP
        if endpoint.security == "implicit_tls":
            client = smtplib.SMTP_SSL(
                endpoint.host, endpoint.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)
    try:
        with translated_failures("SMTP", endpoint.address):
            client.ehlo()
            if endpoint.security == "starttls":
                if not client.has_extn("starttls"):
                    raise MailServerProtocolError(
                        f"The SMTP server {endpoint.address} does not offer STARTTLS; "
                        "choose implicit TLS or another port."
                    )
                client.starttls(context=context)
                client.ehlo()
            if endpoint.username:
                try:
                    client.login(endpoint.username, password)
                except smtplib.SMTPAuthenticationError:
                    raise MailServerLoginRefused(
                        f"The SMTP server {endpoint.address} refused the user name or password "
                        f"of {endpoint.username}."
                    ) from None
                except smtplib.SMTPNotSupportedError:
                    raise MailServerProtocolError(
                        f"The SMTP server {endpoint.address} offers no AUTH on this connection."
                    ) from None
        return client
    except BaseException:
        with contextlib.suppress(Exception):
            client.close()
        raise


def send_raw(endpoint: ServerEndpoint, password: str, raw: bytes) -> None:
    """Send ``raw`` to every To/Cc/Bcc recipient."""
    sender, recipients, transmitted = envelope_of(raw)
    if not recipients:
        raise ProviderError("the message has no recipients")
    client = open_smtp(endpoint, password)
    try:
        with translated_failures("SMTP", endpoint.address):
            try:
                refused = client.sendmail(sender, recipients, transmitted)
            except smtplib.SMTPRecipientsRefused as exc:
                raise ProviderError(
                    "The SMTP server refused every recipient: " + ", ".join(exc.recipients)
                ) from None
            except smtplib.SMTPSenderRefused as exc:
                raise ProviderError(
                    f"The SMTP server refused the sender {sender} ({exc.smtp_code})."
                ) from None
            except smtplib.SMTPResponseException as exc:
                if 400 <= exc.smtp_code < 500:
                    raise ProviderTransientError(
                        f"The SMTP server deferred the message ({exc.smtp_code}); will retry."
                    ) from None
                raise ProviderError(
                    f"The SMTP server refused the message ({exc.smtp_code})."
                ) from None
            except smtplib.SMTPServerDisconnected:
                raise ProviderTransientError("The SMTP server closed the connection.") from None
        if refused:
            # Accepted for the others: sending again would duplicate it for them.
            logger.warning(
                "the SMTP server refused %d of %d recipients", len(refused), len(recipients)
            )
    finally:
        with contextlib.suppress(Exception):
            client.quit()
