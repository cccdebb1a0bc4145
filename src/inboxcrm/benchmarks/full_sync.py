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
from inboxcrm.emulator import EmulatorConfig, start_emulator

MAILBOX = "bench@inboxcrm-bench.example"


def measure_sync(messages: int, *, quota_units_per_s: float | None = None) -> dict[str, Any]:
    """Generate a mailbox of ``messages`` and run one full sync of it in a child process."""
    config = EmulatorConfig(
        generate=messages, seed=5, auto_consent=MAILBOX, quota_units_per_s=quota_units_per_s
    )
    with start_emulator(config) as emulator, tempfile.TemporaryDirectory() as data_dir:
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
                str(quota_units_per_s or 0),
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
    return [
        BenchResult(
            f"full sync under {quota:.0f} units/s quota, time over the quota-bound minimum",
            overshoot * 100,
            "%",
            "<= 10 %",
            overshoot <= 0.10,
            f"{run['seconds']:.1f} s for {run['units']:,} units (minimum {minimum:.1f} s)",
        )
    ]
