"""``inboxcrm sync --tenant SLUG ACCOUNT_ID_OR_EMAIL [--full]``: sync one mailbox now, in this
process, with a progress bar. Safe to interrupt and run again (it resumes from its checkpoint);
refuses politely while another worker syncs the same mailbox."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime, console


@app.command("sync")
def sync_command(
    account: Annotated[str, typer.Argument(help="Mail account id or its email address.")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    full: Annotated[
        bool, typer.Option("--full", help="Run a full sync (not incremental).")
    ] = False,
) -> None:
    """Sync one connected mailbox now, showing progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy import func, select

    from inboxcrm.adapters.db.tenant_tables import MailAccountRow
    from inboxcrm.services.mail_sync import sync_account
    from inboxcrm.sync.progress import SyncProgress

    with cli_runtime() as runtime:
        with runtime.tenant_uow(tenant) as uow:
            if account.isdigit():
                account_id = uow.session.scalar(
                    select(MailAccountRow.id).where(MailAccountRow.id == int(account))
                )
            else:
                account_id = uow.session.scalar(
                    select(MailAccountRow.id).where(
                        func.lower(MailAccountRow.email) == account.strip().lower()
                    )
                )
        if account_id is None:
            console.print(f"[red]error:[/red] no mail account {account!r} in tenant {tenant}")
            raise typer.Exit(1)
        with Progress(
            TextColumn("[bold]{task.fields[phase]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("stored {task.fields[stored]} · skipped {task.fields[skipped]}"),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("sync", total=None, phase="starting", stored=0, skipped=0)

            def show(p: SyncProgress) -> None:
                bar.update(
                    task,
                    total=p.total_estimate or None,
                    completed=p.scanned,
                    phase=p.phase,
                    stored=p.stored,
                    skipped=p.skipped,
                )

            report = sync_account(runtime, tenant, account_id, full=full, progress=show)
    if report.status != "ok":
        console.print(f"sync {report.status}: {report.error or ''}".rstrip(": "))
        raise typer.Exit(0 if report.status == "already_running" else 1)
    typer.echo(
        f"{report.mode} sync done: {report.listed} listed, {report.stored} stored, "
        f"{report.skipped} skipped"
    )
