"""``inboxcrm staff create``: support staff, who see tenant data only under a tenant's grant."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime

staff_app = typer.Typer(help="Support staff of this installation.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


@staff_app.command("create")
def staff_create(
    email: Annotated[str, typer.Option(help="The staff member's email.")],
    password: Annotated[
        str, typer.Option(help="Password (8+ characters).", prompt=True, hide_input=True)
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a staff member and print their staff API token (shown only once).

    Staff see no tenant data until a tenant admin grants support access (Setup → Privacy, or
    POST /api/v1/support-grants); then they may read, not change, that tenant's data through
    the API with 'Authorization: Bearer <token>' and 'X-Inboxcrm-Tenant: <slug>'.
    """
    from inboxcrm.services.support_access import create_staff

    with cli_runtime() as runtime:
        _, token = create_staff(runtime, email=email, password=password, display_name=name)
    typer.echo(token)
