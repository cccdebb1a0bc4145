"""Each read-path and scale-out benchmark runs at tiny sizes and yields its figures as JSON lines.

No timing is asserted (the figures are whatever the machine gives); what is checked is that each
benchmark completes, names its figures, and reports the outcomes that are not timings (every
pushed message became visible, no request failed, every sync finished, the connection peak
within its bound).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboxcrm.benchmarks.results import BenchResult, json_lines, render_run

pytestmark = pytest.mark.slow


def _parsed(results: list[BenchResult]) -> list[dict[str, object]]:
    lines = json_lines(results, when=datetime.now(UTC))
    assert lines[0] == "```jsonl" and lines[-1] == "```"
    rows = [json.loads(line) for line in lines[1:-1]]
    assert [r["benchmark"] for r in rows] == [r.name for r in results]
    assert all({"date", "value", "unit", "target", "meets", "machine"} <= set(r) for r in rows)
    return rows


def _by_name(results: list[BenchResult], prefix: str) -> BenchResult:
    return next(r for r in results if r.name.startswith(prefix))


def test_timeline_bench_at_tiny_size() -> None:
    from inboxcrm.benchmarks.timeline_pages import timeline_results

    results = timeline_results(200, 3)
    assert len(_parsed(results)) == 2
    assert "```jsonl" in render_run(results)


def test_record_search_bench_at_tiny_size_on_sqlite() -> None:
    from inboxcrm.benchmarks import record_search

    results = record_search.search_results(600, 14, ("sqlite",))
    assert [r.name for r in results] == [
        "record search, p95 (SQLite, HTTP API)",
        "record search, CPU time per request, p95 (SQLite, app process)",
    ]
    _parsed(results)
    # A last name has few matches: the page is read by primary key, not by a scan.
    plans = list(record_search.LAST_PLANS["SQLite"].values())
    assert "USING INTEGER PRIMARY KEY" in plans[0] and "SCAN contacts" not in plans[0]


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_server_url")
def test_tenant_bench_at_tiny_size() -> None:
    from inboxcrm.benchmarks.tenant_scale import tenant_results

    results = tenant_results(3, 1, 1, creators=1, sync_threads=1, messages=10)
    _parsed(results)
    assert _by_name(results, "tenancy: failed requests").value == 0
    assert _by_name(results, "tenancy: full syncs completed").ok is True
    assert _by_name(results, "tenancy: peak server connections").ok is True


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.usefixtures("postgres_server_url", "redis_server_url")
@pytest.mark.timeout(900)  # a liveness bound: two deployments start and stop on a shared machine
def test_push_bench_at_tiny_size() -> None:
    from inboxcrm.benchmarks.push_latency import push_results

    results = push_results(3, 5.0)
    _parsed(results)
    p95s = [r for r in results if r.name.startswith("push to timeline, p95")]
    assert len(p95s) == 2
    assert all(" 0 never visible" in r.note for r in p95s)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.usefixtures("postgres_server_url", "redis_server_url")
@pytest.mark.timeout(900)  # a liveness bound, as above
def test_scale_out_bench_at_tiny_size() -> None:
    from inboxcrm.benchmarks.scale_out import scale_out_results

    results = scale_out_results(2, 10, (1,))
    _parsed(results)
    assert _by_name(results, "scale-out, worker concurrency 1: calls refused").value == 0
    assert _by_name(results, "scale-out, peak connections").ok is True


def test_bench_command_reports_each_duration_and_refuses_unknown_names(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from inboxcrm.cli import _register, app

    _register()
    report = tmp_path / "benchmarks.md"
    ran = CliRunner().invoke(
        app, ["bench", "--quick", "--only", "timeline", "--output", str(report)]
    )
    assert ran.exit_code == 0, ran.output
    rows = [json.loads(line) for line in report.read_text().splitlines() if line.startswith("{")]
    duration = next(r for r in rows if r["bench"] == "bench.duration_partial")
    assert duration["unit"] == "s" and duration["value"] > 0
    assert duration["note"].startswith("timeline ")
    # Only a whole run is held to the two-minute (--quick) or fifteen-minute target.
    assert duration["meets"] is None
    assert any(r["benchmark"].startswith("timeline page of 50 items") for r in rows)

    refused = CliRunner().invoke(app, ["bench", "--only", "nosuch", "--output", str(report)])
    assert refused.exit_code == 2
    assert "unknown benchmark(s): nosuch" in refused.output


def test_a_failing_benchmark_keeps_the_others_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from inboxcrm.benchmarks import timeline_pages
    from inboxcrm.cli import _register, app

    def broken(*_args: object) -> list[BenchResult]:
        raise RuntimeError("the emulator went away")

    monkeypatch.setattr(timeline_pages, "timeline_results", broken)
    _register()
    report = tmp_path / "benchmarks.md"
    ran = CliRunner().invoke(
        app,
        ["bench", "--quick", "--only", "timeline", "--only", "tracking", "--output", str(report)],
    )
    assert ran.exit_code == 1
    assert "benchmark timeline failed" in ran.output and "the emulator went away" in ran.output
    rows = [json.loads(line) for line in report.read_text().splitlines() if line.startswith("{")]
    failed = next(r for r in rows if r["benchmark"] == "benchmark timeline completed")
    assert failed["meets"] is False and failed["note"] == "RuntimeError; --quick"
    assert any(r["benchmark"].startswith("tracking pixel") for r in rows)
