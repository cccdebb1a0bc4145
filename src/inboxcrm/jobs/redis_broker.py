"""The Redis broker: kombu's Redis transport, with unacknowledged messages kept alive.

Celery acknowledges a task after it ran (``acks_late``). Until then kombu keeps the message in
Redis's ``unacked`` hash with the time it was received in the ``unacked_index`` sorted set, and
any worker hands it out again once that time is ``visibility_timeout`` old. Stock kombu never
refreshes that time, so the timeout has to exceed the longest task (an hour, here) and a task
of a killed worker waits that long to run again.

Here every worker re-stamps the messages it still holds each time its event loop checks for
abandoned ones (every ``RESTORE_INTERVAL`` seconds), so the visibility timeout can be short
(``VISIBILITY_TIMEOUT``): a message stays invisible exactly as long as its worker lives, and a
dead worker's task runs again about a minute later. Long tasks never run twice at once because
they renew their own lease (``sync.lease``) anyway.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)

VISIBILITY_TIMEOUT = 60
"""Seconds after which a message whose worker stopped re-stamping it is handed out again."""
RESTORE_INTERVAL = 5
"""Seconds between a worker's re-stamping of its messages and its check for abandoned ones."""


class QoS(kombu_redis.QoS):
    """Re-stamps the messages this channel holds before looking for abandoned ones."""

    def restore_visible(self, *args: Any, **kwargs: Any) -> Any:
        self.confirm_held()
        return super().restore_visible(*args, **kwargs)  # type: ignore[no-untyped-call]

    def confirm_held(self) -> None:
        held = [tag for tag in list(self._delivered) if tag not in self._dirty]
        if not held:
            return
        now = time.time()
        with self.channel.conn_or_acquire() as client:
            # XX: only messages still unacknowledged (never resurrect an acknowledged one).
            client.zadd(self.unacked_index_key, dict.fromkeys(held, now), xx=True)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    """Give Celery this class as ``broker_transport`` with a ``redis://`` URL."""

    Channel = Channel
