"""Shared test configuration. Fixtures live in tests/fixtures/ and are registered here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.runtime",
    "tests.fixtures.web",
    "tests.fixtures.emulator",
    "tests.fixtures.live_server",
    "tests.fixtures.mail_servers",
]
