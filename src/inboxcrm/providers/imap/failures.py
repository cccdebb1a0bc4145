"""Turning socket, TLS and protocol exceptions into the errors of :mod:`.errors`."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from inboxcrm.providers.imap.errors import (
    MailServerCertificateError,
    MailServerProtocolError,
    MailServerUnreachable,
)

__all__ = ["translated_failures"]


@contextmanager
def translated_failures(what: str, address: str) -> Iterator[None]:
    """Run a block talking to ``address``; low-level failures become mail server errors."""
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or "verification failed"
        raise MailServerCertificateError(
            f"The {what} server {address} presented a certificate that is not trusted "
            f"({reason}). Check the host name, or give the server's CA certificate."
        ) from None
    except ssl.SSLError as exc:
        raise MailServerProtocolError(
            f"TLS with the {what} server {address} failed ({exc.reason or type(exc).__name__}); "
            "check the port and the security setting."
        ) from None
    except socket.gaierror:
        raise MailServerUnreachable(
            f"The {what} server's host name in {address} cannot be resolved."
        ) from None
    except TimeoutError:
        raise MailServerUnreachable(
            f"The {what} server {address} did not answer in time."
        ) from None
    except ConnectionRefusedError:
        raise MailServerUnreachable(
            f"The {what} server {address} refused the connection (nothing listens on that port)."
        ) from None
    except (ConnectionError, EOFError) as exc:
        raise MailServerUnreachable(
            f"The connection to the {what} server {address} was lost ({type(exc).__name__})."
        ) from None
    except OSError as exc:
        raise MailServerUnreachable(
            f"The {what} server {address} cannot be reached ({exc.strerror or type(exc).__name__})."
        ) from None
