"""``inboxcrm audit verify``: check that no audit entry was altered, inserted or removed."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (default: control plane and all).")
    ] = None,
) -> None:
    """Walk each audit chain; exit 0 with the entry counts, or 1 naming the first bad entry."""
    from inboxcrm.services.audit_verification import verify_audit_chains

    with cli_runtime() as runtime:
        results = verify_audit_chains(runtime, tenant)
    failed = False
    for result in results:
        report = result.report
        if report.ok:
            typer.echo(f"{result.where}: intact, {report.count} entries")
        else:
            failed = True
            typer.echo(f"{result.where}: BROKEN: {report.problem}")
    if failed:
        raise typer.Exit(1)
