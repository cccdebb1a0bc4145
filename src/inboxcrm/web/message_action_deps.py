"""The ports of the per-message actions (archive, read/unread, removal), wired from the runtime."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.base import MailboxClient
from inboxcrm.services.message_actions import MessageActionPorts
from inboxcrm.services.message_removal import RemovalPorts
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep

__all__ = [
    "MessageActionPortsDep",
    "RemovalPortsDep",
    "message_action_ports_for",
    "removal_ports_for",
]


def message_action_ports_for(runtime: Runtime, tenant: str) -> MessageActionPorts:
    from inboxcrm.services.mail_accounts import open_mailbox

    def mailbox(account_id: int) -> MailboxClient:
        return open_mailbox(runtime, tenant, account_id)

    return MessageActionPorts(uow=lambda: runtime.tenant_uow(tenant), mailbox=mailbox)


def removal_ports_for(runtime: Runtime, tenant: str) -> RemovalPorts:
    return RemovalPorts(
        uow=lambda: runtime.tenant_uow(tenant),
        engine=lambda: runtime.tenants.engine(tenant),
        tenant=tenant,
    )


def _action_ports(principal: CurrentPrincipal, runtime: RuntimeDep) -> MessageActionPorts:
    return message_action_ports_for(runtime, principal.tenant_slug)


def _removal_ports(principal: CurrentPrincipal, runtime: RuntimeDep) -> RemovalPorts:
    return removal_ports_for(runtime, principal.tenant_slug)


MessageActionPortsDep = Annotated[MessageActionPorts, Depends(_action_ports)]
RemovalPortsDep = Annotated[RemovalPorts, Depends(_removal_ports)]
