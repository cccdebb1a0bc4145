"""The scheduled purge: the privacy purge (which vacuums) runs hourly, also in the slot of the
account purge (which would delete a disconnected mailbox's mail without vacuuming)."""

from __future__ import annotations

from inboxcrm.jobs.privacy_tasks import ACCOUNT_PURGE_SCHEDULE, PURGE_TASK
from inboxcrm.jobs.registry import load_default_registry


def test_every_purge_schedule_runs_the_vacuuming_purge() -> None:
    registry = load_default_registry()
    periodic = registry.periodic()
    assert periodic["privacy.purge"].task_name == PURGE_TASK
    assert periodic[ACCOUNT_PURGE_SCHEDULE].task_name == PURGE_TASK
    assert PURGE_TASK in registry.tasks()
    assert "inboxcrm.privacy.build_export" in registry.tasks()
