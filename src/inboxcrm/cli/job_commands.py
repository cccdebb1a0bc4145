"""``inboxcrm worker`` and ``inboxcrm beat``: the Celery worker and the periodic scheduler."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from inboxcrm.cli import app


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
) -> None:
    """Run a job worker on the configured broker (INBOXCRM_BROKER_URL, or the embedded one)."""
    from inboxcrm.cli.context import load_settings
    from inboxcrm.jobs.celery_app import create_celery, queue_names

    settings = load_settings()
    celery = create_celery(settings)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else queue_names()
    celery_worker = celery.Worker(
        concurrency=concurrency,
        queues=chosen,
        pool_cls=pool.value,
        beat=beat,
        loglevel=settings.log_level.upper(),
        redirect_stdouts=False,
        without_mingle=settings.embedded_jobs,
        without_gossip=settings.embedded_jobs,
    )
    celery_worker.start()
    raise typer.Exit(int(celery_worker.exitcode or 0))


@app.command("beat")
def beat() -> None:
    """Run the periodic scheduler: exactly one per deployment (``serve`` runs one when embedded)."""
    from inboxcrm.cli.context import load_settings
    from inboxcrm.jobs.celery_app import create_celery

    settings = load_settings()
    celery = create_celery(settings)
    celery.Beat(loglevel=settings.log_level.upper(), redirect_stdouts=False).run()
