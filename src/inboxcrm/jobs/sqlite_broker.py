"""The embedded broker: kombu's SQLAlchemy transport, tuned for one local SQLite file.

Changes to the stock transport, each measured or needed (docs/decisions/0002-embedded-jobs.md,
docs/reliability.md):

- it polls every ``POLLING_INTERVAL`` seconds instead of kombu's 1 s, which bounds the time from
  enqueue to start (the stock transport also cannot take ``polling_interval`` as an option: it hands
  every transport option to ``create_engine``);
- the SQLite file runs in WAL mode with a busy timeout, so the web process enqueueing and the worker
  polling do not fail each other with "database is locked";
- acknowledgement is real and late. Receiving a message hides it (``visible = false``) and records
  who holds it in ``inboxcrm_inflight`` (host:pid, and when it was last confirmed alive); the
  acknowledgement, sent by the worker after the task ran, deletes both rows. While the worker
  lives its consumer loop confirms every message it holds every ``HEARTBEAT_SECONDS``; any
  worker's loop makes visible again the messages whose holder stopped confirming for
  ``VISIBILITY_TIMEOUT`` seconds, or at once when the holder is a process of this host that no
  longer exists (``kill -9``). So a
  killed worker's task runs again within seconds of another worker (or its restart) polling, and
  an acknowledged one is gone, so the file does not grow with every job ever run. (The stock
  transport keeps every received message as an invisible row forever and never redelivers it.)
"""

from __future__ import annotations

import logging
import os
import socket
import time
from json import loads
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.transport import virtual
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from inboxcrm.sync.lease import dead_local_holder

logger = logging.getLogger(__name__)

POLLING_INTERVAL = 0.1
"""Seconds between polls of an empty queue."""
HEARTBEAT_SECONDS = 5.0
"""How often a worker confirms that it still holds the messages it received."""
VISIBILITY_TIMEOUT = 30.0
"""Seconds without confirmation after which a received message is handed out again."""
INFLIGHT_TABLE = "inboxcrm_inflight"

