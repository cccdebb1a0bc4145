"""The sync loop of one mailbox: full sync, incremental sync, checkpoints. Provider-neutral.

:class:`MailboxSync` drives a :class:`~inboxcrm.providers.base.MailboxClient` (Gmail today, IMAP
later) and the tenant database. One run:

1. Mode: resume an unfinished full sync from its checkpoint; else a full sync when asked or when
   there is no cursor yet; else incremental. An expired cursor (``HistoryExpired``) turns an
   incremental run into a full sync.
2. Full sync: capture the mailbox history id first; list the ids that search queries over the
   tenant's CRM addresses (and BCC addresses) select within the look-back window, into the
   ledger as ``pending`` (checkpoint: the next query; the first pages of 20 queries at a time
   come in one batch request, later pages one by one); a query over several addresses that
   lists nothing is checked with a canary (the owner's own address added must find the
   owner's mail) and, failing that, with one query per address (Gmail answers some long OR
   queries with nothing; the progress counts checks, probes and recoveries); then the fetch phase;
   then the label phase; finally the captured history id becomes the incremental cursor.
3. Incremental: read every history page from the cursor; new message ids are fetched with
   headers only and screened; only those that may match are put in the ledger as ``pending``,
   the rest are recorded as skipped. Then the fetch and label phases; the cursor advances only
   after all of it.
4. Fetch phase: pending ids in batches (one provider batch request each) fetched raw, stored by
   :class:`~inboxcrm.sync.ingest.Ingestor` together with their ledger outcomes and the progress,
   in one transaction per batch. The next batch is fetched on a background thread while the
   current one is parsed and stored (only that thread touches the mailbox client meanwhile).
   Sizes (two ``larger:`` searches in a full sync, the screening fetch in an incremental one)
   cap a batch's memory: messages over 1 MB go in batches of 8, and messages over 5 MB alone,
   both in ``full`` format, which leaves their attachments' bytes at the provider (stored as
   metadata with the provider's attachment id, content fetched on demand). A thread with two
   or more smaller messages to store is fetched whole (threads.get, ``full``).
5. Label phase: stored messages get the "Synced to inboxcrm" label (``add_labels``, never a
   removal or move), up to 1,000 ids per call; skipped when the grant has no gmail.modify
   (``apply_sync_label``), and stopped, not failed, when Google answers that the permission
   is missing (``SyncResult.degraded``: the caller tells the owner).

Every step is idempotent and committed before the next begins, so a worker killed anywhere
resumes from the last commit: nothing is lost (pending rows stay pending), nothing duplicated
(insert-if-absent everywhere). Provider errors propagate to the caller (the service decides:
auth → disconnect, transient → retry later), and so do errors of the database itself (down,
read-only, connection lost): only a message whose own rows are refused is skipped, with the
reason ``store_error``; mail is never given up because the database was briefly unavailable.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import ProviderPermissionError, ProviderTransientError
from inboxcrm.providers.base import (
    HistoryExpired,
    ListPage,
    ListQuery,
    MailboxClient,
    MessageRef,
    OpeningReads,
    RemoteMessage,
    ThreadFetcher,
)
from inboxcrm.sync import ledger
from inboxcrm.sync.autocreate import ContactAutoCreator
from inboxcrm.sync.ingest import (
    METADATA_HEADERS,
    AddressBook,
    Ingestor,
    IngestPolicy,
    Outcome,
    build_matcher,
    load_address_book,
    load_tenant_mail_settings,
    relink_stored,
)
from inboxcrm.sync.lease import MailboxLease
from inboxcrm.sync.progress import ProgressListener, SyncProgress
from inboxcrm.sync.queries import SearchChunk, after_term, build_search_chunks, build_search_queries

__all__ = [
    "SYNC_LABEL",
    "MailboxSync",
    "SyncResult",
    "account_sync_options",
    "database_unavailable",
]

logger = logging.getLogger(__name__)

SYNC_LABEL = "Synced to inboxcrm"
FETCH_BATCH = 50
LABEL_CHUNK = 1000
LIST_CHUNK = 500
FIRST_PAGES_AHEAD = 20
"""Search chunks whose first listing pages are asked for together (one batch request)."""
FETCH_WINDOW = 20
"""Batches of pending ids read from the ledger at once (fetched one ahead of storing)."""
LARGE_MESSAGE_BYTES = 5_000_000
"""Messages larger than this are fetched alone without their attachments' bytes (``full``)."""
MEDIUM_MESSAGE_BYTES = 1_000_000
MEDIUM_BATCH = 8
"""Messages of 1-5 MB are fetched in batches of this many (``full``: without their attachments'
bytes), the rest in batches of ``fetch_batch``: a batch's answer stays small whatever the
mailbox holds."""
LEASE_RENEW_SECONDS = 30.0
REOPEN_REASONS = ("no_match", "no_match_headers", "never_log")


