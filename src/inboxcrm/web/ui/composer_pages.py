"""The composer on a record page: write, reply and retry, and the tracking default in Setup → Email.

    GET  /{kind}s/{id}/compose[?reply_to=<gmail id>&mail_account_id=&all=1]   the composer (htmx)
    POST /{kind}s/{id}/compose      send (or, with ``retry_entry``, send a "Not sent" entry again)
    POST /{kind}s/{id}/drafts       "Draft with AI" (``action`` create), "Approve & send"
                                    (``approve``, with the edited text) or "Discard" (``discard``)
    GET  /setup/email/sending       the tracking-default form (fragment loaded by Setup → Email)
    POST /setup/email/sending       save it

An htmx post (``HX-Request``) gets the composer back with inline errors, or ``HX-Redirect`` to
the record's timeline once the message is sent; a plain form post is answered with a redirect.
Sending is :func:`inboxcrm.services.sending.send_message`, the same path as the API.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from inboxcrm.domain.errors import InboxCrmError, InvalidInput, NotFound
from inboxcrm.domain.outgoing_mail import MAX_MESSAGE_BYTES
from inboxcrm.services import drafts, sending, sending_compose
from inboxcrm.services.sending_input import AttachmentIn, MessageRequest
from inboxcrm.web.api.params import StrictDigits
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow, WriterPrincipal
from inboxcrm.web.sending_deps import drafting_ports_for, sending_ports_for
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, errors_from, form_texts
from inboxcrm.web.ui.rendering import render

router = page_router()

RecordId = Annotated[int, StrictDigits, Path(ge=1, le=2**31 - 1)]
KIND_OF_PLURAL = {"leads": "lead", "contacts": "contact", "accounts": "account"}
FIELDS = ("mail_account_id", "from", "to", "cc", "bcc", "subject", "body_text")
_SPLIT_RE = re.compile(r"[,;\n]+")


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in _SPLIT_RE.split(text) if part.strip()]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _composer(
    request: Request,
    plural: str,
    record_id: int,
    defaults: sending_compose.ComposeDefaults,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    outcome: sending.OutboundView | None = None,
) -> Response:
    form = values or {
        "mail_account_id": str(defaults.mail_account_id or ""),
        "from": "",
        "to": ", ".join(defaults.to),
        "cc": ", ".join(defaults.cc),
        "bcc": "",
        "subject": defaults.subject,
        "body_text": "",
        "reply_to_message_id": defaults.reply_to_message_id or "",
        "track": "1" if defaults.track else "",
    }
    return render(
        request,
        "records/_composer.html",
        {
            "action": f"/{plural}/{record_id}/compose",
            "record_url": f"/{plural}/{record_id}",
            "senders": defaults.senders,
            "form": form,
            "errors": errors or {},
            "outcome": outcome,
        },
    )


def _register(plural: str, kind: str) -> None:
    def compose_form(
        request: Request,
        principal: WriterPrincipal,
        uow: TenantUow,
        record_id: RecordId,
        reply_to: Annotated[str, Query(max_length=100)] = "",
        mail_account_id: Annotated[int | None, StrictDigits, Query(ge=1, le=2**31 - 1)] = None,
        reply_all: Annotated[str, Query(alias="all", max_length=1)] = "",
    ) -> Response:
        defaults = sending_compose.compose_defaults(
            uow,
            principal,
            kind,
            record_id,
            reply_to=reply_to or None,
            mail_account_id=mail_account_id,
            reply_all=reply_all == "1",
        )
        return _composer(request, plural, record_id, defaults)

    def compose_send(
        request: Request,
        principal: WriterPrincipal,
        runtime: RuntimeDep,
        uow: TenantUow,
        record_id: RecordId,
        form: PostedForm,
    ) -> Response:
        ports = sending_ports_for(runtime, principal.tenant_slug)
        record_url = f"/{plural}/{record_id}"
        retry = form_texts(form, ["retry_entry", "retry_outbound"])
        values = form_texts(form, [*FIELDS, "reply_to_message_id", "track"])
        outcome: sending.OutboundView | None = None
        errors: dict[str, str] = {}
        try:
            if retry["retry_entry"].isdigit() or retry["retry_outbound"].isdigit():
                outbound_id = (
                    sending_compose.outbound_of_entry(
                        uow, kind, record_id, int(retry["retry_entry"])
                    )
                    if retry["retry_entry"].isdigit()
                    else int(retry["retry_outbound"])
                )
                outcome = sending.retry_message(ports, principal, outbound_id)
            else:
                outcome = sending.send_message(
                    ports, principal, _request(form, values, kind, record_id)
                )
        except (ValidationError, InboxCrmError) as exc:
            if isinstance(exc, InboxCrmError) and exc.status not in (409, 413, 422):
                raise
            errors = errors_from(exc)
        if not _is_htmx(request):
            return RedirectResponse(record_url + "#timeline", status_code=303)
        if outcome is not None and outcome.status == "sent":
            # A new URL (not just a new fragment), so that the browser loads the page again.
            target = f"{record_url}?sent={outcome.id}#timeline"
            return Response(status_code=200, headers={"HX-Redirect": target})
        defaults = sending_compose.compose_defaults(uow, principal, kind, record_id)
        return _composer(
            request, plural, record_id, defaults, values=values, errors=errors, outcome=outcome
        )

    base = f"/{plural}/{{record_id}}/compose"
    router.add_api_route(base, compose_form, methods=["GET"])
    router.add_api_route(base, compose_send, methods=["POST"])


def _attachments(form: FormData) -> list[AttachmentIn]:
    import base64

    found: list[AttachmentIn] = []
    total = 0
    for item in form.getlist("attachments"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        content = item.file.read(MAX_MESSAGE_BYTES + 1)
        total += len(content)
        if total > MAX_MESSAGE_BYTES:
            from inboxcrm.services.sending_input import MessageTooLarge

            raise MessageTooLarge("the attachments are larger than Gmail's 35 MiB limit")
        found.append(
            AttachmentIn(
                filename=item.filename[:255],
                content_type=item.content_type or "application/octet-stream",
                content_base64=base64.b64encode(content).decode("ascii"),
            )
        )
    return found


def _request(form: FormData, values: dict[str, str], kind: str, record_id: int) -> MessageRequest:
    data: dict[str, Any] = {
        "mail_account_id": values["mail_account_id"] or 0,
        "to": _addresses(values["to"]),
        "cc": _addresses(values["cc"]),
        "bcc": _addresses(values["bcc"]),
        "subject": values["subject"],
        "body_text": values["body_text"],
        "record": {"type": kind, "id": record_id},
        "track": values["track"] == "1",
        "attachments": _attachments(form),
    }
    if values["from"]:
        data["from"] = values["from"]
    if values["reply_to_message_id"]:
        data["reply_to_message_id"] = values["reply_to_message_id"]
    return MessageRequest.model_validate(data)


for _plural, _kind in KIND_OF_PLURAL.items():
    _register(_plural, _kind)


# -- Setup → Email: the tracking default ---------------------------------------------------------

SENDING_SETUP = "/setup/email/sending"


@router.get(SENDING_SETUP)
def sending_setup_fragment(
    request: Request, principal: CurrentPrincipal, uow: TenantUow
) -> Response:
    return render(
        request,
        "setup/_sending.html",
        {"track_by_default": sending.sending_default(uow, principal.user_id), "saved": False},
    )


@router.post(SENDING_SETUP)
def save_sending_setup(
    request: Request, principal: WriterPrincipal, uow: TenantUow, form: PostedForm
) -> Response:
    track = form_texts(form, ["track_by_default"])["track_by_default"] == "1"
    sending.set_sending_default(uow, principal, track=track)
    if _is_htmx(request):
        return render(request, "setup/_sending.html", {"track_by_default": track, "saved": True})
    return RedirectResponse("/setup/email#sending", status_code=303)


# -- AI drafts -----------------------------------------------------------------------------------


def _draft_editor(
    request: Request,
    plural: str,
    record_id: int,
    draft: drafts.DraftView,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "records/_draft.html",
        {
            "action": f"/{plural}/{record_id}/drafts",
            "record_url": f"/{plural}/{record_id}",
            "draft": draft,
            "errors": errors or {},
        },
    )


def _register_drafts(plural: str, kind: str) -> None:
    def draft_action(
        request: Request,
        principal: WriterPrincipal,
        runtime: RuntimeDep,
        record_id: RecordId,
        form: PostedForm,
    ) -> Response:
        """``action``: ``create`` (default), ``approve`` (with the edited text), ``discard``."""
        fields = form_texts(
            form,
            [
                "action",
                "draft_id",
                "mail_account_id",
                "reply_to_message_id",
                "subject",
                "body_text",
            ],
        )
        record_url = f"/{plural}/{record_id}"
        ports = drafting_ports_for(runtime, principal)
        action = fields["action"] or "create"
        if action == "create":
            if not fields["mail_account_id"].isdigit():
                raise InvalidInput("choose the mailbox to send from", field="mail_account_id")
            request_model = drafts.DraftRequest.model_validate(
                {
                    "record": {"type": kind, "id": record_id},
                    "mail_account_id": int(fields["mail_account_id"]),
                    "reply_to_message_id": fields["reply_to_message_id"] or None,
                }
            )
            draft = drafts.create_draft(ports, principal, request_model)
            if not _is_htmx(request):
                return RedirectResponse(record_url + "#timeline", status_code=303)
            return _draft_editor(request, plural, record_id, draft)
        if not fields["draft_id"].isdigit():
            raise InvalidInput("which draft?", field="draft_id")
        draft_id = int(fields["draft_id"])
        current = drafts.get_draft(ports.sending, principal, draft_id)
        if current.record_kind != kind or current.record_id != record_id:
            raise NotFound(f"no draft {draft_id} on this record")
        if action == "discard":
            drafts.discard_draft(ports.sending, principal, draft_id)
            return _done(request, record_url)
        if action != "approve":
            raise InvalidInput("unknown action", field="action")
        try:
            if current.status == "pending_approval":
                patch = drafts.DraftPatch(subject=fields["subject"], body_text=fields["body_text"])
                drafts.update_draft(ports.sending, principal, draft_id, patch)
            view, message = drafts.approve_draft(ports.sending, principal, draft_id)
        except (ValidationError, InboxCrmError) as exc:
            if isinstance(exc, InboxCrmError) and exc.status not in (409, 413, 422):
                raise
            refreshed = drafts.get_draft(ports.sending, principal, draft_id)
            return _draft_editor(request, plural, record_id, refreshed, errors=errors_from(exc))
        if message is not None and message.status != "sent" and _is_htmx(request):
            with runtime.tenant_uow(principal.tenant_slug) as uow:
                defaults = sending_compose.compose_defaults(uow, principal, kind, record_id)
            return _composer(request, plural, record_id, defaults, outcome=message)
        return _done(request, record_url, sent=view.outbound_message_id)

    router.add_api_route(f"/{plural}/{{record_id}}/drafts", draft_action, methods=["POST"])


def _done(request: Request, record_url: str, *, sent: int | None = None) -> Response:
    target = f"{record_url}?{'sent=' + str(sent) if sent else 'draft=done'}#timeline"
    if _is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


for _plural, _kind in KIND_OF_PLURAL.items():
    _register_drafts(_plural, _kind)
