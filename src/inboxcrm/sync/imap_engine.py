"""The sync of one IMAP or POP3 mailbox: folders by UID, checkpoints, the shared ingest.

:class:`MailServerSync` is the IMAP/POP3 counterpart of :class:`~inboxcrm.sync.engine.MailboxSync`
(which drives Gmail's history and search); both feed the same
:class:`~inboxcrm.sync.ingest.Ingestor`, so matching, threading, dedup, the storage policy, the
ledger and the timeline are one code path. One run:

1. Prepare: the tenant's address book, storage policy and never-log list; a matcher whose own
   addresses are the account's address.
2. IMAP, for each folder (the account's choice; by default INBOX and the folder flagged
   ``\\Sent`` by SPECIAL-USE):

   a. STATUS: UIDVALIDITY, UIDNEXT and, where the server offers CONDSTORE, HIGHESTMODSEQ. All
      equal to the checkpoint (:mod:`inboxcrm.sync.folder_checkpoints`): nothing to do.
   b. A different UIDVALIDITY (or a full sync) reads the folder from UID 1 again; a first read
      is bounded by the look-back window (SEARCH SINCE) and, when the tenant's CRM addresses are
      few enough (``SEARCH_NARROW_MAX``), narrowed server-side by SEARCH FROM/TO/CC on them.
   c. New UIDs in batches: headers first (BODY.PEEK[HEADER.FIELDS], never setting \\Seen), each
      message named by its stable ids (:mod:`inboxcrm.domain.mail_identity`; a reply whose parent
      is stored takes the parent's thread), ledger rows ``pending``, screened by headers; only
      messages that may match are fetched whole and stored. Ledger outcomes, the stored mail and
      the folder checkpoint (the batch's highest UID) are committed together.
   d. At the end the checkpoint takes the STATUS values read in (a), so mail that arrived
      meanwhile is read by the next run.

3. POP3: UIDL lists the maildrop; UIDLs not yet handled are read (TOP for headers, RETR for
   matches) and remembered with the batch. Nothing is deleted on the server.
4. The run ends ``done`` with ``last_sync_at`` (and ``last_full_sync_at`` for a first or full run).

A killed run resumes from the last committed batch; stable ids make every repeat a no-op. Errors
of the server propagate (see :mod:`inboxcrm.providers.imap.errors`): the service stops the account
on a refused login or an untrusted certificate and backs off on transient failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

from sqlalchemy import select, update

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.mail_identity import stable_message_id, thread_key, thread_root
from inboxcrm.domain.mail_parsing import ParsedMail, UnparseableMessage, parse_message
from inboxcrm.providers.base import MessageRef, RemoteMessage
from inboxcrm.providers.imap.imap_client import FetchedMessage, ImapSession, iter_batches
from inboxcrm.providers.imap.mailbox import MailServerMailbox
from inboxcrm.providers.imap.pop3_client import Pop3Session
from inboxcrm.sync import ledger
from inboxcrm.sync.autocreate import ContactAutoCreator
from inboxcrm.sync.folder_checkpoints import (
    FolderCheckpoint,
    forget_checkpoints,
    load_checkpoint,
    mark_pop3_seen,
    pop3_seen,
    save_checkpoint,
)
from inboxcrm.sync.ingest import (
    METADATA_HEADERS,
    AddressBook,
    Ingestor,
    IngestPolicy,
    Outcome,
    build_matcher,
    load_address_book,
    load_tenant_mail_settings,
)
from inboxcrm.sync.lease import MailboxLease
from inboxcrm.sync.progress import ProgressListener, SyncProgress

__all__ = ["SEARCH_NARROW_MAX", "MailServerSync", "MailServerSyncResult", "folder_label"]

logger = logging.getLogger(__name__)

BATCH = 50
SEARCH_NARROW_MAX = 60
"""A first read of a folder is narrowed by SEARCH on the CRM addresses when there are at most
this many (each address adds three OR terms; long searches are slow on many servers)."""
LEASE_RENEW_SECONDS = 30.0


@dataclass
class MailServerSyncResult:
    mode: str
    listed: int = 0
    stored: int = 0
    skipped: int = 0
    history_id: int | None = None
    resynced: bool = False
    """True when a folder's UIDVALIDITY changed and it was read again."""
    first_full_sync: bool = False
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    folders: dict[str, int] = field(default_factory=dict)
    """Messages stored per folder in this run."""


