"""The record page's small menu on each message and thread: form posts back to the page.

    POST /email-messages/{id}/archive | mark-read | mark-unread   in the owner's Gmail
    POST /email-messages/{id}/remove                               from the CRM (owner or admin)
    POST /email-threads/{id}/archive | mark-read | mark-unread | remove
    POST /email-messages/{id}/support-flag            flag for support (``reason``, ``hours``)
    POST /email-messages/{id}/support-flag/withdraw   withdraw the live flag
    POST /email-threads/{id}/support-flag | support-flag/withdraw

Each takes the form field ``next`` (a path on this site) to return to, and calls the same
service functions as ``/api/v1/email-messages`` and ``/api/v1/email-threads``. The page says
what happened through ``mail_action`` in the address it returns to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, ProviderError
from inboxcrm.services import message_actions, message_removal, support_flags
from inboxcrm.services.identity import Principal
from inboxcrm.services.message_actions import LabelAction, MessageActionPorts
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.api.params import PathId
from inboxcrm.web.deps import TenantUow, WriterPrincipal
from inboxcrm.web.message_action_deps import MessageActionPortsDep, RemovalPortsDep
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts

__all__ = ["router"]

router = page_router()

_LABEL_PATHS: tuple[tuple[str, LabelAction], ...] = (
    ("archive", "archive"),
    ("mark-read", "mark_read"),
    ("mark-unread", "mark_unread"),
)


def _back(form: PostedForm, *, problem: str | None = None) -> RedirectResponse:
    target = form_texts(form, ["next"])["next"]
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    if problem:
        path, hash_sign, fragment = target.partition("#")
        joiner = "&" if "?" in path else "?"
        target = f"{path}{joiner}{urlencode({'mail_action': problem})}{hash_sign}{fragment}"
    return RedirectResponse(target, status_code=303)


def _run(
    request: Request,
    principal: Principal,
    ports: MessageActionPorts,
    form: PostedForm,
    act: Callable[..., object],
    item_id: int,
    action: LabelAction,
) -> Response:
    try:
        act(ports, principal, item_id, action, ip=client_ip(request))
    except ProviderError:
        # Gmail refused or could not be reached (the failure is in the audit log): back to the
        # page, which says so, rather than an error page.
        return _back(form, problem="gmail_unavailable")
    return _back(form)


def _message_page(action: LabelAction) -> Callable[..., Response]:
    def page(
        request: Request,
        principal: WriterPrincipal,
        ports: MessageActionPortsDep,
        message_id: PathId,
        form: PostedForm,
    ) -> Response:
        act = message_actions.act_on_message
        return _run(request, principal, ports, form, act, message_id, action)

    page.__name__ = f"{action}_message_page"
    return page


def _thread_page(action: LabelAction) -> Callable[..., Response]:
    def page(
        request: Request,
        principal: WriterPrincipal,
        ports: MessageActionPortsDep,
        thread_id: PathId,
        form: PostedForm,
    ) -> Response:
        act = message_actions.act_on_thread
        return _run(request, principal, ports, form, act, thread_id, action)

    page.__name__ = f"{action}_thread_page"
    return page


for _path, _action in _LABEL_PATHS:
    router.add_api_route(
        f"/email-messages/{{message_id}}/{_path}", _message_page(_action), methods=["POST"]
    )
    router.add_api_route(
        f"/email-threads/{{thread_id}}/{_path}", _thread_page(_action), methods=["POST"]
    )


@router.post("/email-messages/{message_id}/remove")
def remove_message_page(
    request: Request,
    principal: WriterPrincipal,
    ports: RemovalPortsDep,
    message_id: PathId,
    form: PostedForm,
) -> Response:
    message_removal.remove_email_message(ports, principal, message_id, ip=client_ip(request))
    return _back(form)


@router.post("/email-threads/{thread_id}/remove")
def remove_thread_page(
    request: Request,
    principal: WriterPrincipal,
    ports: RemovalPortsDep,
    thread_id: PathId,
    form: PostedForm,
) -> Response:
    message_removal.remove_email_thread(ports, principal, thread_id, ip=client_ip(request))
    return _back(form)


def _hours(form: PostedForm) -> int:
    text = form_texts(form, ["hours"])["hours"]
    hours = int(text) if text.isdigit() and len(text) <= 4 else 0
    return hours if 1 <= hours <= support_flags.MAX_HOURS else support_flags.DEFAULT_HOURS


def _flag(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    kind: support_flags.TargetKind,
    item_id: int,
    form: PostedForm,
) -> Response:
    try:
        support_flags.flag_for_support(
            uow,
            principal,
            kind,
            item_id,
            reason=form_texts(form, ["reason"])["reason"],
            hours=_hours(form),
            ip=client_ip(request),
        )
    except InvalidInput:
        return _back(form, problem="flag_reason_missing")
    return _back(form, problem="support_flagged")


def _withdraw(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    kind: support_flags.TargetKind,
    item_id: int,
    form: PostedForm,
) -> Response:
    # Already withdrawn (in another tab) or expired meanwhile: the page shows it unflagged.
    with contextlib.suppress(support_flags.NoLiveFlag):
        support_flags.withdraw_support_flag(uow, principal, kind, item_id, ip=client_ip(request))
    return _back(form, problem="support_flag_withdrawn")


@router.post("/email-messages/{message_id}/support-flag")
def flag_message_page(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    message_id: PathId,
    form: PostedForm,
) -> Response:
    return _flag(request, principal, uow, "email_message", message_id, form)


@router.post("/email-messages/{message_id}/support-flag/withdraw")
def withdraw_message_flag_page(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    message_id: PathId,
    form: PostedForm,
) -> Response:
    return _withdraw(request, principal, uow, "email_message", message_id, form)


@router.post("/email-threads/{thread_id}/support-flag")
def flag_thread_page(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    thread_id: PathId,
    form: PostedForm,
) -> Response:
    return _flag(request, principal, uow, "email_thread", thread_id, form)


@router.post("/email-threads/{thread_id}/support-flag/withdraw")
def withdraw_thread_flag_page(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    thread_id: PathId,
    form: PostedForm,
) -> Response:
    return _withdraw(request, principal, uow, "email_thread", thread_id, form)
