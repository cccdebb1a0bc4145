"""The background tasks. Each takes only JSON-safe ids, is idempotent and has a time limit.

A task is a thin shell: it gets the process's Runtime and calls one service function, which does
the work inside its own units of work. Task names are stable (queued messages outlive deploys).
"""

from __future__ import annotations

import logging

from inboxcrm.domain.errors import NotFound
from inboxcrm.jobs.registry import job
from inboxcrm.jobs.worker_runtime import worker_runtime
from inboxcrm.services import tenants

logger = logging.getLogger(__name__)

PROVISION_TENANT_DATABASE = "inboxcrm.provision_tenant_database"


@job(PROVISION_TENANT_DATABASE, time_limit=300)
def provision_tenant_database(tenant_slug: str) -> None:
    """Create tenant ``tenant_slug``'s database if missing and migrate it to head."""
    try:
        tenants.provision_tenant_database(worker_runtime(), tenant_slug)
    except NotFound:
        # The tenant was removed before the job ran: nothing left to provision.
        logger.warning("tenant %s is gone; database not provisioned", tenant_slug)
