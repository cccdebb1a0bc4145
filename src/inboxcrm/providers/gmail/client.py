"""A Gmail mailbox over the official google-api-python-client.

:class:`GmailMailbox` implements :class:`~inboxcrm.providers.base.MailboxClient` for one account.
It builds the Gmail service once (from the discovery document shipped with the client library,
pointed at ``api_base``), owns one ``httplib2.Http`` (not thread-safe, so neither is the mailbox:
use one per worker thread), charges every call — and every inner call of a batch — to its
:class:`~inboxcrm.sync.quota.QuotaGate`, and retries transient failures with full-jitter
backoff (:mod:`inboxcrm.sync.backoff`). Batches re-send only the inner calls that failed.

Rate limits never fail a call by themselves: refused calls wait (``Retry-After`` honoured, at
least one quota window) and are sent again without using up an attempt, and the gate, when it
is a :class:`~inboxcrm.sync.quota.PacingFeedback`, is told so it slows down. "Too many
concurrent requests" (Google runs the parts of a batch in parallel) sets the batch size to
the parts Google did answer; it is probed one part higher only after many clean batches.

Errors: ``ProviderAuthError`` (revoked/expired grant, missing scope), ``ProviderTransientError``
(retries used up), :class:`~inboxcrm.providers.base.HistoryExpired`, ``ProviderError`` (any
other refusal).

Batched ``messages.get`` calls (the bulk of a full sync) are written and read by
:class:`_BatchGet`, a lean implementation of Google's batch wire format over the same
``AuthorizedHttp`` transport; ``googleapiclient.http.BatchHttpRequest`` builds and parses a MIME
object tree per inner call, about a millisecond each (docs/decisions/0003). Every other call goes
through google-api-python-client.

``messages.send`` is not idempotent: it is retried only after answers that prove the message
was not accepted (429 and 403 rate limits); after a 5xx or a timeout the caller gets a
``ProviderTransientError`` and decides (a duplicate send is worse than a late one): the sending
service asks :meth:`GmailMailbox.find_sent` (by Message-ID) before it sends again. Messages over
a few MB go through the upload endpoint (multipart), up to Gmail's 35 MiB.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote, urlencode, urlsplit

import google_auth_httplib2  # type: ignore[import-untyped]
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from inboxcrm.domain.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderPermissionError,
    ProviderTransientError,
)
from inboxcrm.providers.base import (
    FetchFormat,
    HistoryDelta,
    HistoryExpired,
    ListPage,
    ListQuery,
    MailboxProfile,
    MessageRef,
    PushPermissionDenied,
    RemoteMessage,
    WatchInfo,
)
from inboxcrm.providers.gmail import endpoints, mapping
from inboxcrm.sync.backoff import (
    RATE_LIMIT_WAIT_SECONDS,
    backoff_delay,
    classify,
    http_status,
    is_concurrency_limit,
    is_rate_limit,
    retry_after_seconds,
    retry_call,
)
from inboxcrm.sync.quota import (
    PacingFeedback,
    QuotaGate,
    UnlimitedGate,
    acquire_parts,
    gate_rate,
    settle,
    units_for,
)

__all__ = ["BATCH_SIZE", "MODIFY_CHUNK", "GmailMailbox", "GmailProvider", "gmail_batch_uri"]

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
"""Inner calls per batch request (Google allows 100 but advises at most 50 for Gmail)."""
BATCH_SHARE_OF_RATE = 0.2
"""A batch costs at most this share of the per-second quota (250 units/s: 10 gets per batch)."""
CONCURRENCY_REPROBE = 200
"""Clean batches before a batch one part larger than the learnt concurrency is tried again."""
MODIFY_CHUNK = 1000
"""Ids per messages.batchModify (Gmail's limit)."""
DEFAULT_TIMEOUT_SECONDS = 60.0
UPLOAD_THRESHOLD = 4 * 1024 * 1024
"""Raw messages larger than this go through the upload endpoint instead of a JSON ``raw``."""
MAX_SEND_BYTES = 35 * 1024 * 1024
"""Gmail's limit for a sent message (messages.send mediaUpload maxSize)."""
QUOTA_RETRY_FLOOR_SECONDS = 0.25
"""Parts refused for quota wait at least this long (or their Retry-After) before they are sent
again, through the gate, which the refusal has just slowed down."""

T = TypeVar("T")


def gmail_batch_uri(api_base: str) -> str:
    """The Gmail batch endpoint for ``api_base`` (``new_batch_http_request`` ignores it)."""
    return endpoints.batch_uri(api_base)


def _get_part(boundary: str, index: int, target: str) -> str:
    """One part of a batch request: an ``application/http`` GET of ``target`` (path and query)
    without headers of its own: headers of the outer request (``Authorization`` among them,
    set by ``AuthorizedHttp``) apply to every part. Answers are matched by ``Content-ID``."""
    return (
        f"--{boundary}\r\nContent-Type: application/http\r\n"
        f"Content-Transfer-Encoding: binary\r\nContent-ID: <{boundary}+{index}>\r\n\r\n"
        f"GET {target} HTTP/1.1\r\nAccept: application/json\r\n\r\n"
    )


class _BatchReads:
    """GET calls on the mailbox (paths under ``users/me/``, with their queries) sent as one
    batch request (Google's ``multipart/mixed`` format); an inner error becomes the
    ``HttpError`` googleapiclient would have raised, so :func:`classify` treats both paths
    alike."""

    def __init__(self, api_base: str) -> None:
        self.batch_uri = gmail_batch_uri(api_base)
        base_path = "" if endpoints.is_google(api_base) else urlsplit(api_base).path.rstrip("/")
        self._prefix = f"{base_path}/gmail/v1/users/me/"

    def body(self, targets: Sequence[str], boundary: str) -> bytes:
        chunks = [_get_part(boundary, n, self._prefix + t) for n, t in enumerate(targets)]
        chunks.append(f"--{boundary}--\r\n")
        return "".join(chunks).encode()

    def execute(
        self, http: Any, targets: Sequence[str]
    ) -> dict[int, tuple[int, httplib2.Response, bytes]]:
        """Send the batch; answers by the target's position: (status, headers, body)."""
        boundary = "inboxcrm_" + uuid.uuid4().hex
        body = self.body(targets, boundary)
        return dict(_send_batch(http, self.batch_uri, body, boundary, len(targets)))


class _BatchGet:
    """``messages.get`` (or ``threads.get``) calls sent as one batch request
    (:class:`_BatchReads`), answers by message id."""

    def __init__(self, api_base: str, resource: str = "messages") -> None:
        self._reads = _BatchReads(api_base)
        self.batch_uri = self._reads.batch_uri
        self._resource = resource

    def _targets(self, ids: Sequence[str], fmt: str, metadata_headers: Sequence[str]) -> list[str]:
        params = [("format", fmt), *(("metadataHeaders", h) for h in metadata_headers)]
        query = urlencode([*params, ("alt", "json")])
        return [f"{self._resource}/{quote(message_id, safe='')}?{query}" for message_id in ids]

    def body(
        self, ids: Sequence[str], fmt: str, metadata_headers: Sequence[str], boundary: str
    ) -> bytes:
        return self._reads.body(self._targets(ids, fmt, metadata_headers), boundary)

    def execute(
        self, http: Any, ids: Sequence[str], fmt: str, metadata_headers: Sequence[str]
    ) -> dict[str, tuple[int, httplib2.Response, bytes]]:
        """Send the batch; answers by message id: (status, response headers, body)."""
        answers = self._reads.execute(http, self._targets(ids, fmt, metadata_headers))
        return {ids[index]: answer for index, answer in answers.items()}


def _list_target(query: ListQuery) -> str:
    """The ``messages.list`` call of the first page of ``query``, as a batch part's target."""
    params = [
        ("q", query.query),
        ("maxResults", str(min(max(query.page_size, 1), 500))),
        ("includeSpamTrash", "true" if query.include_spam_trash else "false"),
        ("alt", "json"),
    ]
    return "messages?" + urlencode(params)


OPENING_READS: dict[str, tuple[str, str]] = {
    "profile": ("getProfile", "profile?alt=json"),
    "send_as": ("settings.sendAs.list", "settings/sendAs?alt=json"),
    "labels": ("labels.list", "labels?alt=json"),
}
"""The reads a full sync opens with: (quota method, batch part target) by name."""


def _send_batch(
    http: Any, uri: str, body: bytes, boundary: str, parts: int
) -> Iterator[tuple[int, tuple[int, httplib2.Response, bytes]]]:
    """POST a batch request of ``parts`` parts (Content-IDs ``<boundary>+<n>``); yields each
    answered part's position with its (status, headers, body). A refused batch raises the
    HttpError googleapiclient would."""
    resp, content = http.request(
        uri,
        method="POST",
        body=body,
        headers={"content-type": f'multipart/mixed; boundary="{boundary}"'},
    )
    if resp.status >= 300:
        raise HttpError(resp, content, uri=uri)
    for content_id, status, headers, part in _split_batch_answer(
        resp.get("content-type", ""), content
    ):
        index = content_id.rpartition("+")[2]
        if index.isdigit() and int(index) < parts:
            yield int(index), (status, headers, part)


def _boundary_of(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    raise ProviderTransientError("batch answer without a multipart boundary")


def _head_fields(block: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return fields


def _split_batch_answer(
    content_type: str, content: bytes
) -> Iterator[tuple[str, int, httplib2.Response, bytes]]:
    """(Content-ID, status, headers, body) of each part of a batch answer.

    Works on offsets into ``content``: only each part's body is copied out (message bodies
    can be megabytes).
    """
    delimiter = b"--" + _boundary_of(content_type).encode("latin-1")
    at = content.find(delimiter)
    while at >= 0:
        begin = at + len(delimiter)
        if content.startswith(b"--", begin):
            return  # the closing delimiter
        following = content.find(delimiter, begin)
        stop = following if following >= 0 else len(content)
        outer_end = content.find(b"\r\n\r\n", begin, stop)
        status_end = content.find(b"\r\n", outer_end + 4, stop) if outer_end >= 0 else -1
        head_end = content.find(b"\r\n\r\n", status_end, stop) if status_end >= 0 else -1
        at = following
        if head_end < 0:
            continue  # not an HTTP answer: the call counts as unanswered
        content_id = _head_fields(content[begin:outer_end]).get("content-id", "").strip("<> ")
        try:
            status = int(content[outer_end + 4 : status_end].split(b" ", 2)[1])
        except (IndexError, ValueError):
            continue
        fields = _head_fields(content[status_end + 2 : head_end])
        length = fields.get("content-length", "")
        body_start = head_end + 4
        if length.isdigit():
            body = content[body_start : min(body_start + int(length), stop)]
        else:
            body = content[body_start:stop].removesuffix(b"\r\n")
        headers = httplib2.Response({**fields, "status": str(status)})
        yield content_id, status, headers, body


class GmailMailbox:
    """One Gmail account. See the module docstring; not thread-safe."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_base: str,
        quota: QuotaGate | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 32.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        rate_limit_wait_s: float = RATE_LIMIT_WAIT_SECONDS,
    ) -> None:
        self._credentials = credentials
        self._api_base = api_base.rstrip("/")
        self._quota = quota or UnlimitedGate()
        self._pacer = self._quota if isinstance(self._quota, PacingFeedback) else None
        self._rate_limit_wait_s = rate_limit_wait_s
        self._batch_limit = BATCH_SIZE
        """Inner calls per batch now: halved on "too many concurrent requests", regrown slowly."""
        self._clean_batches = 0
        self._concurrency_known = False
        self._attempts = attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._rand = rand
        self._http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=timeout)
        )
        self._service: Any = endpoints.build_service(
            "gmail", "v1", http=self._http, api_base=self._api_base
        )
        self._users: Any = self._service.users()
        self._batch_get = _BatchGet(self._api_base)
        self._batch_threads = _BatchGet(self._api_base, "threads")
        self._batch_reads = _BatchReads(self._api_base)
        self._labels_cache: dict[str, str] | None = None
        self._labels_read_ahead = False
        """The labels cache was read ahead: a name missing from it is created at once."""
        self._read_ahead: dict[str, Any] = {}
        """Answers of :meth:`read_ahead` not used yet, by read name."""

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        """The (possibly refreshed) credentials; persist ``.token``/``.expiry`` if wanted."""
        return self._credentials

    def _call(self, method: str, request_factory: Callable[[], Any]) -> Any:
        """Execute one API request with quota, retries and error mapping."""

        def attempt() -> Any:
            self._quota.acquire(units_for(method))
            try:
                return request_factory().execute(http=self._http, num_retries=0)
            finally:
                settle(self._quota)

        try:
            return self._retry(attempt)
        except HttpError as exc:
            raise ProviderError(
                f"Gmail {method} refused: HTTP {http_status(exc)} {exc.reason}"
            ) from exc

    def _retry(self, fn: Callable[[], T]) -> T:
        return retry_call(
            fn,
            attempts=self._attempts,
            base=self._backoff_base,
            cap=self._backoff_cap,
            sleep=self._sleep,
            rand=self._rand,
            pacer=self._pacer,
            rate_limit_wait_s=self._rate_limit_wait_s,
        )

    # -- MailboxClient ----------------------------------------------------------------------

    def read_ahead(self, *, profile: bool, send_as: bool, labels: bool) -> None:
        """The reads asked for as the parts of one batch request (see
        :class:`~inboxcrm.providers.base.OpeningReads`). A part that fails, or the batch as a
        whole, leaves that read to its own call, which retries; refused credentials raise."""
        asked = (("profile", profile), ("send_as", send_as), ("labels", labels))
        names = [name for name, wanted in asked if wanted]
        if len(names) < 2:
            return  # one read is one round trip either way
        for name in names:
            self._quota.acquire(units_for(OPENING_READS[name][0]))
        try:
            answers = self._batch_reads.execute(self._http, [OPENING_READS[n][1] for n in names])
        except Exception as exc:  # the batch as a whole failed
            self._raise_if_refused(exc)
            logger.info("batch of %d opening reads failed (%s)", len(names), type(exc).__name__)
            answers = {}
        finally:
            settle(self._quota)
        for index, (status, _headers, body) in answers.items():
            if status >= 300:
                continue
            try:
                data = json.loads(body)
            except ValueError:
                continue
            if names[index] == "labels":
                try:
                    self._labels_cache = mapping.labels_by_name(data)
                except (KeyError, TypeError):
                    continue
                self._labels_read_ahead = True
            else:
                self._read_ahead[names[index]] = data

    def _raise_if_refused(self, exc: BaseException) -> None:
        """A failed batch that says the credentials or the grant do not allow the calls."""
        kind = classify(exc)
        if kind == "auth":
            raise ProviderAuthError("Gmail rejected the credentials") from exc
        if kind == "permission":
            raise ProviderPermissionError("the grant does not allow reading mail") from exc

    def get_profile(self) -> MailboxProfile:
        data = self._read_ahead.pop("profile", None)
        if data is not None:
            try:
                return mapping.profile_from_json(data)
            except (KeyError, TypeError, ValueError):
                pass  # not a profile after all: ask on its own
        data = self._call("getProfile", lambda: self._users.getProfile(userId="me"))
        return mapping.profile_from_json(data)

    def iter_message_ids(
        self,
        *,
        query: str | None = None,
        label_ids: Sequence[str] = (),
        include_spam_trash: bool = False,
        page_size: int = 500,
        page_token: str | None = None,
    ) -> Iterator[MessageRef]:
        while True:
            params: dict[str, Any] = {
                "userId": "me",
                "maxResults": min(max(page_size, 1), 500),
                "includeSpamTrash": include_spam_trash,
            }
            if query:
                params["q"] = query
            if label_ids:
                params["labelIds"] = list(label_ids)
            if page_token:
                params["pageToken"] = page_token
            data = self._call("messages.list", partial(self._users.messages().list, **params))
            for item in data.get("messages") or ():
                yield mapping.message_ref_from_json(item)
            page_token = data.get("nextPageToken")
            if not page_token:
                return

    def list_first_pages(
        self,
        queries: Sequence[str | ListQuery],
        *,
        page_size: int = 500,
        include_spam_trash: bool = False,
    ) -> list[ListPage | None]:
        """The first page of each query's ``messages.list``, as the parts of batch requests
        (one round trip per batch instead of one per query). A part that fails, or a batch
        that fails as a whole, leaves None for its queries: the caller lists those with
        :meth:`iter_message_ids`, which has the retries. Credentials refused or a grant
        without the scope raise, as for any call."""
        targets = [
            _list_target(
                q if isinstance(q, ListQuery) else ListQuery(q, page_size, include_spam_trash)
            )
            for q in queries
        ]
        pages: list[ListPage | None] = [None] * len(targets)
        start = 0
        while start < len(targets):
            parts = acquire_parts(
                self._quota,
                units_for("messages.list"),
                min(self._batch_size("messages.list"), len(targets) - start),
            )
            try:
                answers = self._batch_reads.execute(self._http, targets[start : start + parts])
            except Exception as exc:  # the batch as a whole failed
                self._raise_if_refused(exc)
                logger.info("batch of %d listings failed (%s)", parts, type(exc).__name__)
                answers = {}
            finally:
                settle(self._quota)
            limited: list[BaseException] = []
            for offset, (status, headers, body) in answers.items():
                if status >= 300:
                    error = HttpError(headers, body, uri=self._batch_reads.batch_uri)
                    if is_rate_limit(error):
                        limited.append(error)
                    continue
                try:
                    data = json.loads(body)
                    refs = tuple(
                        mapping.message_ref_from_json(m) for m in data.get("messages") or ()
                    )
                except (KeyError, ValueError, TypeError):
                    continue
                pages[start + offset] = ListPage(refs, data.get("nextPageToken") or None)
            if answers:
                # As for fetch batches: the batch size follows Google's concurrency, the pace
                # its quota refusals.
                answered = sum(1 for offset in answers if pages[start + offset] is not None)
                self._learn_from_batch(parts, answered, limited)
            start += parts
        return pages

    def fetch_messages(
        self,
        ids: Sequence[str],
        *,
        fmt: FetchFormat = "raw",
        metadata_headers: Sequence[str] = (),
    ) -> list[RemoteMessage]:
        found: dict[str, RemoteMessage] = {}
        unique = list(dict.fromkeys(ids))
        start = 0
        while start < len(unique):
            size = self._batch_size()
            found.update(self._fetch_batch(unique[start : start + size], fmt, metadata_headers))
            start += size
        return [found[i] for i in unique if i in found]

    def fetch_threads(
        self, thread_ids: Sequence[str], *, fmt: FetchFormat = "full"
    ) -> list[RemoteMessage]:
        """Every message of these threads (``threads.get``, 10 units a thread, in batches),
        thread by thread; threads that no longer exist are left out. ``raw`` is not a format
        of threads.get: messages come ``full`` (attachments as size and attachment id)."""
        if fmt == "raw":
            raise ValueError("threads.get has no raw format")
        found: dict[str, list[RemoteMessage]] = {}
        unique = list(dict.fromkeys(thread_ids))
        start = 0
        while start < len(unique):
            size = self._batch_size("threads.get")
            chunk = unique[start : start + size]
            found.update(self._fetch_batch(chunk, fmt, (), method="threads.get"))
            start += size
        return [m for t in unique for m in found.get(t, ())]

    @overload
    def _fetch_batch(
        self, ids: Sequence[str], fmt: FetchFormat, metadata_headers: Sequence[str]
    ) -> dict[str, RemoteMessage]: ...

    @overload
    def _fetch_batch(
        self,
        ids: Sequence[str],
        fmt: FetchFormat,
        metadata_headers: Sequence[str],
        *,
        method: Literal["threads.get"],
    ) -> dict[str, list[RemoteMessage]]: ...

    def _fetch_batch(
        self,
        ids: Sequence[str],
        fmt: FetchFormat,
        metadata_headers: Sequence[str],
        *,
        method: str = "messages.get",
    ) -> dict[str, Any]:
        """One batch with its retries. Rate-limited parts are retried without using up
        attempts (for up to ``rate_limit_wait_s`` of waiting); other transient failures count.
        ``method``: ``messages.get`` (answers by message id) or ``threads.get`` (by thread id,
        each a list of messages)."""
        results: dict[str, Any] = {}
        pending = list(ids)
        counted = failures_seen = 0
        waited = 0.0
        while True:
            failures: dict[str, BaseException] = {}
            size = self._batch_size(method)
            start = 0
            while start < len(pending):
                # As many parts as the quota window has room for now (a batch never bursts
                # into a full window), at most a batch.
                parts = acquire_parts(
                    self._quota, units_for(method), min(size, len(pending) - start)
                )
                chunk = pending[start : start + parts]
                try:
                    failures.update(self._run_batch(chunk, fmt, metadata_headers, results, method))
                finally:
                    settle(self._quota)
                start += parts
            retry: list[str] = []
            limited: list[BaseException] = []
            for message_id, error in failures.items():
                kind = classify(error)
                if kind == "auth":
                    raise ProviderAuthError("Gmail rejected the credentials") from error
                if kind == "permission":
                    raise ProviderPermissionError(
                        "the grant does not allow reading mail"
                    ) from error
                if kind == "transient":
                    retry.append(message_id)
                    if is_rate_limit(error):
                        limited.append(error)
                elif http_status(error) == 404:
                    logger.debug("message %s vanished before it was fetched", message_id)
                else:
                    logger.warning(
                        "message %s could not be fetched: %s", message_id, type(error).__name__
                    )
            self._learn_from_batch(len(pending), len(pending) - len(retry), limited)
            if not retry:
                return results
            if len(limited) < len(retry):
                counted += 1
            if counted >= self._attempts or (limited and waited >= self._rate_limit_wait_s):
                raise ProviderTransientError(
                    f"{len(retry)} messages still failing after {failures_seen + 1} attempts"
                )
            delay = backoff_delay(
                failures_seen, base=self._backoff_base, cap=self._backoff_cap, rand=self._rand
            )
            failures_seen += 1
            quota_limited = [e for e in limited if not is_concurrency_limit(e)]
            if quota_limited:
                hints = [h for h in map(retry_after_seconds, quota_limited) if h is not None]
                # Google's windows are moving: parts refused for them would be refused
                # again sooner (as fast as batches are written now).
                floor = max([QUOTA_RETRY_FLOOR_SECONDS, *hints])
                delay = max(delay, min(floor, self._backoff_cap))
            if limited:
                waited += delay
            logger.info("retrying %d failed batch parts in %.2fs", len(retry), delay)
            self._sleep(delay)
            pending = retry

    def _batch_size(self, method: str = "messages.get") -> int:
        """Inner calls for the next batch: within the concurrency learnt so far, and costing at
        most :data:`BATCH_SHARE_OF_RATE` of a second's quota, so that batches follow one
        another through Google's moving window instead of bursting into it."""
        size = self._batch_limit
        rate = gate_rate(self._quota)
        if rate is not None:
            size = min(size, max(1, int(rate * BATCH_SHARE_OF_RATE / units_for(method))))
        return size

    def _learn_from_batch(self, sent: int, answered: int, limited: Sequence[BaseException]) -> None:
        """Adapt batch size (concurrency refusals) and pace (quota refusals) to the answers."""
        concurrency = [e for e in limited if is_concurrency_limit(e)]
        if concurrency:
            # The parts Google answered show how many calls it runs at once for this user;
            # stay there (probing one more only after CONCURRENCY_REPROBE clean batches).
            self._batch_limit = max(1, min(answered, self._batch_limit - 1))
            self._concurrency_known = True
            self._clean_batches = 0
            logger.info("too many concurrent requests: batches of %d now", self._batch_limit)
        elif sent and not limited:
            self._clean_batches += 1
            wait = CONCURRENCY_REPROBE if self._concurrency_known else 4
            if self._batch_limit < BATCH_SIZE and self._clean_batches >= wait:
                self._batch_limit += 1
                self._clean_batches = 0
        if self._pacer is not None:
            quota = [e for e in limited if not is_concurrency_limit(e)]
            if quota:
                hints = [h for h in map(retry_after_seconds, quota) if h is not None]
                self._pacer.rate_limited(max(hints) if hints else None)
            elif not limited:
                self._pacer.succeeded()

    def _run_batch(
        self,
        ids: Sequence[str],
        fmt: FetchFormat,
        metadata_headers: Sequence[str],
        results: dict[str, Any],
        method: str = "messages.get",
    ) -> dict[str, BaseException]:
        """One batch request of ``method`` (messages.get or threads.get); fills ``results``,
        returns failures by id. The caller has charged the quota for them."""
        headers = list(metadata_headers) if fmt == "metadata" else []
        threads = method == "threads.get"
        batch = self._batch_threads if threads else self._batch_get
        try:
            answers = batch.execute(self._http, ids, fmt, headers)
            unauthorized = [i for i in ids if i in answers and answers[i][0] == 401]
            if unauthorized:
                # The token expired between the outer request and a part (googleapiclient
                # refreshes and sends those parts again too).
                self._refresh_credentials()
                answers.update(batch.execute(self._http, unauthorized, fmt, headers))
        except Exception as exc:  # the batch request as a whole failed
            kind = classify(exc)
            if kind == "auth":
                raise ProviderAuthError("Gmail rejected the credentials") from exc
            if kind == "permission":
                raise ProviderPermissionError("the grant does not allow reading mail") from exc
            if kind == "client":
                raise ProviderError(f"Gmail batch refused: {type(exc).__name__}") from exc
            return {message_id: exc for message_id in ids if message_id not in results}
        failures: dict[str, BaseException] = {}
        for message_id in ids:
            answer = answers.get(message_id)
            if answer is None:
                failures[message_id] = ProviderTransientError("no answer in the batch")
                continue
            status, response, body = answer
            if status >= 300:
                resource = "threads" if threads else "messages"
                uri = f"{self._api_base}/gmail/v1/users/me/{resource}/{message_id}"
                failures[message_id] = HttpError(response, body, uri=uri)
                continue
            try:
                data = json.loads(body)
                results[message_id] = (
                    mapping.thread_messages_from_json(data)
                    if threads
                    else mapping.message_from_json(data)
                )
            except (KeyError, ValueError, TypeError) as exc:
                failures[message_id] = exc
        return failures

    def _refresh_credentials(self) -> None:
        credentials: Any = self._credentials
        credentials.refresh(google_auth_httplib2.Request(self._http.http))

    def list_history(
        self,
        start_history_id: int,
        *,
        page_token: str | None = None,
        label_id: str | None = None,
    ) -> HistoryDelta:
        params: dict[str, Any] = {
            "userId": "me",
            "startHistoryId": str(start_history_id),
            "maxResults": 500,
        }
        if page_token:
            params["pageToken"] = page_token
        if label_id:
            params["labelId"] = label_id

        def attempt() -> Any:
            self._quota.acquire(units_for("history.list"))
            try:
                return self._users.history().list(**params).execute(http=self._http, num_retries=0)
            finally:
                settle(self._quota)

        try:
            data = self._retry(attempt)
        except HttpError as exc:
            if http_status(exc) == 404:
                raise HistoryExpired(
                    f"history id {start_history_id} is no longer available"
                ) from exc
            raise ProviderError(f"Gmail history.list refused: HTTP {http_status(exc)}") from exc
        return mapping.history_from_json(data, start_history_id=start_history_id)

    def watch(
        self,
        topic: str,
        *,
        label_ids: Sequence[str] = (),
        exclude_label_ids: Sequence[str] = (),
    ) -> WatchInfo:
        body: dict[str, Any] = {"topicName": topic}
        if label_ids:
            body["labelIds"] = list(label_ids)
            body["labelFilterBehavior"] = "include"
        elif exclude_label_ids:
            body["labelIds"] = list(exclude_label_ids)
            body["labelFilterBehavior"] = "exclude"
        try:
            data = self._call("watch", lambda: self._users.watch(userId="me", body=body))
        except ProviderError as exc:
            cause = exc.__cause__
            if cause is not None and http_status(cause) == 403 and _pubsub_denied(cause):
                raise PushPermissionDenied(topic) from cause
            raise
        return mapping.watch_from_json(data)

    def stop_watch(self) -> None:
        self._call("stop", lambda: self._users.stop(userId="me"))

    def list_send_as(self) -> list[str]:
        data = self._read_ahead.pop("send_as", None)
        if data is not None:
            try:
                return mapping.send_as_addresses(data)
            except (KeyError, TypeError, ValueError):
                pass  # not a send-as list after all: ask on its own
        data = self._call(
            "settings.sendAs.list", lambda: self._users.settings().sendAs().list(userId="me")
        )
        return mapping.send_as_addresses(data)

    def ensure_label(self, name: str) -> str:
        key = name.strip().lower()
        fresh, self._labels_read_ahead = self._labels_read_ahead, False
        if self._labels_cache is None or (key not in self._labels_cache and not fresh):
            self._labels_cache = self._list_labels()
        label_id = self._labels_cache.get(key)
        if label_id is not None:
            return label_id
        body = {
            "name": name.strip(),
            "labelListVisibility": "labelShow",
            "messageListVisibility": "show",
        }
        try:
            created = self._call(
                "labels.create", lambda: self._users.labels().create(userId="me", body=body)
            )
        except ProviderError as exc:  # created meanwhile by another worker: 409
            if http_status(exc.__cause__ or exc) != 409:
                raise
            self._labels_cache = self._list_labels()
            if key in self._labels_cache:
                return self._labels_cache[key]
            raise
        label_id = str(created["id"])
        self._labels_cache[key] = label_id
        return label_id

    def _list_labels(self) -> dict[str, str]:
        data = self._call("labels.list", lambda: self._users.labels().list(userId="me"))
        return mapping.labels_by_name(data)

    def add_labels(self, message_ids: Sequence[str], label_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(message_ids))
        for start in range(0, len(ids), MODIFY_CHUNK):
            body = {"ids": ids[start : start + MODIFY_CHUNK], "addLabelIds": list(label_ids)}
            self._call(
                "messages.batchModify",
                partial(self._users.messages().batchModify, userId="me", body=body),
            )

    def modify_message(
        self, message_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """messages.modify: the labels of one message (a user's archive or read/unread)."""
        body = {"addLabelIds": list(add), "removeLabelIds": list(remove)}
        self._call(
            "messages.modify",
            partial(self._users.messages().modify, userId="me", id=message_id, body=body),
        )

    def modify_thread(
        self, thread_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """threads.modify: the labels of every message of one thread."""
        body = {"addLabelIds": list(add), "removeLabelIds": list(remove)}
        self._call(
            "threads.modify",
            partial(self._users.threads().modify, userId="me", id=thread_id, body=body),
        )

    def send(self, raw: bytes, *, thread_id: str | None = None) -> MessageRef:
        """messages.send of ``raw``; over :data:`UPLOAD_THRESHOLD` bytes through the upload
        endpoint (``/upload/gmail/v1/users/me/messages/send``, multipart), up to 35 MiB."""
        if len(raw) > MAX_SEND_BYTES:
            raise ProviderError(f"the message is {len(raw)} bytes; Gmail accepts at most 35 MiB")
        for attempt in range(self._attempts):
            self._quota.acquire(units_for("messages.send"))
            try:
                data = self._send_request(raw, thread_id).execute(http=self._http, num_retries=0)
            except Exception as exc:
                kind = classify(exc)
                rejected_before_processing = http_status(exc) in (403, 429) and kind == "transient"
                if rejected_before_processing and attempt < self._attempts - 1:
                    self._sleep(
                        backoff_delay(
                            attempt, base=self._backoff_base, cap=self._backoff_cap, rand=self._rand
                        )
                    )
                    continue
                status = http_status(exc)
                where = f" (HTTP {status})" if status else f" ({type(exc).__name__})"
                if kind == "auth":
                    raise ProviderAuthError("Gmail rejected the credentials") from exc
                if kind == "permission":
                    raise ProviderPermissionError("the grant does not allow sending") from exc
                if kind == "transient":
                    raise ProviderTransientError(
                        f"Gmail send failed{where}; the message may or may not have been sent"
                    ) from exc
                raise ProviderError(f"Gmail refused the message{where}") from exc
            return mapping.message_ref_from_json(data)
        raise ProviderTransientError("Gmail send rate-limited")  # pragma: no cover

    def _send_request(self, raw: bytes, thread_id: str | None) -> Any:
        messages = self._users.messages()
        if len(raw) <= UPLOAD_THRESHOLD:
            body: dict[str, Any] = {"raw": mapping.b64url_encode(raw)}
            if thread_id:
                body["threadId"] = thread_id
            return messages.send(userId="me", body=body)
        metadata: dict[str, Any] = {"threadId": thread_id} if thread_id else {}
        media = MediaInMemoryUpload(raw, mimetype="message/rfc822", resumable=False)
        request = messages.send(userId="me", body=metadata, media_body=media)
        # The client keeps the discovery document's scheme and path for uploads (it swaps only
        # the host for api_endpoint): put the upload path under ``api_base`` as it is.
        _, sep, upload_path = str(request.uri).partition("/upload/")
        if sep:
            request.uri = f"{self._api_base}/upload/{upload_path}"
        return request

    def find_sent(self, message_id_header: str) -> MessageRef | None:
        """The message whose Message-ID is ``message_id_header`` (``rfc822msgid:``), if any.

        How a retry after an ambiguous failure (5xx, timeout) learns whether Gmail had in fact
        accepted the message, so that it is never sent twice.
        """
        query = "rfc822msgid:" + message_id_header.strip("<>")
        for ref in self.iter_message_ids(query=query, include_spam_trash=True, page_size=10):
            return ref
        return None

    def get_attachment(self, message_id: str, attachment_id: str) -> bytes:
        data = self._call(
            "messages.attachments.get",
            lambda: (
                self._users.messages()
                .attachments()
                .get(userId="me", messageId=message_id, id=attachment_id)
            ),
        )
        return mapping.b64url_decode(str(data.get("data") or ""))


def _pubsub_denied(exc: BaseException) -> bool:
    """Google's answer to a watch whose Pub/Sub topic Gmail may not publish to."""
    content: Any = getattr(exc, "content", b"")
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    return "pubsub" in text.lower() or "not authorized" in text.lower()


class GmailProvider:
    """Opens :class:`GmailMailbox` clients (a ``MailProvider[Credentials]``)."""

    name = "gmail"

    def __init__(self, api_base: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._api_base = api_base
        self._timeout = timeout

    def open_mailbox(
        self, credentials: Credentials, *, quota: QuotaGate | None = None
    ) -> GmailMailbox:
        """A client for the mailbox behind ``credentials``, charging ``quota`` (per mailbox)."""
        return GmailMailbox(
            credentials, api_base=self._api_base, quota=quota, timeout=self._timeout
        )
