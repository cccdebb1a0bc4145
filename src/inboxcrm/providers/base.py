"""The provider-neutral mailbox interface the sync engine programs against.

A provider turns one connected mailbox into a :class:`MailboxClient`: Gmail
(:mod:`inboxcrm.providers.gmail`) for its sync and sending, IMAP/POP3 + SMTP
(:mod:`inboxcrm.providers.imap`) for sending, while its sync reads folders by UID
(:mod:`inboxcrm.sync.imap_engine`); both feed the same ingest. Which run an account gets is
chosen by its provider in ``services.mail_sync``.
Everything crossing this boundary is a frozen dataclass defined here; provider JSON or protocol
objects never leave the provider package.

Identifiers are opaque strings chosen by the provider (Gmail: message and thread ids). History
ids are integers that only grow; a provider without history (IMAP) may use its own cursor.

Errors a client raises (see :mod:`inboxcrm.domain.errors`):

- ``ProviderAuthError``: credentials revoked/expired; stop the account, notify the owner.
- ``ProviderTransientError``: retries were exhausted; try again later.
- :class:`HistoryExpired`: the incremental cursor is too old; run a full sync.
- ``ProviderError``: anything else the provider refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeVar, runtime_checkable

from inboxcrm.domain.errors import ProviderError

__all__ = [
    "FetchFormat",
    "HistoryDelta",
    "HistoryExpired",
    "LabelChange",
    "MailProvider",
    "MailboxClient",
    "MailboxProfile",
    "MessageRef",
    "PushPermissionDenied",
    "RemoteMessage",
    "ThreadFetcher",
    "WatchInfo",
]

FetchFormat = Literal["raw", "full", "metadata", "minimal"]
"""``raw``: whole RFC 5322 bytes; ``full``: RFC 5322 bytes without attachment contents (each
left-out part carries ``X-Inboxcrm-Omitted-Size``/``-Id`` headers, see
:mod:`inboxcrm.domain.mail_parsing`; for huge mail); ``metadata``: headers only; ``minimal``:
ids and labels."""


class HistoryExpired(ProviderError):
    """The start history id is older than the provider keeps: do a full sync instead."""

    code = "history_expired"
    status = 410


class PushPermissionDenied(ProviderError):
    """The provider may not publish to the push topic (Gmail: the Pub/Sub topic lacks a grant
    for Gmail's push service account)."""

    code = "push_permission_denied"
    status = 403

    def __init__(self, topic: str) -> None:
        super().__init__(f"Gmail may not publish to {topic}")
        self.topic = topic


@dataclass(frozen=True, slots=True)
class MailboxProfile:
    email: str
    history_id: int
    messages_total: int


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message id with its thread id (what listings and sends return)."""

    id: str
    thread_id: str


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing: its messages and the token of the next page (None: the last)."""

    refs: tuple[MessageRef, ...]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A listing asked for with others (:meth:`MailboxClient.list_first_pages`) on terms of its
    own; a plain ``str`` there takes the call's ``page_size`` and ``include_spam_trash``."""

    query: str
    page_size: int = 500
    include_spam_trash: bool = False


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    """One message as fetched. ``raw`` is set for format ``raw``; ``headers`` for ``metadata``."""

    id: str
    thread_id: str
    label_ids: tuple[str, ...]
    history_id: int | None
    internal_date: datetime | None
    size_estimate: int
    snippet: str
    raw: bytes | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class LabelChange:
    message_id: str
    thread_id: str
    label_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryDelta:
    """One page of changes since a history id.

    ``history_id`` is the mailbox's current history id as of this page; store it as the new
    cursor only after every page (``next_page_token`` is None) has been processed.
    """

    added: tuple[MessageRef, ...]
    deleted: tuple[str, ...]
    labels_added: tuple[LabelChange, ...]
    labels_removed: tuple[LabelChange, ...]
    history_id: int
    next_page_token: str | None

    @property
    def has_more(self) -> bool:
        return self.next_page_token is not None


@dataclass(frozen=True, slots=True)
class WatchInfo:
    history_id: int
    expiration: datetime


class MailboxClient(Protocol):
    """Operations on one connected mailbox. Not thread-safe: one client per worker thread.

    Every method charges the mailbox's quota gate and retries transient failures itself.
    """

    def get_profile(self) -> MailboxProfile:
        """Address, current history id and message count."""
        ...

    def iter_message_ids(
        self,
        *,
        query: str | None = None,
        label_ids: Sequence[str] = (),
        include_spam_trash: bool = False,
        page_size: int = 500,
        page_token: str | None = None,
    ) -> Iterator[MessageRef]:
        """Every message matching ``query`` and carrying all ``label_ids``, newest first
        (from the page of ``page_token`` on, when given)."""
        ...

    def list_first_pages(
        self,
        queries: Sequence[str | ListQuery],
        *,
        page_size: int = 500,
        include_spam_trash: bool = False,
    ) -> list[ListPage | None]:
        """The first page of each query's listing, in as few round trips as the provider
        allows. None for a query whose page did not come (list it with
        :meth:`iter_message_ids`, which retries)."""
        ...

    def fetch_messages(
        self,
        ids: Sequence[str],
        *,
        fmt: FetchFormat = "raw",
        metadata_headers: Sequence[str] = (),
    ) -> list[RemoteMessage]:
        """Fetch messages in the order given; ids that no longer exist are left out."""
        ...

    def list_history(
        self,
        start_history_id: int,
        *,
        page_token: str | None = None,
        label_id: str | None = None,
    ) -> HistoryDelta:
        """One page of changes after ``start_history_id``; raises :class:`HistoryExpired`."""
        ...

    def watch(
        self,
        topic: str,
        *,
        label_ids: Sequence[str] = (),
        exclude_label_ids: Sequence[str] = (),
    ) -> WatchInfo:
        """Start (or renew) push notifications for the mailbox to ``topic``: only for changes
        touching ``label_ids`` if given, never for changes touching ``exclude_label_ids``.
        Raises :class:`PushPermissionDenied` when the provider may not publish to ``topic``."""
        ...

    def stop_watch(self) -> None:
        """Stop push notifications."""
        ...

    def list_send_as(self) -> list[str]:
        """The account's own addresses (primary and aliases), canonical."""
        ...

    def ensure_label(self, name: str) -> str:
        """The id of the user label ``name``, created if missing."""
        ...

    def add_labels(self, message_ids: Sequence[str], label_ids: Sequence[str]) -> None:
        """Add labels to many messages (unknown ids are ignored)."""
        ...

    def modify_message(
        self, message_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """Add and remove labels of one message (a user's explicit action, e.g. archive)."""
        ...

    def modify_thread(
        self, thread_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """Add and remove labels of every message of one thread."""
        ...

    def send(self, raw: bytes, *, thread_id: str | None = None) -> MessageRef:
        """Send a complete RFC 5322 message; returns the new message's ids."""
        ...

    def get_attachment(self, message_id: str, attachment_id: str) -> bytes:
        """The content of one attachment."""
        ...

    def find_sent(self, message_id_header: str) -> MessageRef | None:
        """The mailbox's message with this RFC 5322 Message-ID, if there is one."""
        ...


@runtime_checkable
class OpeningReads(Protocol):
    """A mailbox that can read ahead, in one round trip, what a full sync asks for first.
    Optional: without it each read is its own call."""

    def read_ahead(self, *, profile: bool, send_as: bool, labels: bool) -> None:
        """Ask for the profile, the send-as addresses and the labels (those set) together: the
        next :meth:`MailboxClient.get_profile`, :meth:`MailboxClient.list_send_as` and the first
        :meth:`MailboxClient.ensure_label` answer from what came, and make their own call for
        what did not."""
        ...


@runtime_checkable
class ThreadFetcher(Protocol):
    """A mailbox that fetches whole threads (Gmail's threads.get: one call, 10 units, for a
    thread of any length, where messages.get costs 5 a message). Optional: the sync fetches
    message by message from mailboxes without it."""

    def fetch_threads(
        self, thread_ids: Sequence[str], *, fmt: FetchFormat = "full"
    ) -> list[RemoteMessage]:
        """Every message of these threads (``full`` or ``metadata``), thread by thread;
        threads that no longer exist are left out."""
        ...


C_contra = TypeVar("C_contra", contravariant=True)


class MailProvider(Protocol[C_contra]):
    """Opens mailbox clients from the provider's stored credentials (type ``C_contra``)."""

    name: str

    def open_mailbox(self, credentials: C_contra) -> MailboxClient: ...
