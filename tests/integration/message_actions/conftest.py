"""Message actions run on the sending suite's set-up: a rep's Gmail connected through the real
OAuth flow against the emulator, a contact, helpers to deliver and sync (see
``tests/integration/sending/conftest.py``)."""

from __future__ import annotations

from tests.integration.sending.conftest import (  # noqa: F401
    gmail,
    mailroom,
    runtime,
    settings,
)
