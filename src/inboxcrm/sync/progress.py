"""Progress of a mailbox sync, kept in ``MailAccountRow.sync_progress`` (JSON) and shown by the
API (``GET /api/v1/mail-accounts``) and the CLI progress bar.

The same object is the checkpoint of a full sync: ``mode``, the ``phase`` reached, which listing
query is next (``query_index`` of ``query_count`` for the address set ``query_key``), and the
history id captured when the full sync started (``start_history_id``, which becomes the
incremental cursor when it completes). The message-level checkpoint is the ledger (see
:mod:`inboxcrm.sync.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = ["RUNNING_PHASES", "Phase", "ProgressListener", "SyncProgress"]

Phase = Literal["idle", "listing", "fetching", "labelling", "incremental", "done", "failed"]
RUNNING_PHASES = frozenset({"listing", "fetching", "labelling", "incremental"})
"""Phases a run is in while it works; a row left in one of them without a live lease stalled."""


@dataclass
class SyncProgress:
    mode: str = "full"
    phase: str = "idle"
    query_index: int = 0
    query_count: int = 0
    query_key: str = ""
    start_history_id: int | None = None
    listed: int = 0
    """Messages reported in scope by the provider during this run (listing or history)."""
    scanned: int = 0
    """Messages processed (stored or skipped) during this run."""
    stored: int = 0
    skipped: int = 0
    total_estimate: int = 0
    """Messages expected to be processed in this run (known once listing is done)."""
    query_checks: int = 0
    """Canary queries sent for multi-address queries that listed nothing."""
    query_probes: int = 0
    """Per-address probe queries sent because a multi-address query listed nothing."""
    queries_recovered: int = 0
    """Queries that listed nothing although their addresses' probes found mail (silently empty
    answers of Gmail to long OR queries); their mail was listed address by address."""
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SyncProgress:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    @property
    def fraction(self) -> float:
        if self.total_estimate <= 0:
            return 0.0
        return min(1.0, self.scanned / self.total_estimate)


ProgressListener = Callable[[SyncProgress], None]
"""Called after every checkpoint with the current progress (e.g. to move a progress bar)."""
