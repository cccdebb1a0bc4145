"""Benchmark results, the machine they ran on, and the Markdown report they go into."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPORT_HEADER = """# Benchmarks

Written by `inboxcrm bench` (newest run first). Targets are the quality bars of the product
specification; each row says whether the measured value meets its target on the machine named.
"""


@dataclass(frozen=True)
class BenchResult:
    name: str
    value: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""


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


def render_run(results: list[BenchResult], *, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    lines = [
        f"## {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {describe_machine()}",
        "",
        "| benchmark | measured | target | meets |",
        "|---|---|---|---|",
    ]
    for r in results:
        meets = {True: "yes", False: "**no**", None: "n/a"}[r.ok]
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.name}{note} | {_format_value(r.value)} {r.unit} | {r.target} | {meets} |"
        )
    lines += ["", *json_lines(results, when=when)]
    return "\n".join(lines) + "\n"


def json_lines(results: list[BenchResult], *, when: datetime) -> list[str]:
    """One JSON object per figure (in a fenced block), so that runs can be compared by tools."""
    machine = describe_machine()
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    rows = [
        json.dumps(
            {
                "date": f"{when:%Y-%m-%dT%H:%M:%SZ}",
                "benchmark": r.name,
                "value": round(r.value, 4),
                "unit": r.unit,
                "target": r.target,
                "meets": r.ok,
                "note": r.note,
                "machine": machine,
                "load_average_at_write": load,
            },
            ensure_ascii=False,
        )
        for r in results
    ]
    return ["```jsonl", *rows, "```"]


def write_report(path: Path, results: list[BenchResult]) -> None:
    """Insert this run at the top of the report, keeping earlier runs below it."""
    previous = ""
    if path.exists():
        text = path.read_text()
        marker = text.find("\n## ")
        previous = text[marker + 1 :] if marker >= 0 else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        REPORT_HEADER + "\n" + render_run(results) + ("\n" + previous if previous else "")
    )
