"""One POP3 session (poplib): UIDL listing, headers by TOP, whole messages by RETR.

Nothing is ever deleted (no DELE): the mail stays on the server, as the user's own mail
client expects. Failures are the errors of :mod:`inboxcrm.providers.imap.errors`.
"""

from __future__ import annotations

import contextlib
import poplib
from types import TracebackType

from inboxcrm.providers.imap.errors import MailServerLoginRefused, MailServerProtocolError
from inboxcrm.providers.imap.failures import translated_failures
from inboxcrm.providers.imap.settings import ServerEndpoint, tls_context

__all__ = ["Pop3Session", "open_pop3"]

TIMEOUT_SECONDS = 30.0


class Pop3Session:
    def __init__(self, client: poplib.POP3, endpoint: ServerEndpoint) -> None:
        self._client = client
        self.endpoint = endpoint

    def __enter__(self) -> Pop3Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.quit()

    def uidls(self) -> dict[str, int]:
        """UIDL → message number of this session."""
        with translated_failures("POP3", self.endpoint.address):
            try:
                _, lines, _ = self._client.uidl()
            except poplib.error_proto as exc:
                raise MailServerProtocolError(
                    f"The POP3 server {self.endpoint.address} does not support UIDL ({exc})."
                ) from None
        found: dict[str, int] = {}
        for line in lines:
            number, _, uidl = bytes(line).decode("ascii", "replace").partition(" ")
            if uidl:
                found[uidl.strip()] = int(number)
        return found

    def headers(self, number: int) -> bytes:
        with translated_failures("POP3", self.endpoint.address):
            _, lines, _ = self._client.top(number, 0)
        return b"\r\n".join(lines) + b"\r\n"

    def message(self, number: int) -> bytes:
        with translated_failures("POP3", self.endpoint.address):
            _, lines, _ = self._client.retr(number)
        return b"\r\n".join(lines) + b"\r\n"


def open_pop3(
    endpoint: ServerEndpoint, password: str, *, timeout: float = TIMEOUT_SECONDS
) -> Pop3Session:
    """Connect (TLS as configured, certificates verified) and log in (USER/PASS)."""
    context = tls_context(endpoint.ca_pem)
    with translated_failures("POP3", endpoint.address):
        client: poplib.POP3
        if endpoint.security == "implicit_tls":
            client = poplib.POP3_SSL(endpoint.host, endpoint.port, timeout=timeout, context=context)
        else:
            client = poplib.POP3(endpoint.host, endpoint.port, timeout=timeout)
    try:
        with translated_failures("POP3", endpoint.address):
            if endpoint.security == "starttls":
                try:
                    client.stls(context)
                except poplib.error_proto as exc:
                    raise MailServerProtocolError(
                        f"The POP3 server {endpoint.address} does not offer STLS ({exc}); "
                        "choose implicit TLS or another port."
                    ) from None
            try:
                client.user(endpoint.username)
                client.pass_(password)
            except poplib.error_proto:
                raise MailServerLoginRefused(
                    f"The POP3 server {endpoint.address} refused the user name or password "
                    f"of {endpoint.username}."
                ) from None
        return Pop3Session(client, endpoint)
    except BaseException:
        with contextlib.suppress(Exception):
            client.close()
        raise
