"""Background work of Google Calendar meetings, prep briefs and deal-state labels.

- ``inboxcrm.calendar.sync_account(tenant, account_id, full=False)``: one calendar run of a
  mailbox (services.meetings.sync_calendar); failures are recorded, the next run retries.
- ``inboxcrm.calendar.sync_all`` (every 15 minutes): queues a run of every mailbox of tenants
  with Google Calendar enabled.
- ``inboxcrm.calendar.push_meeting(tenant, meeting_id)``: writes a CRM change Google has not
  taken yet (retried on transient failures).
- ``inboxcrm.calendar.send_prep_briefs`` (every 10 minutes): services.prep_briefs.
- ``inboxcrm.calendar.apply_deal_labels`` (every 10 minutes): services.deal_labels.
"""

from __future__ import annotations

import logging

from inboxcrm.jobs.registry import job, register_periodic

__all__ = [
    "DEAL_LABELS_TASK",
    "PREP_BRIEFS_TASK",
    "PUSH_TASK",
    "SYNC_ALL_TASK",
    "SYNC_TASK",
]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.calendar.sync_account"
SYNC_ALL_TASK = "inboxcrm.calendar.sync_all"
PUSH_TASK = "inboxcrm.calendar.push_meeting"
PREP_BRIEFS_TASK = "inboxcrm.calendar.send_prep_briefs"
DEAL_LABELS_TASK = "inboxcrm.calendar.apply_deal_labels"
SYNC_ALL_SECONDS = 900
PREP_BRIEFS_SECONDS = 600
DEAL_LABELS_SECONDS = 600


@job(SYNC_TASK, time_limit=900, retry_on=())
def sync_account(tenant: str, account_id: int, full: bool = False) -> None:
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import meetings

    meetings.sync_calendar(worker_runtime(), tenant, account_id, full=full)


@job(SYNC_ALL_TASK, time_limit=300)
def sync_all() -> None:
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import meetings

    queued = meetings.queue_calendar_syncs(worker_runtime())
    if queued:
        logger.info("queued %d calendar syncs", queued)


@job(PUSH_TASK, time_limit=300)
def push_meeting(tenant: str, meeting_id: int) -> None:
    from inboxcrm.domain.errors import NotFound
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import meetings

    try:
        view = meetings.push_meeting(worker_runtime(), tenant, meeting_id)
    except NotFound:
        return
    if view.push_pending:
        from inboxcrm.domain.errors import ProviderTransientError

        raise ProviderTransientError(f"meeting {meeting_id} not written to Google yet")


@job(PREP_BRIEFS_TASK, time_limit=540)
def send_prep_briefs() -> None:
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import prep_briefs

    sent = prep_briefs.send_due_briefs(worker_runtime())
    if sent:
        logger.info("sent %d meeting prep briefs", sent)


@job(DEAL_LABELS_TASK, time_limit=540)
def apply_deal_labels() -> None:
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services.deal_labels import apply_all

    apply_all(worker_runtime())


register_periodic("calendar.sync_all", SYNC_ALL_SECONDS, SYNC_ALL_TASK)
register_periodic("calendar.send_prep_briefs", PREP_BRIEFS_SECONDS, PREP_BRIEFS_TASK)
register_periodic("calendar.apply_deal_labels", DEAL_LABELS_SECONDS, DEAL_LABELS_TASK)
