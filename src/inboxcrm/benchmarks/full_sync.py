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
) -> dict[str, Any]:
    """Generate a mailbox of ``messages`` and run one full sync of it in a child process.

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
    run = measure_sync(messages)
    rate = run["stored"] / run["seconds"]
    per_message = run["units"] / max(run["stored"], 1)
    note = f"{messages:,} generated, {run['stored']:,} stored in {run['seconds']:.1f} s"
    return [
        BenchResult(
            "full sync, stored messages/s (SQLite)", rate, "msg/s", ">= 1,000", rate >= 1000, note
        ),
        BenchResult(
            "full sync vs stdlib email parse rate",
            rate / run["stdlib_parse_per_s"],
            "x",
            ">= 0.5",
            rate >= 0.5 * run["stdlib_parse_per_s"],
            f"stdlib parse {run['stdlib_parse_per_s']:,.0f} msg/s",
        ),
        BenchResult(
            "Gmail quota units per stored message", per_message, "units", "<= 6", per_message <= 6
        ),
        BenchResult(
            "full sync worker peak RSS",
            run["peak_rss_mb"],
            "MB",
            "< 300",
            run["peak_rss_mb"] < 300,
            note,
        ),
    ]


def memory_results(small: int, large: int) -> list[BenchResult]:
    low = measure_sync(small)
    high = measure_sync(large)
    ratio = high["peak_rss_mb"] / low["peak_rss_mb"]
    return [
        BenchResult(
            f"peak RSS {large:,} vs {small:,} messages",
            ratio,
            "x",
            "<= 1.2",
            ratio <= 1.2 and high["peak_rss_mb"] < 300,
            f"{low['peak_rss_mb']:.0f} MB vs {high['peak_rss_mb']:.0f} MB",
        )
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
        ),
        BenchResult(
            f"full sync under {quota:.0f} units/s quota, rate-limited calls",
            float(limited),
            "calls",
            "0",
            limited == 0,
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
        ),
    ]
