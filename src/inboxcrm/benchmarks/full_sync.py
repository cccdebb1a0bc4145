"""Full-sync benchmarks: processing rate, quota economy, memory flatness, quota-bound wall time.

The emulator runs in this process; every sync runs in a child process (``sync_child``) so the
child's peak RSS is the sync worker's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

from inboxcrm.benchmarks.results import BenchResult
from inboxcrm.emulator import EmulatorConfig, EmulatorControl, start_emulator

MAILBOX = "bench@inboxcrm-bench.example"


def measure_sync(
    messages: int,
    *,
    quota_units_per_s: float | None = None,
    per_minute: tuple[float, float] | None = None,
    max_concurrent: int | None = None,
    local_limit: bool = False,
) -> dict[str, Any]:
    """Generate a mailbox of ``messages`` and run one full sync of it in a child process.

    ``local_limit``: also measure the local limit of the stored messages (fetching them again),
    for the processing-rate comparison.

    ``per_minute`` = (units, window seconds): a per-user "per minute" limit over a window of that
    length (shorter than 60 s keeps the benchmark short); ``max_concurrent``: the emulator's
    per-user concurrency limit.
    """
    config = EmulatorConfig(
        generate=messages,
        seed=5,
        auto_consent=MAILBOX,
        quota_units_per_s=quota_units_per_s,
        quota_units_per_minute=per_minute[0] if per_minute else None,
        max_concurrent_per_user=max_concurrent,
    )
    # The worker's per-minute budget as a deployment would set it (units per 60 s).
    worker_per_minute = per_minute[0] * 60 / per_minute[1] if per_minute else 0.0
    with start_emulator(config) as emulator, tempfile.TemporaryDirectory() as data_dir:
        if per_minute:
            EmulatorControl(emulator.url).set_config(quota_minute_s=per_minute[1])
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "inboxcrm.benchmarks.sync_child",
                emulator.url,
                MAILBOX,
                data_dir,
                # The worker's own quota gate runs at the quota the emulator enforces, as a
                # deployment's INBOXCRM_QUOTA_UNITS_PER_SECOND matches Google's.
                str(quota_units_per_s or (1e9 if per_minute else 0)),
                str(worker_per_minute),
                "1" if local_limit else "0",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"sync benchmark child failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["messages"] = messages
    return result


def sync_rate_results(messages: int) -> list[BenchResult]:
    """Processing rate in CPU-seconds of the sync process, beside the local limit of the same
    corpus measured in the same run; quota units beside the thread-aware minimum and 5.0."""
    run = measure_sync(messages, local_limit=True)
    stored = max(run["stored"], 1)
    load = run["load_average"]
    rate = run["stored"] / run["cpu_seconds"] if run["cpu_seconds"] > 0 else 0.0
    limit = run["local_limit_per_s"]
    per_message = run["units"] / stored
    minimum = run["thread_minimum_units"]
    over = run["units"] / minimum - 1 if minimum > 0 else 0.0
    note = (
        f"{messages:,} generated, {run['stored']:,} stored in {run['cpu_seconds']:.2f} "
        f"CPU-s ({run['seconds']:.1f} s wall)"
    )
    return [
        BenchResult(
            "full sync, stored messages per CPU-second of the sync process (SQLite)",
            rate,
            "msg/s",
            ">= 1,000",
            rate >= 1000,
            note,
            key="sync.stored_per_cpu_second",
            load_average=load,
        ),
        BenchResult(
            "full sync vs the local limit (stdlib email compat32 parse + sqlite3 executemany "
            "of the same messages, same run)",
            rate / limit if limit > 0 else 0.0,
            "x",
            ">= 0.9",
            limit > 0 and rate >= 0.9 * limit,
            f"local limit {limit:,.0f} msg/CPU-s",
            key="sync.vs_local_limit",
            load_average=load,
        ),
        BenchResult(
            "full sync vs stdlib email parse rate (policy.default, every part decoded)",
            rate / run["stdlib_parse_per_s"] if run["stdlib_parse_per_s"] else 0.0,
            "x",
            ">= 0.5",
            rate >= 0.5 * run["stdlib_parse_per_s"],
            f"stdlib parse {run['stdlib_parse_per_s']:,.0f} msg/s",
            key="sync.vs_stdlib_parse",
            load_average=load,
        ),
        BenchResult(
            "Gmail quota units per stored message (messages.get alone: 5.0)",
            per_message,
            "units",
            "< 5.0",
            per_message < 5.0,
            f"{run['units']:,} units; thread-aware minimum {minimum / stored:.2f} per message",
            key="sync.units_per_stored",
        ),
        BenchResult(
            "Gmail quota units over the thread-aware minimum (listing + sum over threads of "
            "min(10, 5 x messages to store))",
            over * 100,
            "%",
            "<= 5 %",
            over <= 0.05,
            f"{run['units']:,} units vs {minimum:,} ({run['listing_units']:,} listing, "
            f"{run['threads']:,} threads)",
            key="sync.units_over_thread_minimum",
        ),
        BenchResult(
            "bodies of mail out of the sync's scope fetched on their own",
            float(run["out_of_scope_bodies_alone"]),
            "messages",
            "0",
            run["out_of_scope_bodies_alone"] == 0,
            f"{run['out_of_scope_bodies']:,} came with threads fetched whole, never stored",
            key="sync.unmatched_bodies_alone",
        ),
        BenchResult(
            "full sync worker peak RSS (the sync alone)",
            run["peak_rss_mb"],
            "MB",
            "< 300",
            run["peak_rss_mb"] < 300,
            note,
            key="sync.peak_rss_mb",
            load_average=load,
        ),
    ]


def memory_results(small: int, large: int) -> list[BenchResult]:
    """Peak RSS of the sync alone (``VmHWM`` reset after set-up), each size in a fresh
    process."""
    low = measure_sync(small)
    high = measure_sync(large)
    ratio = high["peak_rss_mb"] / low["peak_rss_mb"]
    return [
        BenchResult(
            f"peak RSS {large:,} vs {small:,} messages (each in a fresh process)",
            ratio,
            "x",
            "<= 1.2",
            ratio <= 1.2 and high["peak_rss_mb"] < 300,
            f"{low['peak_rss_mb']:.0f} MB vs {high['peak_rss_mb']:.0f} MB; "
            f"{high['stored']:,} stored at {high['stored'] / high['cpu_seconds']:,.0f} "
            "msg/CPU-s",
            key="memory.rss_ratio",
            load_average=max(low["load_average"], high["load_average"]),
        ),
        BenchResult(
            f"full sync worker peak RSS, {large:,} messages",
            high["peak_rss_mb"],
            "MB",
            "< 300",
            high["peak_rss_mb"] < 300,
            key="memory.peak_rss_large_mb",
        ),
    ]


def quota_bound_results(messages: int, quota: float = 250.0) -> list[BenchResult]:
    run = measure_sync(messages, quota_units_per_s=quota)
    minimum = run["units"] / quota
    overshoot = run["seconds"] / minimum - 1 if minimum > 0 else 0.0
    limited = run.get("rate_limited", 0)
    per_minute_units, window = 1500.0, 5.0
    limited_run = measure_sync(messages, per_minute=(per_minute_units, window), max_concurrent=8)
    limited_min = limited_run["units"] / (per_minute_units / window)
    limited_over = limited_run["seconds"] / limited_min - 1 if limited_min > 0 else 0.0
    return [
        BenchResult(
            f"full sync under {quota:.0f} units/s quota, time over the quota-bound minimum",
            overshoot * 100,
            "%",
            "<= 5 %",
            overshoot <= 0.05 and run["status"] == "ok",
            f"{run['seconds']:.1f} s for {run['units']:,} units (minimum {minimum:.1f} s), "
            f"{limited} calls rate-limited",
            key="quota.over_minimum_per_second",
            load_average=run["load_average"],
        ),
        BenchResult(
            f"full sync under {quota:.0f} units/s quota, rate-limited calls",
            float(limited),
            "calls",
            "0",
            limited == 0,
            key="quota.rate_limited_calls",
        ),
        BenchResult(
            "full sync under a per-minute limit and 8 concurrent calls, time over the minimum",
            limited_over * 100,
            "%",
            "<= 5 %",
            limited_over <= 0.05 and limited_run["status"] == "ok",
            f"{per_minute_units:.0f} units per {window:.0f} s window: "
            f"{limited_run['seconds']:.1f} s for {limited_run['units']:,} units "
            f"(minimum {limited_min:.1f} s), {limited_run.get('rate_limited', 0)} refusals",
            key="quota.over_minimum_per_minute",
            load_average=limited_run["load_average"],
        ),
    ]
