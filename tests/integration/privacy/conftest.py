"""Shared fixtures of the privacy tests: the ``inboxcrm`` command line on the test's databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from click.testing import Result
from typer.testing import CliRunner

from inboxcrm.bootstrap import Runtime
from inboxcrm.cli import _register, app
from inboxcrm.config import get_settings

CliInvoker = Callable[[Sequence[str]], Result]


@pytest.fixture
def cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliInvoker]:
    """Run ``inboxcrm ARGS`` against the ``runtime`` fixture's databases."""
    settings = runtime.settings
    monkeypatch.setenv("INBOXCRM_ENVIRONMENT", "test")
    monkeypatch.setenv("INBOXCRM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("INBOXCRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INBOXCRM_TENANT_DATABASE_URL", settings.tenant_database_url)
    get_settings.cache_clear()
    _register()

    def invoke(args: Sequence[str]) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()
