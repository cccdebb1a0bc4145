"""Gmail push watches: start or renew one, and show on the account when Google refuses it.

:func:`start_watch` asks for push notifications on ``settings.gmail_push_topic``. When the grant
may change labels, the watch excludes the "Synced to inboxcrm" label, so the sync's own label
change never triggers another push (and another, empty, sync). A watch refused because Gmail
may not publish to the topic stores :data:`PUSH_GRANT_TEXT` as the account's ``push`` notice
(shown in Setup → Email and the API) instead of a log line only; a later successful watch
clears it.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError, ProviderError
from inboxcrm.providers.base import MailboxClient, PushPermissionDenied, WatchInfo
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.sync.engine import SYNC_LABEL

__all__ = ["PUSH_GRANT_TEXT", "PUSH_SERVICE_ACCOUNT", "start_watch"]

logger = logging.getLogger(__name__)

PUSH_SERVICE_ACCOUNT = "gmail-api-push@system.gserviceaccount.com"
PUSH_GRANT_TEXT = "push not working: give {account} publish rights on {topic}"


def _set_push_notice(runtime: Runtime, tenant: str, account_id: int, text: str | None) -> None:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None:
            return
        notices = dict(row.notices or {})
        if text is None and "push" not in notices:
            return
        if text is None:
            notices.pop("push", None)
        else:
            notices["push"] = text
        row.notices = notices
        uow.commit()


def start_watch(
    runtime: Runtime, tenant: str, account_id: int, client: MailboxClient
) -> WatchInfo | None:
    """Start (or renew) the account's push watch; None when it could not be started.

    ProviderAuthError propagates (the caller disconnects the account).
    """
    topic = runtime.settings.gmail_push_topic
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        granted = list(row.scopes or ()) if row is not None else []
    try:
        exclude: tuple[str, ...] = ()
        if gmail_scopes.features_of(granted)["labels"]:
            exclude = (client.ensure_label(SYNC_LABEL),)
        info = client.watch(topic, exclude_label_ids=exclude)
    except ProviderAuthError:
        raise
    except PushPermissionDenied:
        text = PUSH_GRANT_TEXT.format(account=PUSH_SERVICE_ACCOUNT, topic=topic)
        logger.warning("watch of account %s in tenant %s refused: %s", account_id, tenant, text)
        _set_push_notice(runtime, tenant, account_id, text)
        return None
    except ProviderError as exc:
        logger.warning("watch of account %s in tenant %s failed: %s", account_id, tenant, exc)
        return None
    with runtime.tenant_uow(tenant) as uow:
        uow.session.execute(
            update(MailAccountRow)
            .where(MailAccountRow.id == account_id)
            .values(watch_expiration=info.expiration)
        )
        uow.commit()
    _set_push_notice(runtime, tenant, account_id, None)
    return info
