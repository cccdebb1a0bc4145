"""``create_celery(settings)``: the Celery application of one deployment.

One task code path everywhere. With ``INBOXCRM_BROKER_URL`` empty the broker is the embedded
SQLite file ``{data_dir}/broker.sqlite3`` (``sqlite_broker``); ``sqla+<url>`` uses the same
transport on another database; ``redis://...`` is the scale-out broker (``redis_broker``).
Messages are JSON only, acknowledged after the task ran, one prefetched at a time, and every
task has a time limit from the registry. On both brokers a worker keeps the messages it holds
alive, so the task of a worker that dies (``kill -9``, a lost machine) is handed out again
promptly: within seconds on the embedded broker, about a minute on Redis. A broker restart does
not stop running tasks, and workers reconnect for as long as it takes (``inboxcrm worker`` also
restarts a worker that stops on an unrecoverable error).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery

from inboxcrm.config import Settings
from inboxcrm.jobs.registry import (
    DEFAULT_QUEUE,
    DEFAULT_TIME_LIMIT,
    TaskRegistry,
    load_default_registry,
)

logger = logging.getLogger(__name__)

EMBEDDED_BROKER_FILE = "broker.sqlite3"
BEAT_SCHEDULE_FILE = "beat-schedule"


def broker_url_for(settings: Settings) -> str:
    """The broker URL Celery connects to (for the embedded broker, without the ``sqla+`` prefix)."""
    if not settings.broker_url:
        return f"sqlite:///{settings.data_dir / EMBEDDED_BROKER_FILE}"
    if settings.broker_url.startswith("sqla+"):
        return settings.broker_url.removeprefix("sqla+")
    return settings.broker_url


def _register_tasks(app: Celery, registry: TaskRegistry) -> None:
    for spec in registry.tasks().values():
        # shared=False: Celery would otherwise add the task to every app created later.
        app.task(
            name=spec.name,
            shared=False,
            time_limit=spec.time_limit,
            soft_time_limit=spec.soft_time_limit,
            autoretry_for=spec.retry_on,
            max_retries=spec.max_retries,
            retry_backoff=True,
            retry_backoff_max=600,
            retry_jitter=True,
        )(spec.func)


def create_celery(
    settings: Settings, *, key_prefix: str = "", registry: TaskRegistry | None = None
) -> Celery:
    """The Celery app for ``settings``, with every registered task and periodic schedule.

    ``key_prefix`` (default: ``settings.job_key_prefix``) namespaces every queue name (and, on
    Redis, every key) so that several deployments or parallel tests can share one broker.
    ``registry`` defaults to the package's.
    """
    key_prefix = key_prefix or settings.job_key_prefix
    registry = registry if registry is not None else load_default_registry()
    registry.check()
    app = Celery("inboxcrm", set_as_current=False)

    transport_options: dict[str, Any] = {}
    conf: dict[str, Any] = {}
    if settings.embedded_jobs:
        from inboxcrm.jobs.sqlite_broker import Transport

        conf["broker_transport"] = Transport
    elif settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        from inboxcrm.jobs import redis_broker

        # Workers re-stamp the messages they hold (redis_broker), so a short visibility timeout
        # hands a dead worker's task out again within about a minute, never a live one's.
        conf["broker_transport"] = redis_broker.Transport
        transport_options.update(
            visibility_timeout=redis_broker.VISIBILITY_TIMEOUT,
            unacked_restore_interval=redis_broker.RESTORE_INTERVAL,
            unacked_restore_throttle=1,
        )
        if key_prefix:
            transport_options["global_keyprefix"] = key_prefix

    queue_routes = {
        spec.name: {"queue": key_prefix + spec.queue} for spec in registry.tasks().values()
    }
    app.conf.update(
        broker_url=broker_url_for(settings),
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        result_backend=settings.result_backend_url or None,
        task_ignore_result=not settings.result_backend_url,
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A broker restart must not kill a running sync: it carries on, and its message (still
        # unacknowledged in the broker) is handed out again only if its worker dies.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_time_limit=DEFAULT_TIME_LIMIT,
        task_soft_time_limit=DEFAULT_TIME_LIMIT - DEFAULT_TIME_LIMIT // 10,
        task_default_queue=key_prefix + DEFAULT_QUEUE,
        task_routes=queue_routes,
        timezone="UTC",
        enable_utc=True,
        beat_schedule_filename=str(settings.data_dir / BEAT_SCHEDULE_FILE),
        beat_schedule={
            job.name: {
                "task": job.task_name,
                "schedule": timedelta(seconds=job.seconds),
                "kwargs": dict(job.kwargs),
            }
            for job in registry.periodic().values()
        },
        **conf,
    )
    _register_tasks(app, registry)
    return app


def queue_names(registry: TaskRegistry | None = None, *, key_prefix: str = "") -> list[str]:
    """Every queue a worker should consume by default."""
    registry = registry if registry is not None else load_default_registry()
    return [key_prefix + name for name in registry.queues()]
