"""The sending ports of a request: the runtime's wiring, handed to the sending service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.base import MailboxClient
from inboxcrm.services.sending import SendingPorts
from inboxcrm.services.tracking_links import TrackingSigner
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep


def tracking_signer(runtime: Runtime) -> TrackingSigner:
    """The process's tracking signer (one per runtime, keyed by INBOXCRM_SECRET_KEY)."""
    signer = runtime.extras.get("tracking_signer")
    if not isinstance(signer, TrackingSigner):
        signer = TrackingSigner(runtime.settings.secret_key.get_secret_value())
        runtime.extras["tracking_signer"] = signer
    return signer


def sending_ports_for(runtime: Runtime, tenant: str) -> SendingPorts:
    from inboxcrm.services.mail_accounts import open_mailbox

    def mailbox(account_id: int) -> MailboxClient:
        return open_mailbox(runtime, tenant, account_id)

    return SendingPorts(
        tenant=tenant,
        uow=lambda: runtime.tenant_uow(tenant),
        mailbox=mailbox,
        signer=tracking_signer(runtime),
        public_url=runtime.settings.public_url,
        backoff_seconds=float(runtime.extras.get("send_backoff_seconds", 1.0)),
    )


def sending_ports(principal: CurrentPrincipal, runtime: RuntimeDep) -> SendingPorts:
    return sending_ports_for(runtime, principal.tenant_slug)


SendingPortsDep = Annotated[SendingPorts, Depends(sending_ports)]

__all__ = ["SendingPortsDep", "sending_ports_for", "tracking_signer"]
