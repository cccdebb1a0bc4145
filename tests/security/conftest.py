"""Security tests: each numbered defect of the hardening work, and the sweeps that keep whole
classes of them from coming back (tenant isolation, role matrix, secrets canaries).

``settings`` points every Google endpoint at the emulator, so connecting Gmail runs the real
OAuth flow; :class:`GmailConnector` drives it (API start, consent form, browser callback).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inboxcrm.config import Settings
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.mail_accounts.conftest import GmailConnector


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Google's endpoints on the emulator, no local quota gate."""
    return settings.model_copy(
        update={"google_api_base": emulator.url, "quota_units_per_second": 0.0}
    )


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Iterator[GmailConnector]:
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()
