"""``inboxcrm bench --only tracking`` runs end to end (a short run: this checks that it works
and answers correctly, not how fast — speed is for the benchmark itself)."""

from __future__ import annotations

import pytest

from inboxcrm.benchmarks.tracking_endpoints import tracking_results


@pytest.mark.slow
def test_the_tracking_benchmark_measures_both_endpoints() -> None:
    results = tracking_results(seconds=0.5)
    names = [r.name for r in results]
    assert any(n.startswith("tracking pixel /t/o/, requests/s") for n in names)
    assert any(n.startswith("tracking click /t/c/, requests/s") for n in names)
    for result in results:
        assert result.value >= 0
        assert "unexpected answers" not in result.note
    assert all(r.value > 0 for r in results if r.unit == "req/s")
