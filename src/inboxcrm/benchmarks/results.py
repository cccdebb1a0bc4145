"""Benchmark results, the machine they ran on, and the Markdown report they go into.

Each run is a table for people and, below it, one JSON line per figure (``key``, value, unit,
whether it meets its target, date, machine, machine load average) so that runs can be compared
by a script: ``grep '^{"bench"' docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPORT_HEADER = """# Benchmarks

Written by `inboxcrm bench` (newest run first). Targets are the quality bars of the product
specification; each row says whether the measured value meets its target on the machine named.
Below each table, one JSON line per figure (`grep '^{"bench"' docs/benchmarks.md` to compare
runs). Runs with `--quick` use small mailboxes: a smoke test, not the bars.
"""


@dataclass(frozen=True)
class BenchResult:
    name: str
    value: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""
    key: str = ""
    """A stable identifier of the figure for the JSON lines (default: from ``name``)."""
    load_average: float | None = None
    """The machine's 1-minute load average while it was measured."""

    def json_line(self, *, when: datetime, machine: str, command: str = "") -> str:
        key = self.key or re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")
        record = {
            "bench": key,
            "benchmark": self.name,
            "value": round(self.value, 4),
            "unit": self.unit,
            "target": self.target,
            "meets": self.ok,
            "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine,
            "load_average": None if self.load_average is None else round(self.load_average, 2),
            "note": self.note,
        }
        if command:
            record["command"] = command
        return json.dumps(record, ensure_ascii=False)


def describe_machine() -> str:
    """CPU model, cores, memory, OS and Python, as one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _format_value(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_run(
    results: list[BenchResult], *, when: datetime | None = None, command: str = ""
) -> str:
    when = when or datetime.now(UTC)
    machine = describe_machine()
    lines = [
        f"## {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}",
        "",
        *([f"Command: `{command}`", ""] if command else []),
        "| benchmark | measured | target | meets |",
        "|---|---|---|---|",
    ]
    for r in results:
        meets = {True: "yes", False: "**no**", None: "n/a"}[r.ok]
        note = f" ({r.note})" if r.note else ""
        load = f" (machine load average {r.load_average:.1f})" if r.load_average is not None else ""
        lines.append(
            f"| {r.name}{note}{load} | {_format_value(r.value)} {r.unit} | {r.target} | {meets} |"
        )
    lines += ["", *json_lines(results, when=when, machine=machine, command=command)]
    return "\n".join(lines) + "\n"


def json_lines(
    results: list[BenchResult], *, when: datetime, machine: str | None = None, command: str = ""
) -> list[str]:
    """One JSON object per figure, in a fenced block, so that runs can be compared by tools."""
    machine = machine or describe_machine()
    rows = [r.json_line(when=when, machine=machine, command=command) for r in results]
    return ["```jsonl", *rows, "```"]


def write_report(path: Path, results: list[BenchResult], *, command: str = "") -> None:
    """Insert this run at the top of the report, keeping earlier runs below it."""
    previous = ""
    if path.exists():
        text = path.read_text()
        marker = text.find("\n## ")
        previous = text[marker + 1 :] if marker >= 0 else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        REPORT_HEADER
        + "\n"
        + render_run(results, command=command)
        + ("\n" + previous if previous else "")
    )
