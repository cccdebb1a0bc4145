"""The emulator's clock: wall-clock time plus an offset that the control API can advance."""

from __future__ import annotations

import threading
import time


class EmulatorClock:
    """Current time as seen by the emulated Google services (token expiry, dates, history)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset = offset_s
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        """Seconds since the epoch on the emulator clock."""
        return time.time() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or back with a negative value); returns the new time."""
        with self._lock:
            self._offset += seconds
        return self.now()
