"""``serve`` (the web app, plus embedded jobs when no broker is configured)."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import console, load_settings


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (INBOXCRM_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (INBOXCRM_PORT).")] = None,
    embedded_jobs: Annotated[
        bool,
        typer.Option(help="Run the job worker and scheduler in this process (embedded mode)."),
    ] = True,
) -> None:
    """Serve the web UI and API; migrates the databases first."""
    import uvicorn

    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.logging_setup import uvicorn_log_config
    from inboxcrm.services.tenants import upgrade_all_tenants
    from inboxcrm.web.app import create_app

    settings = load_settings()
    runtime = build_runtime(settings)
    runtime.upgrade_control_plane()
    count = upgrade_all_tenants(runtime)
    console.print(f"databases up to date (control plane + {count} tenant(s))")
    jobs = None
    if embedded_jobs and settings.embedded_jobs:
        from inboxcrm.jobs.embedded import start_embedded_jobs

        jobs = start_embedded_jobs(settings)
    try:
        uvicorn.run(
            create_app(runtime),
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(settings.log_level),
        )
    finally:
        if jobs is not None:
            jobs.stop()
        runtime.close()
