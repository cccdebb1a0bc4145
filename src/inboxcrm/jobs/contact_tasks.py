"""Background work of the Google Contacts import.

- ``inboxcrm.contacts.import_google(tenant, account_id)``: one lease-guarded import of a
  mailbox's Google contacts (see :mod:`inboxcrm.services.contact_import`). Idempotent (people
  are matched by link and email address; a repeated listing changes nothing); failures are
  recorded on the import and notified, so the task itself does not retry.
"""

from __future__ import annotations

from inboxcrm.jobs.registry import job

__all__ = ["IMPORT_TASK", "import_google_contacts"]

IMPORT_TASK = "inboxcrm.contacts.import_google"


@job(IMPORT_TASK, time_limit=1800, retry_on=())
def import_google_contacts(tenant: str, account_id: int) -> None:
    """Import (or update from) the Google contacts of one mailbox's Google account."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import contact_import

    contact_import.run_contacts_import(worker_runtime(), tenant, account_id)
