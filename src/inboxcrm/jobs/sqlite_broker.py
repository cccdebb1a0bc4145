"""The embedded broker: kombu's SQLAlchemy transport, tuned for one local SQLite file.

Three changes to the stock transport, each measured or needed
(docs/decisions/0002-embedded-jobs.md):

- it polls every ``POLLING_INTERVAL`` seconds instead of kombu's 1 s, which bounds the time from
  enqueue to start (the stock transport also cannot take ``polling_interval`` as an option: it hands
  every transport option to ``create_engine``);
- the SQLite file runs in WAL mode with a busy timeout, so the web process enqueueing and the worker
  polling do not fail each other with "database is locked";
- a received message is deleted instead of being kept forever as an invisible row, so the file does
  not grow with every job ever run. Delivery semantics are unchanged: the stock transport never
  restores an invisible row either; a warm shutdown puts unacknowledged messages back.
"""

from __future__ import annotations

import logging
from json import loads
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

POLLING_INTERVAL = 0.1
"""Seconds between polls of an empty queue."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Channel(kombu_sqlalchemy.Channel):
    """A channel on the broker database; see the module docstring for what differs."""

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

    def _get(self, queue: str, timeout: float | None = None) -> Any:
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
            session.delete(message)
            return payload
        finally:
            session.commit()


class Transport(kombu_sqlalchemy.Transport):
    """The embedded broker transport: give Celery this class and a plain ``sqlite:///`` URL."""

    Channel = Channel
    polling_interval = POLLING_INTERVAL
