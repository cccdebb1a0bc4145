"""``/api/v1/email-messages/{id}`` and ``/api/v1/email-threads/{id}``: what a user may do to one
synced message or thread (the ids are the timeline items' ``message_id`` and
``email_thread_id``).

- ``POST .../archive``, ``.../mark-read``, ``.../mark-unread``: change the message (or every
  message of the thread) in the owner's Gmail; the mailbox owner only. Answers the new labels.
- ``DELETE``: remove the stored copy (or the whole thread) from the CRM, never from Gmail; the
  mailbox owner or an admin. Later syncs do not store it again.
- ``POST .../support-flag`` ``{"reason", "hours"}`` / ``DELETE .../support-flag``: the owner
  lets support staff read this message (or thread) for a limited time, or withdraws that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from inboxcrm.services import message_actions, message_removal, support_flags
from inboxcrm.services.message_actions import LabelAction
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import TenantUow, WriterPrincipal
from inboxcrm.web.message_action_deps import MessageActionPortsDep, RemovalPortsDep

__all__ = ["messages_router", "threads_router"]

messages_router = APIRouter(prefix="/email-messages", tags=["email messages"])
threads_router = APIRouter(prefix="/email-threads", tags=["email messages"])


class LabelActionOut(BaseModel):
    action: str
    target: str
    mail_account_id: int
    messages: int
    labels: list[str]


class RemovalOut(BaseModel):
    removed: str
    mail_account_id: int
    messages: int
    timeline_entries_kept: bool
    files_clean: bool


def _label_out(result: message_actions.LabelActionResult) -> LabelActionOut:
    return LabelActionOut(
        action=result.action,
        target=result.target,
        mail_account_id=result.mail_account_id,
        messages=result.messages,
        labels=result.labels,
    )


def _removal_out(result: message_removal.RemovalResult) -> RemovalOut:
    return RemovalOut(
        removed=result.target,
        mail_account_id=result.mail_account_id,
        messages=result.messages,
        timeline_entries_kept=result.timeline_entries_kept,
        files_clean=result.files_clean,
    )


_DOCS = {
    "archive": "Archive the {what} in Gmail: remove the INBOX label, nothing else.",
    "mark_read": "Mark the {what} read in Gmail (remove UNREAD).",
    "mark_unread": "Mark the {what} unread in Gmail (add UNREAD).",
}


def _label_endpoint(action: LabelAction, *, thread: bool) -> Callable[..., LabelActionOut]:
    act = message_actions.act_on_thread if thread else message_actions.act_on_message

    def endpoint(
        request: Request,
        principal: WriterPrincipal,
        ports: MessageActionPortsDep,
        item_id: ResourceId,
    ) -> LabelActionOut:
        return _label_out(act(ports, principal, item_id, action, ip=client_ip(request)))

    what = "thread" if thread else "message"
    endpoint.__name__ = f"{action}_{what}"
    endpoint.__doc__ = _DOCS[action].format(what=what)
    return endpoint


_PATHS: tuple[tuple[str, LabelAction], ...] = (
    ("archive", "archive"),
    ("mark-read", "mark_read"),
    ("mark-unread", "mark_unread"),
)


def _add_label_routes(router: APIRouter, *, thread: bool) -> None:
    for path, action in _PATHS:
        router.add_api_route(
            "/{id}/" + path,
            _label_endpoint(action, thread=thread),
            methods=["POST"],
            response_model=LabelActionOut,
        )


_add_label_routes(messages_router, thread=False)
_add_label_routes(threads_router, thread=True)


@messages_router.delete("/{id}", response_model=RemovalOut)
def remove_message(
    request: Request, principal: WriterPrincipal, ports: RemovalPortsDep, message_id: ResourceId
) -> RemovalOut:
    """Remove the stored message from the CRM (Gmail is not touched); no sync stores it again."""
    return _removal_out(
        message_removal.remove_email_message(ports, principal, message_id, ip=client_ip(request))
    )


@threads_router.delete("/{id}", response_model=RemovalOut)
def remove_thread(
    request: Request, principal: WriterPrincipal, ports: RemovalPortsDep, thread_id: ResourceId
) -> RemovalOut:
    """Remove every stored message of the thread from the CRM (Gmail is not touched)."""
    return _removal_out(
        message_removal.remove_email_thread(ports, principal, thread_id, ip=client_ip(request))
    )


# -- flag for support -------------------------------------------------------------------------


class SupportFlagIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    hours: int = Field(default=support_flags.DEFAULT_HOURS, ge=1, le=support_flags.MAX_HOURS)


class SupportFlagOut(BaseModel):
    id: int
    target: str
    reason: str
    expires_at: datetime
    created_at: datetime


def _add_flag_routes(router: APIRouter, kind: support_flags.TargetKind) -> None:
    def flag(
        request: Request,
        principal: WriterPrincipal,
        uow: TenantUow,
        item_id: ResourceId,
        body: SupportFlagIn,
    ) -> SupportFlagOut:
        made = support_flags.flag_for_support(
            uow, principal, kind, item_id, reason=body.reason, hours=body.hours,
            ip=client_ip(request),
        )  # fmt: skip
        return SupportFlagOut(**asdict(made))

    def withdraw(
        request: Request, principal: WriterPrincipal, uow: TenantUow, item_id: ResourceId
    ) -> Response:
        support_flags.withdraw_support_flag(uow, principal, kind, item_id, ip=client_ip(request))
        return Response(status_code=204)

    flag.__name__ = f"flag_{kind}_for_support"
    flag.__doc__ = "Let support staff read this for a limited time (the mailbox owner only)."
    withdraw.__name__ = f"withdraw_{kind}_support_flag"
    withdraw.__doc__ = "Withdraw the support flag."
    router.add_api_route(
        "/{id}/support-flag", flag, methods=["POST"], status_code=201, response_model=SupportFlagOut
    )
    router.add_api_route(
        "/{id}/support-flag", withdraw, methods=["DELETE"], status_code=204, response_class=Response
    )


_add_flag_routes(messages_router, "email_message")
_add_flag_routes(threads_router, "email_thread")
