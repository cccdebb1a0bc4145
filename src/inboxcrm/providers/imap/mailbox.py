"""An IMAP/POP3 + SMTP account as a :class:`~inboxcrm.providers.base.MailboxClient`.

The send path (:mod:`inboxcrm.services.sending`) programs against ``MailboxClient``; this class
gives it what an IMAP/POP3 account can do:

- :meth:`send`: SMTP (as configured), then a copy appended to the IMAP Sent folder (SPECIAL-USE
  ``\\Sent``); returns the message's stable ids (:mod:`inboxcrm.domain.mail_identity`), so the
  sync finding that copy later stores nothing twice. A failed APPEND does not fail the send (the
  mail is out); it is logged.
- :meth:`find_sent`: SEARCH HEADER Message-ID in the Sent folder (IMAP); POP3 has no Sent folder
  and answers None.
- :meth:`get_profile`, :meth:`list_send_as`: the account's own address.

Gmail's label, history and push operations do not exist here and raise ``ProviderError``; the
IMAP/POP3 sync (:mod:`inboxcrm.sync.imap_engine`) talks to :class:`ImapSession` /
:class:`Pop3Session` directly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import NoReturn

from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import ProviderError
from inboxcrm.domain.mail_identity import stable_message_id, thread_key, thread_root
from inboxcrm.domain.mail_parsing import UnparseableMessage, parse_message
from inboxcrm.providers.base import (
    FetchFormat,
    HistoryDelta,
    ListPage,
    ListQuery,
    MailboxProfile,
    MessageRef,
    RemoteMessage,
    WatchInfo,
)
from inboxcrm.providers.imap.imap_client import ImapSession, open_imap
from inboxcrm.providers.imap.pop3_client import Pop3Session, open_pop3
from inboxcrm.providers.imap.settings import MailServerCredentials
from inboxcrm.providers.imap.smtp_sender import send_raw

__all__ = ["MailServerMailbox", "MailServerProvider", "refs_of"]

logger = logging.getLogger(__name__)


def refs_of(raw: bytes, thread_hint: str | None = None) -> MessageRef:
    """The stable ids of a complete message (the thread hint wins: a reply's known thread)."""
    try:
        parsed = parse_message(raw)
    except UnparseableMessage as exc:
        raise ProviderError(f"the message cannot be parsed ({exc.reason})") from None
    message_id = stable_message_id(parsed)
    return MessageRef(
        id=message_id, thread_id=thread_hint or thread_key(thread_root(parsed), message_id)
    )


class MailServerMailbox:
    """One IMAP/POP3 + SMTP account. Opens a connection per operation (nothing held open)."""

    def __init__(self, credentials: MailServerCredentials) -> None:
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"MailServerMailbox({self.credentials.email!r}, {self.credentials.protocol})"

    # -- sessions ---------------------------------------------------------------------------------

    def imap(self) -> ImapSession:
        c = self.credentials
        if c.protocol != "imap":
            raise ProviderError("this account reads its mail over POP3, not IMAP")
        return open_imap(c.incoming, c.incoming_password)

    def pop3(self) -> Pop3Session:
        c = self.credentials
        if c.protocol != "pop3":
            raise ProviderError("this account reads its mail over IMAP, not POP3")
        return open_pop3(c.incoming, c.incoming_password)

    def check(self) -> list[str]:
        """Log in to the incoming and the SMTP server (nothing is sent); returns the folders
        an IMAP account syncs by default. Raises the errors of ``providers.imap.errors``."""
        c = self.credentials
        folders: list[str] = []
        if c.protocol == "imap":
            with self.imap() as session:
                folders = session.default_folders()
                for folder in c.folders or ():
                    session.folder_state(folder)  # a folder that does not exist fails here
        else:
            with self.pop3() as session:
                session.uidls()
        if c.smtp is not None:
            from inboxcrm.providers.imap.smtp_sender import open_smtp

            client = open_smtp(c.smtp, c.smtp_password or "")
            with contextlib.suppress(Exception):
                client.quit()
        return folders

    # -- MailboxClient ----------------------------------------------------------------------------

    def get_profile(self) -> MailboxProfile:
        return MailboxProfile(email=self.credentials.email, history_id=0, messages_total=0)

    def list_send_as(self) -> list[str]:
        address = try_normalize_email(self.credentials.email)
        return [address] if address else [self.credentials.email]

    def send(self, raw: bytes, *, thread_id: str | None = None) -> MessageRef:
        c = self.credentials
        if c.smtp is None:
            raise ProviderError("this account has no SMTP server configured; it cannot send")
        ref = refs_of(raw, thread_id)
        send_raw(c.smtp, c.smtp_password or "", raw)
        if c.protocol == "imap":
            try:
                with self.imap() as session:
                    sent = session.sent_folder()
                    if sent:
                        session.append(sent, raw)
                    else:
                        logger.warning("account %s has no Sent folder; no copy filed", c.email)
            except ProviderError as exc:
                logger.warning("the sent copy was not filed in Sent: %s", type(exc).__name__)
        return ref

    def find_sent(self, message_id_header: str) -> MessageRef | None:
        if self.credentials.protocol != "imap" or not message_id_header:
            return None
        with self.imap() as session:
            sent = session.sent_folder()
            uids = session.uids_with_message_id(sent, message_id_header) if sent else []
            if not uids:
                return None
            fetched = session.fetch(uids[:1], headers=None)
        return refs_of(fetched[0].data) if fetched else None

    def _unsupported(self, what: str) -> NoReturn:
        raise ProviderError(f"{what} is a Gmail feature; IMAP/POP3 accounts do not have it")

    def iter_message_ids(
        self,
        *,
        query: str | None = None,
        label_ids: Sequence[str] = (),
        include_spam_trash: bool = False,
        page_size: int = 500,
        page_token: str | None = None,
    ) -> Iterator[MessageRef]:
        self._unsupported("listing by search query")

    def list_first_pages(
        self,
        queries: Sequence[str | ListQuery],
        *,
        page_size: int = 500,
        include_spam_trash: bool = False,
    ) -> list[ListPage | None]:
        self._unsupported("listing by search query")

    def fetch_messages(
        self, ids: Sequence[str], *, fmt: FetchFormat = "raw", metadata_headers: Sequence[str] = ()
    ) -> list[RemoteMessage]:
        self._unsupported("fetching by message id")

    def list_history(
        self, start_history_id: int, *, page_token: str | None = None, label_id: str | None = None
    ) -> HistoryDelta:
        self._unsupported("history")

    def watch(
        self, topic: str, *, label_ids: Sequence[str] = (), exclude_label_ids: Sequence[str] = ()
    ) -> WatchInfo:
        self._unsupported("push watch")

    def stop_watch(self) -> None:
        return None

    def ensure_label(self, name: str) -> str:
        self._unsupported("labels")

    def add_labels(self, message_ids: Sequence[str], label_ids: Sequence[str]) -> None:
        self._unsupported("labels")

    def modify_message(
        self, message_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        self._unsupported("labels")

    def modify_thread(
        self, thread_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        self._unsupported("labels")

    def get_attachment(self, message_id: str, attachment_id: str) -> bytes:
        self._unsupported("fetching an attachment by id")


class MailServerProvider:
    """Opens IMAP/POP3 + SMTP mailboxes: the second
    :class:`~inboxcrm.providers.base.MailProvider`."""

    name = "imap"

    def open_mailbox(self, credentials: MailServerCredentials) -> MailServerMailbox:
        return MailServerMailbox(credentials)
