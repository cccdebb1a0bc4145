"""Running a real sync beside a browser test, held at a chosen call so the page can be watched
in the middle of the run (no timing assumptions: the run waits until the test lets it go on)."""

from __future__ import annotations

import threading
from typing import Any

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import SyncReport, sync_account

HOLD_LIMIT_S = 120.0


class HeldMailbox:
    """A mailbox client that answers the first ``open_calls`` calls of ``method`` and holds each
    later one until :meth:`go_on`; every other call passes straight through."""

    def __init__(self, inner: Any, method: str, *, open_calls: int = 1) -> None:
        self._inner = inner
        self._method = method
        self._open_calls = open_calls
        self._calls = 0
        self._lock = threading.Lock()
        self.holding = threading.Event()
        self._released = threading.Event()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name != self._method:
            return target

        def held(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._calls += 1
                hold = self._calls > self._open_calls
            if hold:
                self.holding.set()
                if not self._released.wait(HOLD_LIMIT_S):
                    raise RuntimeError("the test never let the held sync go on")
            return target(*args, **kwargs)

        return held

    def go_on(self) -> None:
        self._released.set()


class BackgroundSync:
    """``sync_account`` on a thread of its own; :meth:`finish` waits for its report."""

    def __init__(
        self, runtime: Runtime, tenant: str, account_id: int, mailbox: Any, *, full: bool = False
    ) -> None:
        self.report: SyncReport | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.report = sync_account(runtime, tenant, account_id, full=full, mailbox=mailbox)
            except BaseException as exc:  # reported by finish()
                self.error = exc

        self._thread = threading.Thread(target=run, name="held-sync", daemon=True)
        self._thread.start()

    def finish(self) -> SyncReport:
        self._thread.join(HOLD_LIMIT_S)
        assert not self._thread.is_alive(), "the sync did not finish"
        if self.error is not None:
            raise self.error
        assert self.report is not None and self.report.status == "ok", self.report
        return self.report