_metadata = MetaData()
inflight = Table(
    INFLIGHT_TABLE,
    _metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(100), nullable=False),
    Column("touched_at", Float, nullable=False),
)
"""Who holds each received, unacknowledged message, and when it last said so."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:"


class QoS(virtual.QoS):
    """Acknowledgement deletes the message; rejection with requeue makes it visible again."""

    channel: Channel

    def ack(self, delivery_tag: str) -> None:
        self.channel.settle(delivery_tag, requeue=False)
        super().ack(delivery_tag)  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel.settle(delivery_tag, requeue=requeue)
        super().ack(delivery_tag)  # type: ignore[no-untyped-call]

    def restore_unacked(self) -> list[Any]:
        """At a warm shutdown: every message still held becomes visible again, in place."""
        self._flush()  # type: ignore[no-untyped-call]
        for tag in list(self._delivered):
            try:
                self.channel.settle(tag, requeue=True)
            except Exception:  # the lease runs out instead; never lose the shutdown over it
                logger.warning("could not hand back message %s at shutdown", tag, exc_info=True)
        self._delivered.clear()
        return []

    def held_tags(self) -> list[str]:
        return [tag for tag in list(self._delivered) if tag not in self._dirty]


class Channel(kombu_sqlalchemy.Channel):
    """A channel on the broker database; see the module docstring for what differs."""

    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._inflight_ids: dict[str, int] = {}
        self._holder = _holder()
        self._next_housekeeping = 0.0
        self._inflight_ready = False

    def _engine_from_config(self) -> Engine:
        url = make_url(self.connection.client.hostname)
        if url.get_backend_name() != "sqlite":
            engine: Engine = super()._engine_from_config()  # type: ignore[no-untyped-call]
            return engine
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    # -- the in-flight table ----------------------------------------------------------------

    def _ensure_inflight(self) -> None:
        if self._inflight_ready:
            return
        _metadata.create_all(self.session.connection(), checkfirst=True)
        self.session.commit()
        self._inflight_ready = True

    # -- receiving ----------------------------------------------------------------------------

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        self._ensure_inflight()
        queue_row = self._get_or_create(queue)  # type: ignore[no-untyped-call]
        session = self.session
        waiting = (
            session.query(self.message_cls.id)
            .filter(self.message_cls.queue_id == queue_row.id)
            .filter(self.message_cls.visible.is_(True))
            .limit(1)
            .first()
        )
        session.commit()
        if waiting is None:
            # An idle poll only reads: it never takes the write lock from an enqueueing process.
            raise Empty()
        if session.bind.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            message = (
                session.query(self.message_cls)
                .with_for_update()
                .filter(self.message_cls.queue_id == queue_row.id)
                .filter(self.message_cls.visible.is_(True))
                .order_by(self.message_cls.sent_at, self.message_cls.id)
                .limit(1)
                .first()
            )
            if message is None:
                raise Empty()
            raw = message.payload
            payload = loads(raw.decode() if isinstance(raw, bytes) else raw)
            message.visible = False
            session.execute(delete(inflight).where(inflight.c.message_id == message.id))
            session.execute(
                insert(inflight).values(
                    message_id=message.id, holder=self._holder, touched_at=time.time()
                )
            )
            tag = (payload.get("properties") or {}).get("delivery_tag")
            if tag:
                self._inflight_ids[str(tag)] = int(message.id)
            return payload
        finally:
            session.commit()

    def drain_events(self, timeout: float | None = None, callback: Any = None) -> Any:
        self._housekeeping()
        return super().drain_events(timeout=timeout, callback=callback)  # type: ignore[no-untyped-call]

    # -- holding and settling -----------------------------------------------------------------

    def settle(self, delivery_tag: str, *, requeue: bool) -> None:
        """Acknowledge (delete) or hand back (make visible) the message ``delivery_tag``."""
        message_id = self._inflight_ids.pop(delivery_tag, None)
        if message_id is None:
            return
        session = self.session
        messages = self.message_cls
        if requeue:
            session.execute(update(messages).where(messages.id == message_id).values(visible=True))
        else:
            session.execute(delete(messages).where(messages.id == message_id))
        session.execute(delete(inflight).where(inflight.c.message_id == message_id))
        session.commit()

    def _restore(self, message: Any) -> None:
        """Requeue in place when we still hold the row (no second copy), else re-publish."""
        tag = str(message.delivery_tag)
        if tag in self._inflight_ids:
            self.settle(tag, requeue=True)
            return
        super()._restore(message)  # type: ignore[no-untyped-call]

    def _housekeeping(self) -> None:
        """Confirm our messages; hand back those whose holder is gone. Throttled."""
        now = time.time()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HEARTBEAT_SECONDS
        try:
            self._ensure_inflight()
            self._confirm_held(now)
            self._restore_abandoned(now)
        except Exception:  # the broker file is busy: try again at the next round
            self.session.rollback()
            logger.warning("embedded broker housekeeping failed", exc_info=True)

    def _confirm_held(self, now: float) -> None:
        held = [self._inflight_ids[t] for t in self.qos.held_tags() if t in self._inflight_ids]
        if not held:
            return
        self.session.execute(
            update(inflight).where(inflight.c.message_id.in_(held)).values(touched_at=now)
        )
        self.session.commit()

    def _restore_abandoned(self, now: float) -> None:
        messages = self.message_cls
        rows = self.session.execute(select(inflight)).all()
        gone = [
            int(row.message_id)
            for row in rows
            if not str(row.holder).startswith(self._holder)
            and (float(row.touched_at) < now - VISIBILITY_TIMEOUT or dead_local_holder(row.holder))
        ]
        # Hidden by a transport that kept no in-flight row (the stock one, or a crash between).
        orphans = self.session.scalars(
            select(messages.id).where(
                messages.visible.is_(False), messages.id.not_in(select(inflight.c.message_id))
            )
        ).all()
        gone.extend(int(i) for i in orphans)
        if gone:
            self.session.execute(update(messages).where(messages.id.in_(gone)).values(visible=True))
            self.session.execute(delete(inflight).where(inflight.c.message_id.in_(gone)))
        self.session.commit()
        if gone:
            logger.warning(
                "embedded broker: %d message(s) of a vanished worker handed out again", len(gone)
            )


class Transport(kombu_sqlalchemy.Transport):
    """The embedded broker transport: give Celery this class and a plain ``sqlite:///`` URL."""

    Channel = Channel
    polling_interval = POLLING_INTERVAL