def folder_label(folder: str, sent_folder: str | None) -> str:
    """The label a folder's messages carry (``INBOX``, ``SENT``, else the folder name)."""
    if folder.upper() == "INBOX":
        return "INBOX"
    if sent_folder is not None and folder == sent_folder:
        return "SENT"
    return folder


class MailServerSync:
    """One sync run of one IMAP or POP3 mailbox. See the module docstring."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        mailbox: MailServerMailbox,
        tenant: str,
        account_id: int,
        bcc_secret: bytes,
        default_lookback_days: int = 365,
        lease: MailboxLease | None = None,
        listener: ProgressListener | None = None,
        batch: int = BATCH,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow = uow_factory
        self._mailbox = mailbox
        self.tenant = tenant
        self.account_id = account_id
        self._bcc_secret = bcc_secret
        self._default_lookback = default_lookback_days
        self._lease = lease
        self._listener = listener
        self._batch = max(1, min(batch, 200))
        self._clock = clock
        self._progress = SyncProgress()
        self._book: AddressBook | None = None
        self._ingestor: Ingestor | None = None
        self._own: list[str] = []
        self._autocreate = "off"
        self._lookback_days = default_lookback_days
        self._result = MailServerSyncResult(mode="incremental")

    # -- entry point ------------------------------------------------------------------------------

    def run(self, *, full: bool = False) -> MailServerSyncResult:
        with self._uow() as uow:
            account = uow.session.get(MailAccountRow, self.account_id)
            if account is None:
                raise LookupError(f"no mail account {self.account_id}")
            email, owner = account.email, account.user_id
            first = account.last_full_sync_at is None
            settings: dict[str, Any] = dict(account.settings or {})
            if full:
                forget_checkpoints(uow.session, self.account_id)
                uow.commit()
        days = settings.get("lookback_days")
        self._lookback_days = days if isinstance(days, int) and days > 0 else self._default_lookback
        mode = "full" if full or first else "incremental"
        self._result = MailServerSyncResult(mode=mode, first_full_sync=first)
        self._prepare(email, owner)
        now = self._clock()
        self._progress = SyncProgress(mode=mode, phase="fetching", started_at=now.isoformat())
        self._checkpoint()
        if self._mailbox.credentials.protocol == "pop3":
            with self._mailbox.pop3() as pop3:
                self._sync_pop3(pop3)
        else:
            with self._mailbox.imap() as session:
                folders = list(self._mailbox.credentials.folders or session.default_folders())
                sent = session.sent_folder()
                for folder in folders:
                    self._sync_folder(session, folder, folder_label(folder, sent))
        finished = self._clock()
        self._progress.phase = "done"
        self._progress.finished_at = finished.isoformat()
        values: dict[str, Any] = {"last_sync_at": finished, "last_error": None}
        if mode == "full":
            values["last_full_sync_at"] = finished
        self._checkpoint(**values)
        return self._result

    def backfill(self, entries: Sequence[str]) -> MailServerSyncResult:
        """Read mail with ``entries`` (addresses or ``@domain``) again in every folder (IMAP:
        SEARCH on them; POP3: the whole maildrop); checkpoints stay as they are."""
        with self._uow() as uow:
            account = uow.session.get(MailAccountRow, self.account_id)
            if account is None:
                raise LookupError(f"no mail account {self.account_id}")
            email, owner = account.email, account.user_id
        self._result = MailServerSyncResult(mode="backfill")
        self._prepare(email, owner)
        wanted = [e for e in entries if e]
        if self._mailbox.credentials.protocol == "pop3":
            with self._mailbox.pop3() as pop3:
                self._sync_pop3(pop3, everything=True)
            return self._result
        with self._mailbox.imap() as session:
            folders = list(self._mailbox.credentials.folders or session.default_folders())
            sent = session.sent_folder()
            for folder in folders:
                session.select(folder)
                found: set[int] = set()
                for start in range(0, len(wanted), SEARCH_NARROW_MAX):
                    chunk = wanted[start : start + SEARCH_NARROW_MAX]
                    found.update(session.search_uids(after_uid=0, addresses=chunk))
                uids = sorted(found)
                self._result.listed += len(uids)
                for batch in iter_batches(uids, self._batch):
                    self._store_imap_batch(
                        session, folder, folder_label(folder, sent), batch, lambda uow: None
                    )
        return self._result

    # -- preparation ------------------------------------------------------------------------------

    def _prepare(self, email: str, owner: int) -> None:
        primary = try_normalize_email(email) or email.lower()
        self._own = [primary]
        with self._uow() as uow:
            self._book = load_address_book(
                uow.session, tenant=self.tenant, bcc_secret=self._bcc_secret
            )
            storage, never_log, autocreate = load_tenant_mail_settings(uow.session)
        self._autocreate = autocreate
        policy = IngestPolicy(storage=storage)
        matcher = build_matcher(self._book, self._own, never_log)
        autocreator = ContactAutoCreator(
            mode=autocreate,
            records_by_address=self._book.records_by_address,
            never_log=never_log,
            owner_user_id=owner,
        )
        self._ingestor = Ingestor(
            account_id=self.account_id, matcher=matcher, policy=policy, autocreator=autocreator
        )

    def _narrowing(self) -> list[str]:
        """Addresses a first read may SEARCH on (empty: no narrowing)."""
        assert self._book is not None
        if self._autocreate != "off":
            return []
        entries = self._book.search_entries() + self._book.bcc_addresses(self._own[0])
        if not entries or len(entries) > SEARCH_NARROW_MAX:
            return []
        return entries

    # -- progress -------------------------------------------------------------------------------

    def _save_progress(self, uow: UnitOfWork, **values: Any) -> None:
        uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == self.account_id)
            .values(
                sync_phase=self._progress.phase, sync_progress=self._progress.to_json(), **values
            )
            .execution_options(synchronize_session=False)
        )

    def _checkpoint(self, **values: Any) -> None:
        with self._uow() as uow:
            self._save_progress(uow, **values)
            uow.commit()
        self._tick()

    def _tick(self) -> None:
        if self._lease is not None:
            self._lease.renew(min_interval=LEASE_RENEW_SECONDS)
        if self._listener is not None:
            self._listener(self._progress)

    # -- naming messages ------------------------------------------------------------------------

    def _remote(
        self, uow: UnitOfWork, fetched: Sequence[tuple[FetchedMessage, ParsedMail]], label: str
    ) -> list[RemoteMessage]:
        """Header fetches as RemoteMessages with stable ids; replies join stored parents'
        threads."""
        parents: set[str] = set()
        for _, parsed in fetched:
            parents.update(parsed.references)
            if parsed.in_reply_to:
                parents.add(parsed.in_reply_to)
        known: dict[str, str] = {}
        ids = sorted(parents)
        for start in range(0, len(ids), 500):
            for header, thread in uow.session.execute(
                select(EmailMessageRow.message_id_header, EmailThreadRow.provider_thread_id)
                .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
                .where(
                    EmailMessageRow.mail_account_id == self.account_id,
                    EmailMessageRow.message_id_header.in_(ids[start : start + 500]),
                )
            ):
                if header:
                    known[header] = thread
        out: list[RemoteMessage] = []
        for message, parsed in fetched:
            message_id = stable_message_id(parsed)
            thread = next(
                (
                    known[p]
                    for p in (*parsed.references, parsed.in_reply_to)
                    if p is not None and p in known
                ),
                None,
            ) or thread_key(thread_root(parsed), message_id)
            out.append(
                RemoteMessage(
                    id=message_id,
                    thread_id=thread,
                    label_ids=(label,),
                    history_id=None,
                    internal_date=message.internal_date,
                    size_estimate=message.size,
                    snippet="",
                    headers=_header_pairs(message.data),
                )
            )
        return out

    # -- IMAP -------------------------------------------------------------------------------------

    def _sync_folder(self, session: ImapSession, folder: str, label: str) -> None:
        state = session.folder_state(folder)
        with self._uow() as uow:
            checkpoint = load_checkpoint(uow.session, self.account_id, folder)
        if (
            checkpoint is not None
            and checkpoint.uidvalidity == state.uidvalidity
            and checkpoint.uidnext == state.uidnext
            and (state.highest_modseq is None or checkpoint.highest_modseq == state.highest_modseq)
        ):
            return
        after_uid = 0
        if checkpoint is not None and checkpoint.uidvalidity == state.uidvalidity:
            after_uid = checkpoint.last_uid
        elif checkpoint is not None:
            logger.info(
                "account %s: UIDVALIDITY of a folder changed; reading it again", self.account_id
            )
            self._result.resynced = True
        validity = session.select(folder)
        if validity != state.uidvalidity:  # renumbered between STATUS and SELECT: next run
            return
        since = None
        narrowing: list[str] = []
        if after_uid == 0:
            since = (self._clock() - timedelta(days=self._lookback_days)).date()
            narrowing = self._narrowing()
        uids = session.search_uids(after_uid=after_uid, since=since, addresses=narrowing)
        self._progress.listed += len(uids)
        self._progress.total_estimate += len(uids)
        self._result.listed += len(uids)
        last = after_uid
        for batch in iter_batches(uids, self._batch):
            high = max(batch)
            moved = FolderCheckpoint(folder, state.uidvalidity, high, None, None)
            self._store_imap_batch(session, folder, label, batch, self._mover(moved))
            last = max(last, high)
        with self._uow() as uow:
            save_checkpoint(
                uow.session,
                self.account_id,
                FolderCheckpoint(
                    folder=folder,
                    uidvalidity=state.uidvalidity,
                    last_uid=max(last, (state.uidnext or 1) - 1),
                    uidnext=state.uidnext,
                    highest_modseq=state.highest_modseq,
                ),
            )
            uow.commit()

    def _mover(self, checkpoint: FolderCheckpoint) -> Callable[[UnitOfWork], None]:
        def move(uow: UnitOfWork) -> None:
            save_checkpoint(uow.session, self.account_id, checkpoint)

        return move

    def _store_imap_batch(
        self,
        session: ImapSession,
        folder: str,
        label: str,
        uids: Sequence[int],
        move_checkpoint: Callable[[UnitOfWork], None],
    ) -> None:
        headers = session.fetch(uids, headers=METADATA_HEADERS)
        parsed = _parse_all(headers)
        by_uid: dict[int, RemoteMessage] = {}
        with self._uow() as uow:
            metas = self._remote(uow, parsed, label)
            for (message, _), meta in zip(parsed, metas, strict=True):
                by_uid[message.uid] = meta
        uid_of = {meta.id: uid for uid, meta in by_uid.items()}

        def fetch_whole(ids: Sequence[str]) -> list[RemoteMessage]:
            wanted = [uid_of[i] for i in ids if i in uid_of]
            out = []
            for whole in session.fetch(wanted, headers=None):
                meta = by_uid[whole.uid]
                out.append(_with_raw(meta, whole))
            return out

        self._ingest_batch(list(by_uid.values()), fetch_whole, move_checkpoint, folder)

    # -- POP3 -------------------------------------------------------------------------------------

    def _sync_pop3(self, pop3: Pop3Session, *, everything: bool = False) -> None:
        listing = pop3.uidls()
        seen: set[str] = set()
        if not everything:
            with self._uow() as uow:
                seen = pop3_seen(uow.session, self.account_id)
        new = sorted(((n, u) for u, n in listing.items() if u not in seen))
        self._progress.listed += len(new)
        self._progress.total_estimate += len(new)
        self._result.listed += len(new)
        for start in range(0, len(new), self._batch):
            chunk = new[start : start + self._batch]
            fetched = [
                FetchedMessage(uid=n, internal_date=None, size=0, data=pop3.headers(n))
                for n, _ in chunk
            ]
            parsed = _parse_all(fetched)
            with self._uow() as uow:
                metas = self._remote(uow, parsed, "INBOX")
            by_number = {m.uid: meta for (m, _), meta in zip(parsed, metas, strict=True)}
            uidl_of = dict(chunk)
            handled = [(uidl_of[n], meta.id) for n, meta in by_number.items()]
            # Unparseable headers still count as handled (their UIDL is remembered).
            handled += [(u, "") for n, u in chunk if n not in by_number]

            def remember(uow: UnitOfWork, pairs: list[tuple[str, str]] = handled) -> None:
                mark_pop3_seen(uow.session, self.account_id, pairs)

            self._ingest_batch(
                list(by_number.values()), _pop3_fetcher(pop3, by_number), remember, "POP3"
            )

    # -- the shared part ------------------------------------------------------------------------

    def _ingest_batch(
        self,
        metas: list[RemoteMessage],
        fetch_whole: Callable[[Sequence[str]], list[RemoteMessage]],
        move_checkpoint: Callable[[UnitOfWork], None],
        folder: str,
    ) -> None:
        """Ledger, screening, whole fetch, store and checkpoint of one batch."""
        assert self._ingestor is not None
        unique = list({m.id: m for m in metas}.values())
        with self._uow() as uow:
            ledger.add_pending(
                uow.session, self.account_id, [MessageRef(m.id, m.thread_id) for m in unique]
            )
            wanted, skipped = self._ingestor.screen_headers(uow.session, unique)
            uow.commit()
        whole = fetch_whole(wanted) if wanted else []
        with self._uow() as uow:
            outcomes: list[Outcome] = list(skipped)
            if whole:
                outcomes += self._ingestor.store(uow.session, whole)
            fetched_ids = {m.id for m in whole}
            outcomes += [Outcome(i, "skipped", "vanished") for i in wanted if i not in fetched_ids]
            ledger.record_outcomes(
                uow.session,
                self.account_id,
                [(o.message_id, o.outcome, o.reason, o.detail) for o in outcomes],
            )
            move_checkpoint(uow)
            stored = sum(1 for o in outcomes if o.outcome == "stored")
            self._progress.scanned += len(outcomes)
            self._progress.stored += stored
            self._progress.skipped += len(outcomes) - stored
            self._result.stored += stored
            self._result.skipped += len(outcomes) - stored
            self._result.folders[folder] = self._result.folders.get(folder, 0) + stored
            for o in outcomes:
                if o.outcome == "skipped" and o.reason:
                    key = o.reason.split(":", 1)[0]
                    self._result.skipped_by_reason[key] = (
                        self._result.skipped_by_reason.get(key, 0) + 1
                    )
            self._save_progress(uow)
            uow.commit()
        self._tick()


def _pop3_fetcher(
    pop3: Pop3Session, by_number: dict[int, RemoteMessage]
) -> Callable[[Sequence[str]], list[RemoteMessage]]:
    """Fetches whole messages (RETR) of a batch by their stable ids."""
    number_of = {meta.id: n for n, meta in by_number.items()}

    def fetch_whole(ids: Sequence[str]) -> list[RemoteMessage]:
        out = []
        for message_id in ids:
            number = number_of.get(message_id)
            if number is None:
                continue
            raw = pop3.message(number)
            whole = FetchedMessage(uid=number, internal_date=None, size=len(raw), data=raw)
            out.append(_with_raw(by_number[number], whole))
        return out

    return fetch_whole


def _parse_all(fetched: Sequence[FetchedMessage]) -> list[tuple[FetchedMessage, ParsedMail]]:
    out: list[tuple[FetchedMessage, ParsedMail]] = []
    for message in fetched:
        try:
            out.append((message, parse_message(message.data, internal_date=message.internal_date)))
        except UnparseableMessage:
            logger.info("a message with unreadable headers was left out")
    return out


def _header_pairs(data: bytes) -> tuple[tuple[str, str], ...]:
    """The header fields of a header-only fetch, as (name, value) pairs."""
    message = message_from_bytes(data, policy=policy.compat32)
    return tuple((str(k), str(v)) for k, v in message.items())


def _with_raw(meta: RemoteMessage, whole: FetchedMessage) -> RemoteMessage:
    return RemoteMessage(
        id=meta.id,
        thread_id=meta.thread_id,
        label_ids=meta.label_ids,
        history_id=None,
        internal_date=whole.internal_date or meta.internal_date,
        size_estimate=whole.size or len(whole.data),
        snippet="",
        raw=whole.data,
    )
