"""``inboxcrm worker`` and ``inboxcrm beat``: the Celery worker and the periodic scheduler."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from inboxcrm.cli import app

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from inboxcrm.config import Settings

logger = logging.getLogger(__name__)

WORKER_RESTARTS = 50
"""Times ``inboxcrm worker`` starts a worker again after an unrecoverable error (then exits)."""
WORKER_RESTART_PAUSE_CAP = 30.0


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


@app.command("worker")
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", help="Tasks run at once (default: CPU count)."),
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Comma-separated queues to consume (default: all)."),
    ] = None,
    pool: Annotated[
        Pool, typer.Option(help="prefork enforces time limits; threads suits I/O-bound tasks.")
    ] = Pool.prefork,
    beat: Annotated[
        bool,
        typer.Option("--beat", "-B", help="Also run the periodic scheduler (one per deployment)."),
    ] = False,
    imap_idle: Annotated[
        bool | None,
        typer.Option(
            "--imap-idle/--no-imap-idle",
            help="Hold IMAP IDLE connections for new mail (default: with --beat, once per "
            "deployment).",
        ),
    ] = None,
) -> None:
    """Run a job worker on the configured broker (INBOXCRM_BROKER_URL, or the embedded one).

    The worker reconnects to a broker that went away for as long as it takes; should it still
    stop on an unrecoverable error, it is started again (with a growing pause) instead of
    leaving the deployment without a worker. A shutdown asked for by a signal is final.
    """
    from celery import signals

    from inboxcrm.cli.context import load_settings
    from inboxcrm.jobs.celery_app import create_celery, queue_names

    settings = load_settings()
    celery = create_celery(settings)
    prefix = settings.job_key_prefix
    chosen = (
        [prefix + q.strip() for q in queues.split(",") if q.strip()]
        if queues
        else queue_names(key_prefix=prefix)
    )
    asked_to_stop: list[object] = []

    def note_shutdown(**_: object) -> None:
        asked_to_stop.append(True)

    signals.worker_shutting_down.connect(note_shutdown, weak=False)
    watcher = _start_imap_idle(settings) if (beat if imap_idle is None else imap_idle) else None
    exitcode = 0
    for attempt in range(WORKER_RESTARTS + 1):
        celery_worker = celery.Worker(
            concurrency=concurrency,
            queues=chosen,
            pool_cls=pool.value,
            beat=beat,
            loglevel=settings.log_level.upper(),
            redirect_stdouts=False,
            # Broadcast chatter between workers is not used; its restart after a broker
            # restart is where kombu's Redis transport used to fail for good.
            without_mingle=True,
            without_gossip=True,
            without_heartbeat=True,
        )
        celery_worker.start()
        exitcode = int(celery_worker.exitcode or 0)
        if exitcode == 0 or asked_to_stop:
            break
        pause = min(WORKER_RESTART_PAUSE_CAP, 2.0**attempt)
        logger.error(
            "the worker stopped on an unrecoverable error (exit code %s); starting it again "
            "in %.0f s (restart %d of %d)",
            exitcode,
            pause,
            attempt + 1,
            WORKER_RESTARTS,
        )
        time.sleep(pause)
    if watcher is not None:
        _stop_imap_idle(watcher)
    raise typer.Exit(exitcode)


IMAP_IDLE_STOP_SECONDS = 15.0


def _start_imap_idle(settings: Settings) -> BaseProcess:
    """The IMAP IDLE watcher of this deployment (services.mail_server_watch), started in a
    process of its own. Not a thread of this one: the prefork pool forks its children from this
    process whenever it (re)starts one, and a child forked while a watcher thread held a lock
    (logging, a connection pool) would wait on that lock for ever."""
    process = multiprocessing.get_context("spawn").Process(
        target=run_imap_idle, args=(settings, os.getpid()), name="inboxcrm-imap-idle", daemon=True
    )
    process.start()
    return process


def _stop_imap_idle(process: BaseProcess) -> None:
    process.terminate()  # SIGTERM: run_imap_idle closes its connections and returns
    process.join(IMAP_IDLE_STOP_SECONDS)
    if process.is_alive():
        process.kill()
        process.join(IMAP_IDLE_STOP_SECONDS)


def run_imap_idle(settings: Settings, parent_pid: int) -> None:
    """The IDLE watcher process: watches until SIGTERM (Ctrl-C is the parent's to handle), or
    until its worker is gone (a worker killed before it could stop this process)."""
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.logging_setup import configure_logging
    from inboxcrm.services.mail_server_watch import MailServerWatcher

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    watcher = MailServerWatcher(build_runtime(settings))
    watcher.start()
    try:
        while not stop.wait(1.0) and os.getppid() == parent_pid:
            pass
    finally:
        watcher.stop()


@app.command("beat")
def beat() -> None:
    """Run the periodic scheduler: exactly one per deployment (``serve`` runs one when embedded)."""
    from inboxcrm.cli.context import load_settings
    from inboxcrm.jobs.celery_app import create_celery

    settings = load_settings()
    celery = create_celery(settings)
    celery.Beat(loglevel=settings.log_level.upper(), redirect_stdouts=False).run()