def database_unavailable(exc: SQLAlchemyError) -> bool:
    """True for errors of the database itself (down, read-only, locked, connection lost), as
    opposed to one message's rows being refused: those must fail the run, never skip mail."""
    return isinstance(exc, OperationalError | InterfaceError) or bool(
        getattr(exc, "connection_invalidated", False)
    )


@dataclass
class SyncResult:
    mode: str
    listed: int = 0
    stored: int = 0
    skipped: int = 0
    history_id: int | None = None
    resynced: bool = False
    """True when an expired cursor turned an incremental run into a full sync."""
    first_full_sync: bool = False
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    """Features that stopped for a missing permission in this run (``"labels"``)."""


@dataclass(frozen=True)
class AccountOptions:
    lookback_days: int
    labels: tuple[str, ...] | None


def account_sync_options(settings: dict[str, Any], default_lookback_days: int) -> AccountOptions:
    """Per-account look-back (``lookback_days``) and label choice (``labels``) from settings."""
    raw_days = settings.get("lookback_days")
    days = raw_days if isinstance(raw_days, int) and raw_days > 0 else default_lookback_days
    raw_labels = settings.get("labels")
    labels = (
        tuple(str(x) for x in raw_labels) if isinstance(raw_labels, list) and raw_labels else None
    )
    return AccountOptions(lookback_days=days, labels=labels)


