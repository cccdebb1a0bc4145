"""``inboxcrm bench``: measure the quality bars and write docs/benchmarks.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import console

ALL = ("timeline", "sync", "quota", "memory", "tracking")


@app.command("bench")
def bench(
    only: Annotated[
        list[str] | None,
        typer.Option(help=f"Run only these benchmarks (repeatable): {', '.join(ALL)}."),
    ] = None,
    messages: Annotated[int, typer.Option(help="Mailbox size of the full-sync benchmark.")] = 5000,
    quota_messages: Annotated[
        int, typer.Option(help="Mailbox size of the quota-bound benchmark.")
    ] = 10_000,
    memory_sizes: Annotated[
        tuple[int, int], typer.Option(help="Small and large mailbox of the memory benchmark.")
    ] = (10_000, 100_000),
    output: Annotated[Path, typer.Option(help="Report to update.")] = Path("docs/benchmarks.md"),
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes (a smoke run, about a minute).")
    ] = False,
) -> None:
    """Run the benchmarks and add their results, with date and machine, to the report."""
    from inboxcrm.benchmarks.full_sync import memory_results, quota_bound_results, sync_rate_results
    from inboxcrm.benchmarks.results import BenchResult, render_run, write_report
    from inboxcrm.benchmarks.timeline_pages import timeline_results
    from inboxcrm.benchmarks.tracking_endpoints import tracking_results
    from inboxcrm.logging_setup import configure_logging

    configure_logging("WARNING")
    chosen = list(only or ALL)
    unknown = sorted(set(chosen) - set(ALL))
    if unknown:
        raise typer.BadParameter(f"unknown benchmark(s): {', '.join(unknown)}", param_hint="--only")
    if quick:
        messages, quota_messages, memory_sizes = 1000, 1000, (2000, 10_000)
    results: list[BenchResult] = []
    for name in chosen:
        console.print(f"running benchmark [bold]{name}[/bold] ...")
        if name == "timeline":
            results += timeline_results()
        elif name == "sync":
            results += sync_rate_results(messages)
        elif name == "quota":
            results += quota_bound_results(quota_messages)
        elif name == "memory":
            results += memory_results(*memory_sizes)
        elif name == "tracking":
            results += tracking_results()
    write_report(output, results, command=" ".join(["inboxcrm", *sys.argv[1:]]))
    console.print(render_run(results))
    console.print(f"written to {output}")
