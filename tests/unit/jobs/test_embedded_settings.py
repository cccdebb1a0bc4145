"""The embedded worker process gets exactly the settings of the process that started it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from inboxcrm.config import Settings
from inboxcrm.jobs.embedded import settings_environment


def test_settings_survive_the_trip_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        broker_url="",
        log_json=True,
        poll_interval_seconds=42,
        fernet_keys=SecretStr("a2V5LW9uZS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWFiY2Q="),
        anthropic_api_key=SecretStr("test-key"),
    )
    monkeypatch.chdir(tmp_path)  # no .env file here
    for key, value in settings_environment(original).items():
        monkeypatch.setenv(key, value)

    rebuilt = Settings()

    assert rebuilt.model_dump() == original.model_dump()
    assert rebuilt.fernet_keys.get_secret_value() == original.fernet_keys.get_secret_value()
    assert rebuilt.anthropic_api_key is not None
    assert rebuilt.anthropic_api_key.get_secret_value() == "test-key"
