"""Background work of the privacy features: the scheduled purge, and building exports.

``inboxcrm.privacy.purge`` runs hourly (services.retention.purge_all): records past their grace
period, mailboxes disconnected longer than the purge period, closed tenants, then the vacuum;
idempotent, as a second run finds nothing due. ``inboxcrm.privacy.build_export`` builds one
export requested through ``POST /api/v1/exports`` (services.export.build_export); a second
run of a finished export does nothing.
"""

from __future__ import annotations

import logging

import inboxcrm.jobs.account_tasks  # noqa: F401  (its schedule first: this module replaces it)
from inboxcrm.jobs.registry import job, register_periodic

__all__ = ["EXPORT_TASK", "PURGE_INTERVAL_SECONDS", "PURGE_TASK"]

logger = logging.getLogger(__name__)

PURGE_TASK = "inboxcrm.privacy.purge"
EXPORT_TASK = "inboxcrm.privacy.build_export"
PURGE_INTERVAL_SECONDS = 3600


@job(PURGE_TASK, time_limit=3600)
def purge_due_data() -> None:
    """Hard-delete everything whose retention period has passed, in every tenant."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services.retention import purge_all

    reports = purge_all(worker_runtime())
    done = [r for r in reports if r.deleted_anything]
    if done:
        logger.info("scheduled purge deleted data in %d tenant(s)", len(done))


@job(EXPORT_TASK, time_limit=1800)
def build_export(tenant: str, export_id: int) -> None:
    """Build export ``export_id`` of ``tenant`` (requested through the API)."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services.export import build_export as build

    build(worker_runtime(), tenant, export_id)


# The only purge schedule: it covers disconnected mailboxes too (jobs.account_tasks is not
# scheduled on its own, as it would delete their mail without vacuuming).
register_periodic("privacy.purge", PURGE_INTERVAL_SECONDS, PURGE_TASK)
