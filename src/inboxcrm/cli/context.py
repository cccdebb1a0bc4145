"""Helpers shared by the commands: settings, a wired runtime, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.config import Settings, get_settings
from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.logging_setup import configure_logging

console = Console(stderr=True)


def load_settings() -> Settings:
    try:
        settings = get_settings()
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return settings


@contextmanager
def cli_runtime(*, migrate_control: bool = True) -> Iterator[Runtime]:
    """A runtime for one command; domain errors become a red message and exit code 1."""
    runtime = build_runtime(load_settings())
    try:
        if migrate_control:
            runtime.upgrade_control_plane()
        yield runtime
    except InboxCrmError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
