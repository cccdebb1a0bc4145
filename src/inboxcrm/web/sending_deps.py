"""The sending ports of a request: the runtime's wiring, handed to the sending service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.ai.base import DraftingProvider
from inboxcrm.providers.ai.offline_drafter import OfflineDrafter
from inboxcrm.providers.base import MailboxClient
from inboxcrm.services.drafts import DraftingPorts
from inboxcrm.services.identity import Principal
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

__all__ = [
    "DraftingPortsDep",
    "SendingPortsDep",
    "drafting_ports_for",
    "drafting_provider",
    "sending_ports_for",
    "tracking_signer",
]


def drafting_provider(runtime: Runtime) -> DraftingProvider:
    """Claude when ANTHROPIC_API_KEY is set, else the offline drafter (labelled "not AI")."""
    settings = runtime.settings
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        return OfflineDrafter()
    from inboxcrm.providers.ai.anthropic_drafter import AnthropicDrafter

    return AnthropicDrafter(
        settings.anthropic_api_key.get_secret_value(),
        model=settings.ai_model,
        base_url=settings.anthropic_base_url or None,
        timeout=settings.ai_timeout_seconds,
        max_retries=settings.ai_max_retries,
    )


def drafting_ports_for(runtime: Runtime, principal: Principal) -> DraftingPorts:
    from inboxcrm.services.mail_sharing import mail_viewer

    return DraftingPorts(
        sending=sending_ports_for(runtime, principal.tenant_slug),
        provider=drafting_provider(runtime),
        viewer=lambda: mail_viewer(runtime, principal),
        max_messages=runtime.settings.ai_context_messages,
        body_chars=runtime.settings.ai_body_chars,
    )


def drafting_ports(principal: CurrentPrincipal, runtime: RuntimeDep) -> DraftingPorts:
    return drafting_ports_for(runtime, principal)


DraftingPortsDep = Annotated[DraftingPorts, Depends(drafting_ports)]
