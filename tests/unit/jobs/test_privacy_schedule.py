"""The scheduled purge: only the privacy purge (which vacuums) runs hourly; the account purge
(which would delete a disconnected mailbox's mail without vacuuming) has no schedule of its own."""

from __future__ import annotations

from inboxcrm.jobs.account_tasks import PURGE_TASK as ACCOUNT_PURGE_TASK
from inboxcrm.jobs.privacy_tasks import PURGE_TASK
from inboxcrm.jobs.registry import load_default_registry


def test_every_purge_schedule_runs_the_vacuuming_purge() -> None:
    registry = load_default_registry()
    periodic = registry.periodic()
    assert periodic["privacy.purge"].task_name == PURGE_TASK
    assert [p.name for p in periodic.values() if p.task_name == PURGE_TASK] == ["privacy.purge"]
    assert all(p.task_name != ACCOUNT_PURGE_TASK for p in periodic.values())
    assert PURGE_TASK in registry.tasks()
    assert "inboxcrm.privacy.build_export" in registry.tasks()
