"""Browser tests run on the SQLite runtime only: they test the UI, not the database backends."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    """Overrides the parametrised backend fixture: one SQLite run per browser test."""
    return "sqlite"