class MailboxSync:
    """One sync run of one mailbox. See the module docstring."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        mailbox: MailboxClient,
        tenant: str,
        account_id: int,
        bcc_secret: bytes,
        default_lookback_days: int = 365,
        lease: MailboxLease | None = None,
        listener: ProgressListener | None = None,
        fetch_batch: int = FETCH_BATCH,
        clock: Callable[[], datetime] = utcnow,
        apply_sync_label: bool = True,
        whole_threads: bool = True,
    ) -> None:
        self._uow = uow_factory
        self._mailbox = mailbox
        self.tenant = tenant
        self.account_id = account_id
        self._bcc_secret = bcc_secret
        self._default_lookback = default_lookback_days
        self._lease = lease
        self._listener = listener
        self._fetch_batch = max(1, min(fetch_batch, 100))
        self._clock = clock
        self._apply_sync_label = apply_sync_label
        self._whole_threads = whole_threads
        self._degraded: list[str] = []
        self._large: set[str] | None = None
        """Ids of messages over :data:`LARGE_MESSAGE_BYTES` (None: not asked yet)."""
        self._medium: set[str] = set()
        self._canary: bool | None = None
        """Whether the owner's own mail in the window can serve as a search canary."""
        """Ids of messages over :data:`MEDIUM_MESSAGE_BYTES` but not large."""
        self._progress = SyncProgress()
        self._book: AddressBook | None = None
        self._ingestor: Ingestor | None = None
        self._own: list[str] = []
        self._email = ""
        self._owner_user_id: int | None = None
        self._autocreate = "off"

    # -- entry point ---------------------------------------------------------------------------

    def run(self, *, full: bool = False) -> SyncResult:
        with self._uow() as uow:
            account = uow.session.get(MailAccountRow, self.account_id)
            if account is None:
                raise LookupError(f"no mail account {self.account_id}")
            self._email = account.email
            self._owner_user_id = account.user_id
            progress = SyncProgress.from_json(account.sync_progress)
            cursor = account.history_id
            first = account.last_full_sync_at is None
            options = account_sync_options(dict(account.settings or {}), self._default_lookback)
            cached_send_as = list((account.settings or {}).get("send_as") or [])
        self._options = options
        resume_full = progress.mode == "full" and progress.phase in (
            "listing",
            "fetching",
            "labelling",
        )
        opening = full or resume_full or cursor is None
        if opening and isinstance(self._mailbox, OpeningReads):
            # A full sync opens with these reads: one round trip for them all.
            self._mailbox.read_ahead(
                profile=not resume_full, send_as=True, labels=self._apply_sync_label
            )
        self._prepare(refresh_send_as=opening, cached=cached_send_as)
        if resume_full:
            self._progress = progress
            logger.info("resuming full sync of account %s at %s", self.account_id, progress.phase)
            return self._full(resume=True, first=first)
        if full or cursor is None:
            return self._full(resume=False, first=first)
        try:
            return self._incremental(cursor)
        except HistoryExpired:
            logger.info("history of account %s expired: full resync", self.account_id)
            result = self._full(resume=False, first=first)
            result.resynced = True
            return result

    # -- preparation ---------------------------------------------------------------------------

    def _prepare(self, *, refresh_send_as: bool, cached: list[str]) -> None:
        own = [a for a in cached if isinstance(a, str)]
        if refresh_send_as or not own:
            fetched = self._mailbox.list_send_as()
            own = list(dict.fromkeys([*fetched]))
            with self._uow() as uow:
                account = uow.session.get(MailAccountRow, self.account_id)
                if account is not None:
                    settings = dict(account.settings or {})
                    settings["send_as"] = own
                    account.settings = settings
                    uow.commit()
        primary = try_normalize_email(self._email) or self._email.lower()
        self._own = list(dict.fromkeys([primary, *own]))
        with self._uow() as uow:
            self._book = load_address_book(
                uow.session, tenant=self.tenant, bcc_secret=self._bcc_secret
            )
            storage, never_log, autocreate = load_tenant_mail_settings(uow.session)
        labels = self._options.labels
        policy = IngestPolicy(
            storage=storage, included_labels=frozenset(labels) if labels is not None else None
        )
        matcher = build_matcher(self._book, self._own, never_log)
        self._autocreate = autocreate
        autocreator = ContactAutoCreator(
            mode=autocreate,
            records_by_address=self._book.records_by_address,
            never_log=never_log,
            owner_user_id=self._owner_user_id,
        )
        self._ingestor = Ingestor(
            account_id=self.account_id, matcher=matcher, policy=policy, autocreator=autocreator
        )

    # -- checkpoints ---------------------------------------------------------------------------

    def _save_progress(self, uow: UnitOfWork, **account_values: Any) -> None:
        uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == self.account_id)
            .values(
                sync_phase=self._progress.phase,
                sync_progress=self._progress.to_json(),
                **account_values,
            )
            .execution_options(synchronize_session=False)
        )

    def _checkpoint(self, **account_values: Any) -> None:
        with self._uow() as uow:
            self._save_progress(uow, **account_values)
            uow.commit()
        self._tick()

    def _tick(self) -> None:
        if self._lease is not None:
            self._lease.renew(min_interval=LEASE_RENEW_SECONDS)
        if self._listener is not None:
            self._listener(self._progress)

    # -- full sync -----------------------------------------------------------------------------

    def _queries(self) -> list[SearchChunk]:
        assert self._book is not None
        entries = self._book.search_entries()
        entries.extend(self._book.bcc_addresses(self._own[0]))
        after = self._clock() - timedelta(days=self._options.lookback_days)
        chunks = build_search_chunks(entries, after=after)
        # Contact auto-creation needs mail with people who are no record yet.
        if self._autocreate == "sent":
            chunks.append(SearchChunk(f"in:sent{after_term(after)}", ()))
        elif self._autocreate == "sent_and_received":
            chunks.append(SearchChunk(after_term(after).strip(), ()))
        return chunks

    def _full(self, *, resume: bool, first: bool) -> SyncResult:
        result = SyncResult(mode="full", first_full_sync=first)
        if not resume:
            profile = self._mailbox.get_profile()
            self._progress = SyncProgress(
                mode="full",
                phase="listing",
                start_history_id=profile.history_id,
                total_estimate=0,
                started_at=self._clock().isoformat(),
            )
            self._checkpoint(last_error=None)
        if self._progress.phase == "listing":
            self._list_full(result)
            self._progress.phase = "fetching"
            self._progress.total_estimate = self._pending_count() + self._progress.scanned
            self._checkpoint()
        if self._progress.phase == "fetching":
            self._fetch_pending(result)
            self._progress.phase = "labelling"
            self._checkpoint()
        self._label_stored()
        now = self._clock()
        self._progress.phase = "done"
        self._progress.finished_at = now.isoformat()
        result.history_id = self._progress.start_history_id
        self._checkpoint(
            history_id=self._progress.start_history_id,
            last_full_sync_at=now,
            last_sync_at=now,
            last_error=None,
        )
        result.listed = self._progress.listed
        result.stored = self._progress.stored
        result.skipped = self._progress.skipped
        result.degraded = list(self._degraded)
        return result

    def _list_full(self, result: SyncResult) -> None:
        chunks = self._queries()
        key = hashlib.sha256("\n".join(c.query for c in chunks).encode()).hexdigest()[:16]
        if self._progress.query_key != key:
            # The address set changed since the checkpoint: list again from the start (the
            # ledger ignores ids it already has).
            self._progress.query_key = key
            self._progress.query_index = 0
        self._progress.query_count = len(chunks)
        first_pages: dict[int, ListPage] = {}
        checked: dict[int, bool] = {}
        asked_until = 0
        for index in range(self._progress.query_index, len(chunks)):
            if not self._options.labels and index >= asked_until:
                first_pages, checked = self._first_pages(chunks, index)
                asked_until = index + FIRST_PAGES_AHEAD
            chunk = chunks[index]
            if (
                self._list_query(chunk.query, first_pages.pop(index, None)) == 0
                and len(chunk.entries) > 1
            ):
                self._probe_empty_chunk(index, chunk, checked.get(index))
            self._progress.query_index = index + 1
            self._checkpoint()

    def _first_pages(
        self, chunks: Sequence[SearchChunk], start: int
    ) -> tuple[dict[int, ListPage], dict[int, bool]]:
        """The first listing pages of the next FIRST_PAGES_AHEAD chunks from ``start`` on, in
        one batch (with no label filter: one listing per chunk); a chunk whose page did not come
        is listed on its own. With the last chunks come the size searches of the fetch phase.
        Also returns, for the chunks of several addresses that listed nothing, whether their
        canary found the owner's mail (:meth:`_canaries`, one more batch)."""
        ahead = chunks[start : start + FIRST_PAGES_AHEAD]
        sizes = self._size_queries() if start + len(ahead) >= len(chunks) else []
        if self._large is not None:
            sizes = []
        if len(ahead) + len(sizes) < 2:
            return {}, {}
        answers = self._mailbox.list_first_pages([*(c.query for c in ahead), *sizes])
        if sizes:
            self._note_sizes(sizes, answers[len(ahead) :])
        pages = {
            start + n: page for n, page in enumerate(answers[: len(ahead)]) if page is not None
        }
        empty = {
            index: chunks[index]
            for index, page in pages.items()
            if not page.refs and page.next_page_token is None and len(chunks[index].entries) > 1
        }
        return pages, self._canaries(empty)

    def _list_query(self, query: str, first: ListPage | None = None) -> int:
        """List ``query`` (once per chosen label) into the ledger; returns the ids listed.
        ``first``: its first page, already listed (no label filter only)."""
        if first is not None:
            return self._list_rest(query, first)
        label_sets: list[tuple[str, ...]] = (
            [(label,) for label in self._options.labels] if self._options.labels else [()]
        )
        include_spam_trash = bool(
            self._options.labels and {"SPAM", "TRASH"} & set(self._options.labels)
        )
        listed = 0
        for labels in label_sets:
            listed += self._ledger_refs(
                self._mailbox.iter_message_ids(
                    query=query,
                    label_ids=labels,
                    include_spam_trash=include_spam_trash,
                    page_size=500,
                )
            )
        return listed

    def _list_rest(self, query: str, first: ListPage) -> int:
        """``first``'s messages and then the query's further pages into the ledger."""
        if first.next_page_token is None:
            return self._ledger_refs(first.refs)
        rest = self._mailbox.iter_message_ids(
            query=query, page_size=500, page_token=first.next_page_token
        )
        return self._ledger_refs(itertools.chain(first.refs, rest))

    def _ledger_refs(self, refs: Iterable[MessageRef]) -> int:
        """Put ``refs`` into the ledger, LIST_CHUNK at a time; returns how many there were."""
        listed = 0
        for chunk in _chunks(refs, LIST_CHUNK):
            self._add_listed(chunk)
            listed += len(chunk)
        return listed

    def _probe_empty_chunk(
        self, index: int, chunk: SearchChunk, checked: bool | None = None
    ) -> None:
        """A query over several addresses listed nothing: Gmail answers some long OR queries
        with nothing at all. First a canary (one call, unless ``checked`` already tells how it
        answered): the same query with the owner's own address added; if that finds the
        owner's mail, Gmail did evaluate the query and the chunk is really empty. Otherwise each
        address is listed on its own (a probe that is empty costs one call); if any finds mail,
        the chunk's answer was wrong and is recovered.
        """
        if checked if checked is not None else self._canary_answers(chunk):
            return
        found = 0
        for probe in chunk.probe_queries():
            self._progress.query_probes += 1
            found += self._list_query(probe)
        if found:
            self._progress.queries_recovered += 1
            logger.warning(
                "search query %d of account %s listed nothing, but its addresses' probes found "
                "%d messages: listed address by address",
                index,
                self.account_id,
                found,
            )

    def _first_id(self, query: str) -> str | None:
        for ref in self._mailbox.iter_message_ids(
            query=query, include_spam_trash=True, page_size=1
        ):
            return ref.id
        return None

    def _canary_answers(self, chunk: SearchChunk) -> bool:
        """True when ``chunk``'s query with the owner's address added finds the owner's mail."""
        owner_only, canary = self._canary_queries(chunk)
        if self._canary is None:
            self._canary = self._first_id(owner_only) is not None
        if not self._canary:
            return False  # the owner sent nothing in the window: no canary to check with
        self._progress.query_checks += 1
        return self._first_id(canary) is not None

    def _canary_queries(self, chunk: SearchChunk) -> tuple[str, str]:
        """(the owner's own mail in ``chunk``'s window, ``chunk``'s query with the owner's
        address added)."""
        owner = f"from:{self._own[0]}"
        cut = chunk.query.rfind("}")
        suffix = chunk.query[cut + 1 :]
        return owner + suffix, f"{chunk.query[:cut]} {owner}}}{suffix}"

    def _canaries(self, chunks: dict[int, SearchChunk]) -> dict[int, bool]:
        """:meth:`_canary_answers` of each of ``chunks``, in one batch (with the owner's own
        query, while it is not known). Chunks whose answer did not come are left out (they are
        checked one by one), as are all when the owner sent nothing in the window."""
        if not chunks or self._canary is False:
            return {}
        asked = [ListQuery(self._canary_queries(c)[1], 1, True) for c in chunks.values()]
        if self._canary is None:
            owner_only = self._canary_queries(next(iter(chunks.values())))[0]
            asked.insert(0, ListQuery(owner_only, 1, True))
        pages = self._mailbox.list_first_pages(asked)
        if self._canary is None:
            owner_page = pages.pop(0)
            if owner_page is None:
                return {}
            self._canary = bool(owner_page.refs)
            if not self._canary:
                return {}
        checked = {
            index: bool(page.refs)
            for index, page in zip(chunks, pages, strict=True)
            if page is not None
        }
        self._progress.query_checks += len(checked)
        return checked

    def _add_listed(self, refs: Sequence[MessageRef]) -> None:
        with self._uow() as uow:
            added = ledger.add_pending(uow.session, self.account_id, refs)
            self._progress.listed += added
            self._save_progress(uow)
            uow.commit()
        self._tick()

    def _pending_count(self) -> int:
        with self._uow() as uow:
            return ledger.ledger_summary(uow.session, self.account_id).pending

    # -- back-fill -----------------------------------------------------------------------------

    def backfill(self, entries: Sequence[str]) -> SyncResult:
        """Fetch and link mail with ``entries`` (addresses or ``@domain``) already in the mailbox.

        Listed ids new to the ledger become pending; ids skipped before (no match, never-log)
        are reopened; ids already stored are matched again from their stored headers. Then the
        fetch and label phases run. The incremental cursor is not touched.
        """
        result = SyncResult(mode="backfill")
        self._options = getattr(self, "_options", None) or AccountOptions(
            self._default_lookback, None
        )
        after = self._clock() - timedelta(days=self._options.lookback_days)
        queries = build_search_queries(list(entries), after=after) if entries else []
        self._progress.mode = "backfill"
        for query in queries:
            refs = list(self._mailbox.iter_message_ids(query=query, page_size=500))
            ids = [r.id for r in refs]
            with self._uow() as uow:
                known = ledger.known_ids(uow.session, self.account_id, ids)
                added = ledger.add_pending(uow.session, self.account_id, refs)
                ledger.reopen(
                    uow.session,
                    self.account_id,
                    [i for i in ids if i in known],
                    reasons=REOPEN_REASONS,
                )
                assert self._ingestor is not None
                relink_stored(uow.session, self._ingestor, [i for i in ids if i in known])
                uow.commit()
            result.listed += added
        self._fetch_pending(result)
        self._label_stored()
        result.stored = self._progress.stored
        result.skipped = self._progress.skipped
        return result

    def prepare_only(self) -> None:
        """Load account, settings and matcher without syncing (for :meth:`backfill`)."""
        with self._uow() as uow:
            account = uow.session.get(MailAccountRow, self.account_id)
            if account is None:
                raise LookupError(f"no mail account {self.account_id}")
            self._email = account.email
            self._owner_user_id = account.user_id
            self._options = account_sync_options(
                dict(account.settings or {}), self._default_lookback
            )
            cached = list((account.settings or {}).get("send_as") or [])
        self._prepare(refresh_send_as=False, cached=cached)

    # -- incremental sync ----------------------------------------------------------------------

    def _incremental(self, cursor: int) -> SyncResult:
        result = SyncResult(mode="incremental")
        self._progress = SyncProgress(
            mode="incremental", phase="incremental", started_at=self._clock().isoformat()
        )
        self._large = set()  # sizes come with the screening fetch (no search needed)
        added: dict[str, MessageRef] = {}
        page_token: str | None = None
        newest = cursor
        while True:
            delta = self._mailbox.list_history(cursor, page_token=page_token)
            for ref in delta.added:
                added.setdefault(ref.id, ref)
            newest = max(newest, delta.history_id)
            page_token = delta.next_page_token
            if page_token is None:
                break
        ids = list(added)
        with self._uow() as uow:
            known = ledger.known_ids(uow.session, self.account_id, ids)
        new_refs = [added[i] for i in ids if i not in known]
        self._progress.listed = len(new_refs)
        self._progress.total_estimate = len(new_refs)
        for start in range(0, len(new_refs), self._fetch_batch):
            self._screen([r.id for r in new_refs[start : start + self._fetch_batch]], added)
        self._progress.phase = "fetching"
        self._checkpoint()
        self._fetch_pending(result)
        self._label_stored()
        now = self._clock()
        self._progress.phase = "done"
        self._progress.finished_at = now.isoformat()
        self._checkpoint(history_id=newest, last_sync_at=now, last_error=None)
        result.history_id = newest
        result.listed = self._progress.listed
        result.stored = self._progress.stored
        result.skipped = self._progress.skipped
        result.degraded = list(self._degraded)
        return result

    def _screen(self, ids: list[str], refs: dict[str, MessageRef]) -> None:
        assert self._ingestor is not None
        messages = self._mailbox.fetch_messages(
            ids, fmt="metadata", metadata_headers=METADATA_HEADERS
        )
        if self._large is None:
            self._large = set()
        for message in messages:
            if message.size_estimate > LARGE_MESSAGE_BYTES:
                self._large.add(message.id)
            elif message.size_estimate > MEDIUM_MESSAGE_BYTES:
                self._medium.add(message.id)
        with self._uow() as uow:
            wanted, skipped = self._ingestor.screen_headers(uow.session, messages)
            ledger.add_pending(uow.session, self.account_id, [refs[i] for i in wanted])
            if skipped:
                ledger.add_pending(
                    uow.session, self.account_id, [refs[o.message_id] for o in skipped]
                )
                ledger.record_outcomes(
                    uow.session,
                    self.account_id,
                    [(o.message_id, o.outcome, o.reason, o.detail) for o in skipped],
                )
            self._progress.skipped += len(skipped)
            self._progress.scanned += len(skipped)
            self._save_progress(uow)
            uow.commit()
        self._tick()

    # -- fetch and label phases ----------------------------------------------------------------

    def _size_queries(self) -> list[ListQuery]:
        """The searches for messages over :data:`LARGE_MESSAGE_BYTES` and over
        :data:`MEDIUM_MESSAGE_BYTES` in the look-back window (spam and trash included)."""
        after = self._clock() - timedelta(days=self._options.lookback_days)
        return [
            ListQuery(f"larger:{over}{after_term(after)}", 500, True)
            for over in (LARGE_MESSAGE_BYTES, MEDIUM_MESSAGE_BYTES)
        ]

    def _note_sizes(self, queries: list[ListQuery], pages: Sequence[ListPage | None]) -> None:
        """:attr:`_large` and :attr:`_medium` from the size searches' first pages (further
        pages, or a page that did not come, one call at a time)."""
        found: list[set[str]] = []
        for query, page in zip(queries, pages, strict=True):
            if page is not None and page.next_page_token is None:
                found.append({ref.id for ref in page.refs})
                continue
            rest = self._mailbox.iter_message_ids(
                query=query.query,
                include_spam_trash=True,
                page_size=500,
                page_token=page.next_page_token if page is not None else None,
            )
            found.append({ref.id for ref in (*(page.refs if page else ()), *rest)})
        large, medium = found
        self._large = large
        self._medium = medium - large

    def _large_ids(self) -> set[str]:
        """Messages over :data:`LARGE_MESSAGE_BYTES` (and, in :attr:`_medium`, over
        :data:`MEDIUM_MESSAGE_BYTES`) in the look-back window: two searches (in one batch, or
        with the listing's last one), as a listing gives no sizes and a size probe per message
        would double the quota."""
        if self._large is None:
            queries = self._size_queries()
            self._note_sizes(queries, self._mailbox.list_first_pages(queries))
        assert self._large is not None
        return self._large

    def _fetch_pending(self, result: SyncResult) -> None:
        """Pending ids in batches fetched one ahead of storing (see :func:`_plan`): threads
        with two or more messages to store whole (threads.get), the rest raw message by
        message; medium messages in small batches and large ones alone, in ``full`` format
        (their attachments' bytes stay at Gmail), so memory per batch is bounded by the
        batch's small messages plus one large message's text."""
        size = self._fetch_batch
        large = self._large_ids() if self._large is None else self._large
        by_thread = self._whole_threads and isinstance(self._mailbox, ThreadFetcher)
        limit = size * FETCH_WINDOW
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-fetch") as fetcher:
            while True:
                with self._uow() as uow:
                    refs = ledger.next_pending_refs(
                        uow.session, self.account_id, limit, by_thread=by_thread
                    )
                    if by_thread:
                        refs = _whole_threads(refs, limit)
                    already = self._already_stored(uow, [r.id for r in refs])
                if not refs:
                    return
                medium = self._medium
                skip = already | large | medium
                batches = _plan(refs, size, skip, by_thread=by_thread)
                ahead = self._fetch_ahead(fetcher, batches[0])
                for index, batch in enumerate(batches):
                    try:
                        messages = ahead.result()
                    except ProviderTransientError:
                        # Asked for while the provider was still rate-limiting the previous
                        # batch: one more round in line, as without the fetch-ahead.
                        messages = self._fetch_planned(batch)
                    # The client (its HTTP connection, batch size and pace) serves one call at
                    # a time: the batch's bigger messages are fetched before the next batch is
                    # asked for, never while a fetch-ahead is in flight.
                    ids = batch.ids
                    bigger = [i for i in ids if i in medium and i not in already]
                    for start in range(0, len(bigger), MEDIUM_BATCH):
                        chunk = bigger[start : start + MEDIUM_BATCH]
                        messages += self._mailbox.fetch_messages(chunk, fmt="full")
                    for message_id in ids:
                        if message_id in large and message_id not in already:
                            messages += self._mailbox.fetch_messages([message_id], fmt="full")
                    if index + 1 < len(batches):
                        ahead = self._fetch_ahead(fetcher, batches[index + 1])
                    self._store_fetched(ids, messages, already, result)
                    del messages

    def _store_fetched(
        self,
        ids: list[str],
        messages: list[RemoteMessage],
        already: set[str],
        result: SyncResult,
    ) -> None:
        fetched = {m.id for m in messages}
        extra = [Outcome(i, "stored", None, "already_stored") for i in ids if i in already]
        extra += [
            Outcome(i, "skipped", "vanished") for i in ids if i not in already and i not in fetched
        ]
        self._store_batch(messages, extra, result)

    def _fetch_planned(self, batch: _Batch) -> list[RemoteMessage]:
        """The batch's messages to store: its threads whole, keeping only the messages that
        are pending in this batch (a thread also brings mail already stored, or out of the
        sync's scope: other addresses, outside the look-back window, drafts, spam), and its
        single messages raw. A message its thread did not bring (moved, deleted) is asked
        for on its own."""
        messages: list[RemoteMessage] = []
        singles = list(batch.singles)
        if batch.threads:
            wanted = set(batch.threaded)
            assert isinstance(self._mailbox, ThreadFetcher)
            seen: set[str] = set()
            for message in self._mailbox.fetch_threads(batch.threads, fmt="full"):
                if message.id in wanted and message.id not in seen:
                    seen.add(message.id)
                    messages.append(message)
            singles += [i for i in batch.threaded if i not in seen]
        if singles:
            messages += self._mailbox.fetch_messages(singles, fmt="raw")
        return messages

    def _fetch_ahead(
        self, fetcher: ThreadPoolExecutor, batch: _Batch
    ) -> Future[list[RemoteMessage]]:
        if not batch.threads and not batch.singles:
            done: Future[list[RemoteMessage]] = Future()
            done.set_result([])
            return done
        return fetcher.submit(self._fetch_planned, batch)

    def _already_stored(self, uow: UnitOfWork, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(
            uow.session.scalars(
                select(EmailMessageRow.provider_message_id).where(
                    EmailMessageRow.mail_account_id == self.account_id,
                    EmailMessageRow.provider_message_id.in_(ids),
                )
            )
        )

    def _store_batch(
        self, messages: list[RemoteMessage], extra: list[Outcome], result: SyncResult
    ) -> None:
        assert self._ingestor is not None
        try:
            with self._uow() as uow:
                outcomes = self._ingestor.store(uow.session, messages) + extra
                self._apply_outcomes(uow, outcomes, result)
                uow.commit()
            self._contacts_committed(True)
        except SQLAlchemyError as exc:
            self._contacts_committed(False)
            if database_unavailable(exc):
                raise  # not this batch's fault: the run fails and the next one resumes here
            # One bad message must not block the rest: store them one by one.
            logger.warning(
                "batch store failed for account %s; storing one by one",
                self.account_id,
                exc_info=True,
            )
            for message in messages:
                self._store_single(message, result)
            with self._uow() as uow:
                self._apply_outcomes(uow, extra, result)
                uow.commit()
        self._tick()

    def _contacts_committed(self, ok: bool) -> None:
        creator = self._ingestor.autocreator if self._ingestor is not None else None
        if creator is not None:
            if ok:
                creator.committed()
            else:
                creator.rolled_back()

    def _store_single(self, message: RemoteMessage, result: SyncResult) -> None:
        assert self._ingestor is not None
        try:
            with self._uow() as uow:
                outcomes = self._ingestor.store(uow.session, [message])
                self._apply_outcomes(uow, outcomes, result)
                uow.commit()
            self._contacts_committed(True)
        except SQLAlchemyError as exc:
            self._contacts_committed(False)
            if database_unavailable(exc):
                raise
            logger.error(
                "message %s of account %s could not be stored: %s",
                message.id,
                self.account_id,
                type(exc).__name__,
            )
            with self._uow() as uow:
                failed = Outcome(message.id, "skipped", "store_error", type(exc).__name__)
                self._apply_outcomes(uow, [failed], result)
                uow.commit()

    def _apply_outcomes(self, uow: UnitOfWork, outcomes: list[Outcome], result: SyncResult) -> None:
        ledger.record_outcomes(
            uow.session,
            self.account_id,
            [(o.message_id, o.outcome, o.reason, o.detail) for o in outcomes],
        )
        for outcome in outcomes:
            self._progress.scanned += 1
            if outcome.outcome == "stored":
                self._progress.stored += 1
            else:
                self._progress.skipped += 1
                reason = outcome.reason or "unknown"
                result.skipped_by_reason[reason] = result.skipped_by_reason.get(reason, 0) + 1
        self._save_progress(uow)

    def _label_stored(self) -> None:
        if not self._apply_sync_label or "labels" in self._degraded:
            return  # the grant does not allow changing labels (no gmail.modify)
        try:
            self._label_batches()
        except ProviderPermissionError:
            logger.warning(
                "account %s may no longer change labels; synced mail stays unlabelled",
                self.account_id,
            )
            self._degraded.append("labels")

    def _label_batches(self) -> None:
        label_id: str | None = None
        while True:
            with self._uow() as uow:
                ids = ledger.unlabelled_stored(uow.session, self.account_id, LABEL_CHUNK)
            if not ids:
                return
            if label_id is None:
                label_id = self._mailbox.ensure_label(SYNC_LABEL)
            self._mailbox.add_labels(ids, [label_id])
            with self._uow() as uow:
                ledger.mark_labelled(uow.session, self.account_id, ids)
                uow.commit()
            self._tick()


@dataclass(frozen=True)
class _Batch:
    """One step of the fetch phase: the ledger ids it settles, and how they are fetched."""

    ids: list[str]
    """Every pending id of the step (also those already stored, medium and large)."""
    threads: list[str]
    """Threads fetched whole (threads.get)..."""
    threaded: list[str]
    """... for these of their messages."""
    singles: list[str]
    """Messages fetched raw one by one (messages.get)."""


def _chunks(refs: Iterable[MessageRef], size: int) -> Iterator[list[MessageRef]]:
    """``refs`` in lists of at most ``size``, as they come (the last one shorter)."""
    it = iter(refs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _whole_threads(refs: list[MessageRef], limit: int) -> list[MessageRef]:
    """A full window ordered by thread may cut its last thread short: leave that thread to the
    next window (unless it is the only one), so each thread is fetched once, whole."""
    if len(refs) < limit or not refs:
        return refs
    last = refs[-1].thread_id
    kept = [r for r in refs if r.thread_id != last]
    return kept or refs


def _plan(
    refs: Sequence[MessageRef], size: int, skip: set[str], *, by_thread: bool
) -> list[_Batch]:
    """Batches of about ``size`` pending ids. With ``by_thread``, a thread with two or more
    messages to fetch (not stored yet, not medium or large) is fetched whole: threads.get
    costs 10 units whatever the thread's length, messages.get 5 a message."""
    groups: dict[str, list[str]] = {}
    for ref in refs:
        groups.setdefault(ref.thread_id if by_thread else ref.id, []).append(ref.id)
    batches: list[_Batch] = []
    current = _Batch([], [], [], [])
    for thread_id, ids in groups.items():
        to_fetch = [i for i in ids if i not in skip]
        current.ids.extend(ids)
        if by_thread and len(to_fetch) >= 2:
            current.threads.append(thread_id)
            current.threaded.extend(to_fetch)
        else:
            current.singles.extend(to_fetch)
        if len(current.ids) >= size:
            batches.append(current)
            current = _Batch([], [], [], [])
    if current.ids:
        batches.append(current)
    return batches
