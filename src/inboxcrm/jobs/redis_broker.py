"""The Redis broker: kombu's Redis transport, with unacknowledged messages kept alive.

Celery acknowledges a task after it ran (``acks_late``). Until then kombu keeps the message in
Redis's ``unacked`` hash with the time it was received in the ``unacked_index`` sorted set, and
any worker hands it out again once that time is ``visibility_timeout`` old. Stock kombu never
refreshes that time, so the timeout has to exceed the longest task (an hour, here) and a task
of a killed worker waits that long to run again.

Here every worker re-stamps the messages it still holds each time its event loop checks for
abandoned ones (every ``RESTORE_INTERVAL`` seconds), so the visibility timeout can be short
(``VISIBILITY_TIMEOUT``): a message stays invisible exactly as long as its worker lives, and a
dead worker's task runs again about a minute later. Each worker also notes which process holds
each message (hash ``inboxcrm.holders``), so the message of a process of the same host that no
longer exists (``kill -9``) is handed out again at the next check, without waiting for the
timeout. Long tasks never run twice at once because they renew their own lease (``sync.lease``)
anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from kombu.transport import redis as kombu_redis

from inboxcrm.sync.lease import dead_local_holder

logger = logging.getLogger(__name__)

VISIBILITY_TIMEOUT = 60
"""Seconds after which a message whose worker stopped re-stamping it is handed out again."""
RESTORE_INTERVAL = 2
"""Seconds between a worker's re-stamping of its messages and its check for abandoned ones."""
HOLDERS_KEY = "inboxcrm.holders"


class QoS(kombu_redis.QoS):
    """Re-stamps the messages this channel holds before looking for abandoned ones."""

    def append(self, message: Any, delivery_tag: str) -> None:
        super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        with self.channel.conn_or_acquire() as client:
            client.hset(HOLDERS_KEY, delivery_tag, _holder())

    def ack(self, delivery_tag: str) -> None:
        super().ack(delivery_tag)  # type: ignore[no-untyped-call]
        self._forget(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue=requeue)  # type: ignore[no-untyped-call]
        self._forget(delivery_tag)

    def _forget(self, delivery_tag: str) -> None:
        with self.channel.conn_or_acquire() as client:
            client.hdel(HOLDERS_KEY, delivery_tag)

    def restore_visible(self, *args: Any, **kwargs: Any) -> Any:
        self.confirm_held()
        self.restore_dead_local()
        return super().restore_visible(*args, **kwargs)  # type: ignore[no-untyped-call]

    def confirm_held(self) -> None:
        held = [tag for tag in list(self._delivered) if tag not in self._dirty]
        if not held:
            return
        now = time.time()
        with self.channel.conn_or_acquire() as client:
            # XX: only messages still unacknowledged (never resurrect an acknowledged one).
            client.zadd(self.unacked_index_key, dict.fromkeys(held, now), xx=True)

    def restore_dead_local(self) -> None:
        """Hand out again at once the messages of processes of this host that died."""
        with self.channel.conn_or_acquire() as client:
            # Only commands kombu prefixes with ``global_keyprefix`` (ZRANGE, HGET, HDEL).
            tags = [
                raw.decode() if isinstance(raw, bytes) else str(raw)
                for raw in client.zrange(self.unacked_index_key, 0, -1) or []
            ]
            if not tags:
                return
            pipe = client.pipeline()
            for tag in tags:
                pipe.hget(HOLDERS_KEY, tag)
            for tag, raw_holder in zip(tags, pipe.execute(), strict=True):
                if raw_holder is None:
                    continue
                holder = raw_holder.decode() if isinstance(raw_holder, bytes) else str(raw_holder)
                if dead_local_holder(holder):
                    self.restore_by_tag(tag, client)  # type: ignore[no-untyped-call]
                    client.hdel(HOLDERS_KEY, tag)
                    logger.warning("message of a dead worker (%s) handed out again", holder)


def _holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:"


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    """Give Celery this class as ``broker_transport`` with a ``redis://`` URL."""

    Channel = Channel
