"""The documented relationship-strength formula: recency points + frequency points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inboxcrm.services.relationship_strength import strength_of

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)


def _days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


@pytest.mark.parametrize(
    ("moments", "label", "score"),
    [
        (_days_ago(), "Cold", 0),
        (_days_ago(200), "Cold", 0),
        (_days_ago(60), "Cold", 2),  # one interaction a quarter ago: 1 + 1
        (_days_ago(20, 40), "Warm", 3),  # 2 + 1
        (_days_ago(2), "Warm", 4),  # 3 + 1
        (_days_ago(3, 10, 20, 30), "Strong", 5),  # 3 + 2
        (_days_ago(*range(1, 80, 7)), "Strong", 6),  # weekly: 3 + 3
        (_days_ago(45, 50, 55, 60), "Warm", 3),  # 1 + 2
    ],
)
def test_labels_follow_the_formula(moments: list[datetime], label: str, score: int) -> None:
    found = strength_of(moments, NOW)
    assert (found.label, found.score) == (label, score)


def test_future_interactions_do_not_count() -> None:
    found = strength_of([NOW + timedelta(days=1)], NOW)
    assert found.last_interaction is None and found.label == "Cold"


def test_frequency_counts_only_the_last_90_days() -> None:
    found = strength_of(_days_ago(1, 100, 120, 150, 170), NOW)
    assert found.interactions_90d == 1
    assert found.score == 3 + 1
