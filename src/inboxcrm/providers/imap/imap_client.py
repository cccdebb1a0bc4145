"""One IMAP session (imapclient): log in over TLS, read folders by UID, IDLE, append.

:class:`ImapSession` is what the IMAP sync (:mod:`inboxcrm.sync.imap_engine`) and the SMTP
send path (copy to Sent) use. It speaks only IMAP; messages leave it as
:class:`FetchedMessage` (UID, internal date, size, header or full bytes). Failures are the
errors of :mod:`inboxcrm.providers.imap.errors`. Not thread-safe: one session per thread.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from inboxcrm.providers.imap.errors import MailServerLoginRefused, MailServerProtocolError
from inboxcrm.providers.imap.failures import translated_failures
from inboxcrm.providers.imap.settings import ServerEndpoint, tls_context

__all__ = ["FetchedMessage", "FolderState", "ImapSession", "open_imap"]

logger = logging.getLogger(__name__)

# imapclient traces the protocol at DEBUG (FETCH answers and APPEND literals: message bodies);
# mail bodies are never logged, whatever level the process runs at.
logging.getLogger("imapclient").setLevel(logging.INFO)

TIMEOUT_SECONDS = 30.0
SENT_FLAG = rb"\Sent"


@dataclass(frozen=True, slots=True)
class FolderState:
    name: str
    uidvalidity: int
    uidnext: int | None
    highest_modseq: int | None


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    internal_date: datetime | None
    size: int
    data: bytes
    """The header fields asked for, or the whole message."""


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ImapSession:
    """A logged-in IMAP connection (use as a context manager; it logs out on exit)."""

    def __init__(self, client: imapclient.IMAPClient, endpoint: ServerEndpoint) -> None:
        self._client = client
        self.endpoint = endpoint
        self.capabilities = {bytes(c).upper() for c in client.capabilities()}

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._client.logout()
        except Exception:  # already gone: nothing to tell the server
            with contextlib.suppress(Exception):
                self._client.shutdown()

    def _call(self, what: str) -> Any:
        return translated_failures("IMAP", self.endpoint.address)

    def has(self, capability: str) -> bool:
        return capability.upper().encode() in self.capabilities

    # -- folders --------------------------------------------------------------------------------

    def default_folders(self) -> list[str]:
        """INBOX and the folder flagged ``\\Sent`` (SPECIAL-USE), else a folder named like one."""
        with self._call("list"):
            sent = self._client.find_special_folder(SENT_FLAG)
        return ["INBOX", *([sent] if sent and sent != "INBOX" else [])]

    def sent_folder(self) -> str | None:
        with self._call("list"):
            found = self._client.find_special_folder(SENT_FLAG)
        return str(found) if found else None

    def folder_state(self, folder: str) -> FolderState:
        items = ["UIDVALIDITY", "UIDNEXT"]
        if self.has("CONDSTORE"):
            items.append("HIGHESTMODSEQ")
        try:
            with self._call("status"):
                status = self._client.folder_status(folder, items)
        except IMAPClientError as exc:
            raise MailServerProtocolError(
                f"The IMAP server {self.endpoint.address} has no folder {folder!r} ({exc})."
            ) from None
        modseq = status.get(b"HIGHESTMODSEQ")
        uidnext = status.get(b"UIDNEXT")
        return FolderState(
            name=folder,
            uidvalidity=int(status[b"UIDVALIDITY"]),
            uidnext=int(uidnext) if uidnext is not None else None,
            highest_modseq=int(modseq) if modseq is not None else None,
        )

    def select(self, folder: str) -> int:
        """Select ``folder`` read-only; returns its UIDVALIDITY."""
        with self._call("select"):
            info = self._client.select_folder(folder, readonly=True)
        return int(info[b"UIDVALIDITY"])

    # -- reading --------------------------------------------------------------------------------

    def search_uids(
        self,
        *,
        after_uid: int,
        since: date | None = None,
        addresses: Sequence[str] = (),
    ) -> list[int]:
        """UIDs above ``after_uid`` of the selected folder (on or after ``since``), ascending.

        With ``addresses``, only messages with one of them in From, To or Cc (a server-side
        narrowing; each entry is a full address or ``@domain``, matched as a substring).
        """
        criteria: list[Any] = ["UID", f"{after_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        if addresses:
            terms: list[list[Any]] = []
            for entry in addresses:
                terms += [["FROM", entry], ["TO", entry], ["CC", entry]]
            criteria += _or_tree(terms)
        with self._call("search"):
            found = self._client.search(criteria)
        # "n:*" always matches the last message, even when its UID is below n.
        return sorted(int(uid) for uid in found if int(uid) > after_uid)

    def fetch(self, uids: Sequence[int], *, headers: Sequence[str] | None) -> list[FetchedMessage]:
        """Messages by UID: only ``headers`` (BODY.PEEK[HEADER.FIELDS]) or the whole message
        (BODY.PEEK[]); never sets \\Seen. UIDs gone meanwhile are left out."""
        if not uids:
            return []
        part = f"BODY.PEEK[HEADER.FIELDS ({' '.join(headers)})]" if headers else "BODY.PEEK[]"
        with self._call("fetch"):
            answer = self._client.fetch(list(uids), [part, "INTERNALDATE", "RFC822.SIZE"])
        out: list[FetchedMessage] = []
        for uid in uids:
            item = answer.get(uid)
            if item is None:
                continue
            data = next((v for k, v in item.items() if bytes(k).startswith(b"BODY[")), None)
            if data is None:
                continue
            out.append(
                FetchedMessage(
                    uid=int(uid),
                    internal_date=_aware(item.get(b"INTERNALDATE")),
                    size=int(item.get(b"RFC822.SIZE") or len(data)),
                    data=bytes(data),
                )
            )
        return out

    def uids_with_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs of the messages of ``folder`` with this Message-ID header (``folder`` stays
        selected)."""
        self.select(folder)
        with self._call("search"):
            return sorted(
                int(u) for u in self._client.search(["HEADER", "Message-ID", message_id.strip()])
            )

    # -- writing --------------------------------------------------------------------------------

    def append(self, folder: str, raw: bytes, *, seen: bool = True) -> None:
        """Add ``raw`` to ``folder`` (the copy a mail client keeps of a sent message)."""
        with self._call("append"):
            self._client.append(folder, raw, flags=(rb"\Seen",) if seen else ())

    # -- waiting ------------------------------------------------------------------------------

    def idle_until_change(
        self,
        folder: str,
        *,
        stop: Callable[[], bool],
        renew_seconds: float = 25 * 60,
        check_seconds: float = 1.0,
    ) -> bool:
        """Wait in IDLE on ``folder`` until the server reports a change (True), ``stop()``
        turns true or ``renew_seconds`` pass (False; RFC 2177 asks clients to re-IDLE within
        29 minutes). Raises :class:`MailServerProtocolError` without IDLE support."""
        if not self.has("IDLE"):
            raise MailServerProtocolError(
                f"The IMAP server {self.endpoint.address} does not support IDLE."
            )
        self.select(folder)
        deadline = time.monotonic() + renew_seconds
        changed = False
        with self._call("idle"):
            self._client.idle()
            try:
                while not changed and not stop() and time.monotonic() < deadline:
                    responses = self._client.idle_check(timeout=check_seconds)
                    changed = any(_is_change(r) for r in responses)
            finally:
                self._client.idle_done()
        return changed


