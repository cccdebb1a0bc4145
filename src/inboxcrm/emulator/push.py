"""Gmail push notifications delivered the way Cloud Pub/Sub push subscriptions deliver them.

A background thread POSTs ``{"message": {"data", "messageId", "publishTime", "attributes"},
"subscription"}`` with an OIDC bearer JWT (RS256, the emulator's key) to the endpoint configured
for the watch's topic. At most one notification per user per ``push_min_interval_s`` (changes in
between are folded into the next one, as Gmail drops extra notifications); non-2xx answers are
retried with exponential backoff up to ``push_max_attempts``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from inboxcrm.emulator.control_client import shared_ssl_context
from inboxcrm.emulator.mail_store import HistoryRecord, Mailbox
from inboxcrm.emulator.oauth import subject_id

if TYPE_CHECKING:
    from inboxcrm.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

PUSH_SERVICE_ACCOUNT = "pubsub-push@emulator-project.iam.gserviceaccount.com"


@dataclass
class PendingPush:
    email: str
    topic: str
    history_id: int
    message_id: str
    attempts: int = 0
    due: float = 0.0


class PushDispatcher:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._cond = threading.Condition()
        self._pending: dict[str, PendingPush] = {}
        self._last_sent: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._counter = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.queued: dict[str, int] = {}
        """Changes per user that passed the watch's label filter (a push was due)."""
        self.filtered: dict[str, int] = {}
        """Changes per user that the watch's label filter left without a push."""
        self._client = httpx.Client(timeout=10.0, verify=shared_ssl_context())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="emulator-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()

    def endpoint_for(self, topic: str) -> str | None:
        settings = self.state.settings
        return settings.push_endpoints.get(topic) or settings.push_endpoint

    def on_change(self, mailbox: Mailbox, entry: HistoryRecord) -> None:
        """Mailbox hook: queue a notification when the change passes the watch's label filter."""
        watch = mailbox.watch
        if watch is None or watch.expiration_ms < self.state.clock.now_ms():
            return
        if watch.label_ids:
            touched = set(entry.labels) | set(entry.changed)
            hit = bool(touched & set(watch.label_ids))
            if (watch.behavior == "include") != hit:
                self.filtered[mailbox.email] = self.filtered.get(mailbox.email, 0) + 1
                return
        self.queued[mailbox.email] = self.queued.get(mailbox.email, 0) + 1
        if self.endpoint_for(watch.topic) is None:
            return
        with self._cond:
            pending = self._pending.get(mailbox.email)
            if pending is None:
                self._counter += 1
                self._pending[mailbox.email] = PendingPush(
                    mailbox.email, watch.topic, entry.id, str(10_000_000_000 + self._counter)
                )
            else:
                pending.history_id = max(pending.history_id, entry.id)
            self._cond.notify_all()

    def _next_due(self, pending: PendingPush) -> float:
        interval = float(self.state.settings.push_min_interval_s)
        return max(pending.due, self._last_sent.get(pending.email, 0.0) + interval)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    ready = [p for p in self._pending.values() if self._next_due(p) <= now]
                    if ready:
                        break
                    waits = [self._next_due(p) - now for p in self._pending.values()]
                    self._cond.wait(timeout=min(waits) if waits else None)
                if self._stopping:
                    return
                for pending in ready:
                    del self._pending[pending.email]
                    self._last_sent[pending.email] = time.monotonic()
            for pending in ready:
                self._deliver(pending)

    def _deliver(self, pending: PendingPush) -> None:
        endpoint = self.endpoint_for(pending.topic)
        if endpoint is None:
            return
        audience = self.state.settings.push_audience or endpoint
        now = int(time.time())
        token = self.state.key.sign(
            {
                "iss": "https://accounts.google.com",
                "aud": audience,
                "azp": subject_id(PUSH_SERVICE_ACCOUNT),
                "sub": subject_id(PUSH_SERVICE_ACCOUNT),
                "email": PUSH_SERVICE_ACCOUNT,
                "email_verified": True,
                "iat": now,
                "exp": now + 3600,
            }
        )
        data = json.dumps({"emailAddress": pending.email, "historyId": pending.history_id})
        published = datetime.fromtimestamp(self.state.clock.now(), UTC)
        subscription = pending.topic.rsplit("/", 1)[-1]
        body = {
            "message": {
                "data": base64.b64encode(data.encode()).decode(),
                "messageId": pending.message_id,
                "message_id": pending.message_id,
                "publishTime": published.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "publish_time": published.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "attributes": {},
            },
            "subscription": f"projects/emulator/subscriptions/{subscription}-push",
        }
        pending.attempts += 1
        status = 0
        try:
            response = self._client.post(
                endpoint, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            logger.info("push to %s failed: %s", endpoint, type(exc).__name__)
        self.log.append(
            {
                "email": pending.email,
                "historyId": str(pending.history_id),
                "messageId": pending.message_id,
                "endpoint": endpoint,
                "status": status,
                "attempt": pending.attempts,
            }
        )
        if 200 <= status < 300:
            return
        if pending.attempts >= int(self.state.settings.push_max_attempts):
            logger.info("push for %s dropped after %d attempts", pending.email, pending.attempts)
            return
        delay = min(0.25 * 2 ** (pending.attempts - 1), 30.0)
        pending.due = time.monotonic() + delay
        with self._cond:
            newer = self._pending.get(pending.email)
            if newer is not None:
                pending.history_id = max(pending.history_id, newer.history_id)
            self._pending[pending.email] = pending
            self._cond.notify_all()
