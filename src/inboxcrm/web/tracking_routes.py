"""The tracking endpoints ``/t/o/<token>`` (pixel) and ``/t/c/<token>`` (click), and their buffer.

They are a plain ASGI layer in front of the application (:class:`TrackingEndpoints`), not
FastAPI routes: no session, no CSRF, no dependency, no tenant database before the answer (see
:mod:`inboxcrm.services.tracking` for the whole flow). Every answer is decided by the token's
signature alone:

- ``GET|HEAD /t/o/<anything>``: always the same 1x1 GIF, ``no-store``;
- ``GET|HEAD /t/c/<token>``: a valid token redirects (302) to the target signed into it; a
  tampered, unsigned or unknown token gets the same neutral inboxcrm page (200) — never a
  redirect anywhere else.

A valid hit is handed to :class:`TrackingRecorder`, which writes batches in a background thread
(one unit of work per tenant and batch) and is flushed when the application stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from inboxcrm.services.tracking import TrackingHit, visitor_of
from inboxcrm.services.tracking_links import TrackingClaim, TrackingSigner, location_for

if TYPE_CHECKING:
    from fastapi import FastAPI

    from inboxcrm.bootstrap import Runtime

__all__ = ["PIXEL_GIF", "TrackingEndpoints", "TrackingRecorder", "install_tracking"]

logger = logging.getLogger(__name__)

PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NEUTRAL_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>inboxcrm</title></head>"
    b"<body><p>This link is not valid. If you followed it from an email, ask the sender for "
    b"the address.</p></body></html>"
)
_COMMON_HEADERS = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, private"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(PIXEL_GIF)).encode()),
    *_COMMON_HEADERS,
]
_NEUTRAL_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(NEUTRAL_PAGE)).encode()),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    *_COMMON_HEADERS,
]
OPEN_PREFIX = "/t/o/"
CLICK_PREFIX = "/t/c/"


Writer = Callable[[str, list[TrackingHit]], None]


class TrackingRecorder:
    """Collects hits and writes them in batches from one background thread.

    The thread starts with the first hit and ends after ``idle_exit`` seconds without any;
    :meth:`close` (application shutdown) writes what is left. At most ``max_pending`` hits wait
    at once; beyond that new ones are dropped (and counted in the log), never the process.
    """

    def __init__(
        self,
        write: Writer,
        *,
        interval: float = 0.25,
        max_batch: int = 1000,
        max_pending: int = 100_000,
        idle_exit: float = 5.0,
    ) -> None:
        self._write = write
        self._interval = interval
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._idle_exit = idle_exit
        self._pending: deque[TrackingHit] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0

    def submit(self, hit: TrackingHit) -> None:
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        self._pending.append(hit)
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._lock:
                if not self._closed and (self._thread is None or not self._thread.is_alive()):
                    self._thread = threading.Thread(
                        target=self._run, name="tracking-recorder", daemon=True
                    )
                    self._thread.start()

    def _take(self) -> list[TrackingHit]:
        batch: list[TrackingHit] = []
        while self._pending and len(batch) < self._max_batch:
            batch.append(self._pending.popleft())
        return batch

    def flush(self) -> int:
        """Write every waiting hit now; returns how many were handed to the writer."""
        written = 0
        with self._flush_lock:
            while True:
                batch = self._take()
                if not batch:
                    return written
                written += len(batch)
                by_tenant: dict[str, list[TrackingHit]] = defaultdict(list)
                for hit in batch:
                    by_tenant[hit.tenant].append(hit)
                for tenant, hits in by_tenant.items():
                    try:
                        self._write(tenant, hits)
                    except Exception:
                        logger.exception(
                            "could not record %d tracking hits of tenant %s", len(hits), tenant
                        )

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self.flush():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self._idle_exit:
                return

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=30)
        self.flush()
        if self.dropped:
            logger.warning("%d tracking hits were dropped (buffer full)", self.dropped)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class TrackingEndpoints:
    """ASGI middleware answering the tracking paths itself; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, signer: TrackingSigner, recorder: TrackingRecorder) -> None:
        self.app = app
        self.signer = signer
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(("/t/o/", "/t/c/")) or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        token = path[5:]
        claim = self.signer.verify(token)
        is_open = path.startswith(OPEN_PREFIX)
        if claim is not None and (claim.kind == "open") == is_open:
            self._record(scope, method, claim)
        if is_open:
            await _answer(send, 200, _PIXEL_HEADERS, PIXEL_GIF, method)
        elif claim is not None and claim.kind == "click" and claim.url:
            headers = [(b"location", location_for(claim.url).encode("ascii")), *_COMMON_HEADERS]
            headers.append((b"content-length", b"0"))
            await _answer(send, 302, headers, b"", method)
        else:
            await _answer(send, 200, _NEUTRAL_HEADERS, NEUTRAL_PAGE, method)

    def _record(self, scope: Scope, method: str, claim: TrackingClaim) -> None:
        client = scope.get("client") or ("", 0)
        agent = _header(scope, b"user-agent")[:500]
        self.recorder.submit(
            TrackingHit(
                tenant=claim.tenant,
                outbound_id=claim.outbound_id,
                recipient=claim.recipient,
                kind=claim.kind,
                link=claim.link,
                url=claim.url,
                issued_at=claim.issued_at,
                at=time.time(),
                method=method,
                user_agent=agent,
                visitor=visitor_of(str(client[0]), agent),
            )
        )


async def _answer(
    send: Send, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, method: str
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def install_tracking(app: FastAPI, runtime: Runtime) -> TrackingRecorder:
    """Put the tracking endpoints in front of ``app``; their buffer is flushed on shutdown."""
    from inboxcrm.services.tenants import get_tenant
    from inboxcrm.services.tracking import record_tracking_hits
    from inboxcrm.web.sending_deps import tracking_signer

    def write(tenant: str, hits: list[TrackingHit]) -> None:
        get_tenant(runtime, tenant)  # a token of a tenant that is gone writes nothing
        with runtime.tenant_uow(tenant) as uow:
            record_tracking_hits(uow, hits)

    recorder = TrackingRecorder(write)
    app.state.tracking_recorder = recorder
    app.add_middleware(TrackingEndpoints, signer=tracking_signer(runtime), recorder=recorder)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        try:
            async with inner(application) as state:
                yield state
        finally:
            await run_in_threadpool(recorder.close)

    app.router.lifespan_context = lifespan
    return recorder
