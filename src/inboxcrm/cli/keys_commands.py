"""``inboxcrm keys rotate``: re-encrypt every stored token under the newest Fernet key."""

from __future__ import annotations

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime, console

keys_app = typer.Typer(help="Manage the encryption keys of stored tokens.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored token of every tenant under the newest key.

    Put the new key first in INBOXCRM_FERNET_KEYS (keep the old ones after it), run this, then
    remove the old keys: everything still decrypts.
    """
    from inboxcrm.services.mail_accounts import rotate_stored_tokens

    with cli_runtime() as runtime:
        report = rotate_stored_tokens(runtime)
    typer.echo(
        f"re-encrypted {report.secrets} token(s) of {report.accounts} mail account(s) in "
        f"{report.tenants} tenant(s), and {report.pending_states} pending sign-in(s)"
    )
    if report.failures:
        console.print(
            f"[red]{len(report.failures)} value(s) could not be decrypted with any configured "
            "key:[/red] " + ", ".join(report.failures)
        )
        raise typer.Exit(1)
