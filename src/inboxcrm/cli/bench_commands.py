"""``inboxcrm bench``: measure the quality bars and write docs/benchmarks.md."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import console

ALL = ("timeline", "sync", "quota", "memory", "tracking", "search", "push", "scale", "tenants")


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
    mailboxes: Annotated[
        int, typer.Option(help="Mailboxes of the scale-out benchmark (each concurrency).")
    ] = 200,
    tenant_count: Annotated[int, typer.Option(help="Tenants of the tenancy benchmark.")] = 1000,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Small sizes (a smoke run in about two minutes; not for the record)."
        ),
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
        messages, quota_messages, memory_sizes = 1000, 1000, (1000, 5000)
    results: list[BenchResult] = []
    durations: dict[str, float] = {}
    run_started = time.monotonic()
    failed: list[str] = []
    for name in chosen:
        console.print(f"running benchmark [bold]{name}[/bold] ...")
        started = time.monotonic()
        try:
            if name in READ_PATH_AND_SCALE:
                results += _read_path_and_scale(name, quick, mailboxes, tenant_count)
            elif name == "timeline":
                results += timeline_results(1_000, 60) if quick else timeline_results()
            elif name == "sync":
                results += sync_rate_results(messages)
            elif name == "quota":
                results += quota_bound_results(quota_messages)
            elif name == "memory":
                results += memory_results(*memory_sizes)
            elif name == "tracking":
                results += tracking_results(1.0) if quick else tracking_results()
        except Exception as exc:  # one benchmark's failure loses none of the others' figures
            failed.append(name)
            console.print(f"[red]benchmark {name} failed:[/red] {type(exc).__name__}: {exc}")
            results.append(
                BenchResult(
                    f"benchmark {name} completed", 0.0, "runs", "1", False, type(exc).__name__
                )
            )
        durations[name] = time.monotonic() - started
        console.print(f"  {name} took {durations[name]:.0f} s")
    results += duration_results(durations, time.monotonic() - run_started, quick=quick)
    if quick:
        results = [replace(r, note=f"{r.note}; --quick" if r.note else "--quick") for r in results]
    write_report(output, results, command=" ".join(["inboxcrm", *sys.argv[1:]]))
    console.print(render_run(results))
    console.print(f"written to {output}")
    if failed:
        console.print(f"[red]failed:[/red] {', '.join(failed)}")
        raise typer.Exit(1)


READ_PATH_AND_SCALE = ("search", "push", "scale", "tenants")
WHOLE_RUN_TARGET_S = {True: 120.0, False: 900.0}  # --quick: 2 minutes; the whole bench: 15


def duration_results(durations: dict[str, float], total: float, *, quick: bool) -> list[Any]:
    """How long each benchmark took, and the whole run beside its target when every benchmark
    ran (the CLI's own start-up is outside it: a second or two)."""
    from inboxcrm.benchmarks.results import BenchResult

    target = WHOLE_RUN_TARGET_S[quick]
    whole = set(durations) == set(ALL)
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items())
    return [
        BenchResult(
            "bench duration, whole run" if whole else "bench duration, benchmarks run",
            total,
            "s",
            f"< {target:.0f} s" if whole else "n/a",
            total < target if whole else None,
            parts,
            key="bench.duration_whole" if whole else "bench.duration_partial",
        )
    ]


def _read_path_and_scale(name: str, quick: bool, mailboxes: int, tenants: int) -> list[Any]:
    """The read-path, push and scale-out benchmarks, at full or ``--quick`` sizes."""
    if name == "search":
        from inboxcrm.benchmarks.record_search import search_results

        return search_results(3_000, 21) if quick else search_results()
    if name == "push":
        from inboxcrm.benchmarks.push_latency import push_results

        return push_results(6, 6.0) if quick else push_results()
    if name == "scale":
        from inboxcrm.benchmarks.scale_out import scale_out_results

        return scale_out_results(3, 10, (1, 2)) if quick else scale_out_results(mailboxes)
    from inboxcrm.benchmarks.tenant_scale import tenant_results

    return tenant_results(5, 1) if quick else tenant_results(tenants)
