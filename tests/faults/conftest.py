"""The fault suite (issue 7): full and incremental syncs of a generated 5,000-message mailbox under
faults, each compared with a clean run. Every test is marked ``slow`` (each takes from half a
minute to a few minutes); scenarios run in parallel-safe tests (own emulator, databases,
servers).

Fixtures: ``settings`` points Google at the emulator with no local quota gate (as the sync
integration tests do); ``gmail`` connects a mailbox through the real OAuth flow; ``redis``
and ``postgres`` are throwaway servers of the test (see ``harness``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inboxcrm.config import Settings
from tests.faults.harness import ThrowawayPostgres, ThrowawayRedis
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.mail_accounts.conftest import GmailConnector


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
        }
    )


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Iterator[GmailConnector]:
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()


@pytest.fixture
def redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()
