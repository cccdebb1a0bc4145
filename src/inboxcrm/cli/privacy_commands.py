"""``inboxcrm purge`` and ``inboxcrm export``: retention and data-subject access from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime, console


@app.command("purge")
def purge(
    now: Annotated[
        bool, typer.Option("--now", help="Run the purge at once (required: it deletes data).")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all).")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Ignore the grace periods: delete every deleted or disconnected thing."
        ),
    ] = False,
) -> None:
    """Hard-delete what retention says is due, then vacuum the databases.

    Records deleted more than INBOXCRM_RECORD_DELETION_GRACE_DAYS ago (with their mail), the mail
    of mailboxes disconnected more than INBOXCRM_ACCOUNT_PURGE_DAYS ago, and closed tenants past
    that period. The scheduled purge job does the same every hour.
    """
    if not now:
        console.print("[red]error:[/red] give --now to run the purge (it deletes data for good)")
        raise typer.Exit(2)
    from inboxcrm.services.retention import purge_all

    with cli_runtime() as runtime:
        reports = purge_all(runtime, tenant=tenant, force=force)
    for report in reports:
        if report.tenant_dropped:
            typer.echo(f"{report.tenant}: closed tenant's database deleted")
        else:
            typer.echo(
                f"{report.tenant}: {report.records} record(s), {report.messages} message(s), "
                f"{report.accounts} mailbox(es) purged" + (", vacuumed" if report.vacuumed else "")
            )


@app.command("export")
def export(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    out: Annotated[Path, typer.Option(help="Directory to write export.json and mail.mbox to.")],
    record: Annotated[
        str | None,
        typer.Option(help="Only one record: contact:ID, lead:ID or account:ID (default: all)."),
    ] = None,
) -> None:
    """Export a record's or the whole tenant's data: JSON document + mbox of the stored mail."""
    from inboxcrm.services.export import export_to_directory, parse_record_ref

    with cli_runtime() as runtime:
        ref = parse_record_ref(record) if record else None
        result = export_to_directory(runtime, tenant, out, record=ref)
    typer.echo(
        f"exported {result.records} record(s) and {result.messages} message(s) "
        f"to {result.directory}"
    )
