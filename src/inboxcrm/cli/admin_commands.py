"""Scriptable set-up: ``db upgrade``, ``tenant create``, ``user create``, ``token create``."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import cli_runtime, console

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
tenant_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the control plane and every tenant's database to the newest schema."""
    from inboxcrm.services.tenants import upgrade_all_tenants

    with cli_runtime() as runtime:
        count = upgrade_all_tenants(runtime)
    console.print(f"control plane and {count} tenant database(s) are up to date")


@tenant_app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Argument(help="Short name: a-z, 0-9 and '-', 3-40 characters.")],
    name: Annotated[str | None, typer.Option(help="Display name (defaults to the slug).")] = None,
) -> None:
    """Create a tenant and its own database; prints the slug."""
    from inboxcrm.services.tenants import create_tenant

    with cli_runtime() as runtime:
        tenant = create_tenant(runtime, slug, name)
    typer.echo(tenant.slug)


@user_app.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option(help="Login email.")],
    password: Annotated[
        str, typer.Option(help="Password (8+ characters).", prompt=True, hide_input=True)
    ],
    role: Annotated[str, typer.Option(help="owner, admin, manager, rep or read-only.")] = "rep",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a user (or add an existing one) as a member of a tenant."""
    from inboxcrm.services.identity import create_user

    with cli_runtime() as runtime:
        user = create_user(
            runtime,
            tenant_slug=tenant,
            email=email,
            password=password,
            role=role,
            display_name=name,
        )
    typer.echo(user.email)


@token_app.command("create")
def token_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option(help="Email of a member of the tenant.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Create a bearer API token for a user; prints it (it is shown only once)."""
    from inboxcrm.services.identity import create_api_token

    with cli_runtime() as runtime:
        token = create_api_token(runtime, tenant_slug=tenant, email=email, name=name)
    typer.echo(token)