def _is_change(response: Any) -> bool:
    return (
        isinstance(response, tuple)
        and len(response) >= 2
        and response[1] in (b"EXISTS", b"RECENT", b"EXPUNGE", b"FETCH")
    )


def _or_tree(terms: list[list[Any]]) -> list[Any]:
    """IMAP's binary OR over ``terms``: ``OR a OR b c`` (balanced, so deep lists stay shallow)."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return ["OR", _or_tree(terms[:middle]), _or_tree(terms[middle:])]


def open_imap(
    endpoint: ServerEndpoint, password: str, *, timeout: float = TIMEOUT_SECONDS
) -> ImapSession:
    """Connect (TLS as configured, certificates verified) and log in."""
    context = tls_context(endpoint.ca_pem)
    with translated_failures("IMAP", endpoint.address):
        client = imapclient.IMAPClient(
            endpoint.host,
            port=endpoint.port,
            ssl=endpoint.security == "implicit_tls",
            ssl_context=context if endpoint.security == "implicit_tls" else None,
            timeout=timeout,
        )
    try:
        with translated_failures("IMAP", endpoint.address):
            if endpoint.security == "starttls":
                if b"STARTTLS" not in {bytes(c).upper() for c in client.capabilities()}:
                    raise MailServerProtocolError(
                        f"The IMAP server {endpoint.address} does not offer STARTTLS; "
                        "choose implicit TLS or another port."
                    )
                client.starttls(context)
            try:
                client.login(endpoint.username, password)
            except LoginError:
                raise MailServerLoginRefused(
                    f"The IMAP server {endpoint.address} refused the user name or password "
                    f"of {endpoint.username}."
                ) from None
            except IMAPClientError as exc:
                raise MailServerProtocolError(
                    f"The IMAP server {endpoint.address} refused the login ({exc})."
                ) from None
        return ImapSession(client, endpoint)
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise


def iter_batches(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
