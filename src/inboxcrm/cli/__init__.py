"""The ``inboxcrm`` command line. Each area registers its commands from its own module.

Commands import their heavy dependencies inside the function body so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="inboxcrm",
    help="inboxcrm: a self-hostable, multi-tenant CRM built around Gmail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root() -> None:
    """inboxcrm: a self-hostable, multi-tenant CRM built around Gmail."""


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from inboxcrm.cli import (  # noqa: F401
        admin_commands,
        audit_commands,
        bench_commands,
        demo_command,
        emulator_command,
        job_commands,
        keys_commands,
        privacy_commands,
        server_commands,
        staff_commands,
        sync_commands,
    )


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
