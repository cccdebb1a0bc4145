"""``inboxcrm emulator``: run the local Google API emulator (see inboxcrm.emulator)."""

from __future__ import annotations

from inboxcrm.cli import app


@app.command("emulator")
def emulator() -> None:
    """Run the local Google API emulator."""
    raise SystemExit("the emulator is not built yet")
