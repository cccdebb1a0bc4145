"""Setup → Email → "Connect IMAP/POP3": the form, its "Test connection" button, and connecting.

GET  /setup/email/imap   the form (incoming server, security, user, password, optional CA
                         certificate, SMTP server, folders)
POST /setup/email/imap   ``action=test``: log in to the servers and show the outcome (stores
                         nothing); ``action=connect``: test, then connect and go back to
                         Setup → Email with the new mailbox syncing

Both go through :mod:`inboxcrm.services.imap_accounts` (as ``POST /api/v1/mail-accounts/imap``
does). A refused password, an untrusted certificate or an unreachable host is shown above the
form and at the field it concerns; the password fields are never filled back in.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.services.identity import Principal
from inboxcrm.services.imap_accounts import (
    MailServerRequest,
    connect_mail_server_account,
    test_mail_server_connection,
)
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.deps import RuntimeDep, WriterPrincipal
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts
from inboxcrm.web.ui.rendering import render

__all__ = ["CONNECT_PATH", "router"]

router = page_router()

CONNECT_PATH = "/setup/email/imap"
TEXT_FIELDS = (
    "protocol",
    "host",
    "port",
    "security",
    "username",
    "email",
    "ca_pem",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "folders",
)
SECRET_FIELDS = ("password", "smtp_password")
SECURITY_CHOICES = (
    ("implicit_tls", "TLS (IMAPS 993, POP3S 995, SMTPS 465)"),
    ("starttls", "STARTTLS (IMAP 143, POP3 110, submission 587)"),
    ("none", "None (only on a trusted network)"),
)
ERROR_FIELDS = {
    "mail_server_login_refused": "password",
    "mail_server_certificate_untrusted": "ca_pem",
    "mail_server_unreachable": "host",
    "mail_server_protocol_error": "security",
}
DEFAULTS = {"protocol": "imap", "security": "implicit_tls", "smtp_security": "starttls"}


def _port(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 5 else None


def _request_of(values: dict[str, str], secrets: dict[str, str]) -> MailServerRequest:
    folders = tuple(f.strip() for f in values["folders"].split(",") if f.strip())
    return MailServerRequest(
        protocol="pop3" if values["protocol"] == "pop3" else "imap",
        host=values["host"],
        port=_port(values["port"]),
        security=values["security"] or "implicit_tls",  # type: ignore[arg-type]
        username=values["username"],
        password=secrets["password"],
        email=values["email"] or None,
        ca_pem=values["ca_pem"] or None,
        smtp_host=values["smtp_host"] or None,
        smtp_port=_port(values["smtp_port"]),
        smtp_security=values["smtp_security"] or "starttls",  # type: ignore[arg-type]
        smtp_username=values["smtp_username"] or None,
        smtp_password=secrets["smtp_password"] or None,
        folders=folders or None,
    )


def _form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    error: InboxCrmError | None = None,
    tested: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    errors: dict[str, str] = {}
    if error is not None:
        errors["general"] = error.message
        field = error.field or ERROR_FIELDS.get(error.code)
        if field:
            errors[field] = error.message
    context: dict[str, Any] = {
        "values": {
            **dict.fromkeys(TEXT_FIELDS, ""),
            **DEFAULTS,
            **{k: v for k, v in (values or {}).items() if v},
        },
        "errors": errors,
        "error_code": error.code if error is not None else "",
        "tested": tested,
        "security_choices": SECURITY_CHOICES,
    }
    return render(request, "setup/imap_connect.html", context, status_code=status_code)


@router.get(CONNECT_PATH)
def connect_form(request: Request, principal: WriterPrincipal) -> Response:
    return _form(request)


def _act(
    runtime: Runtime,
    principal: Principal,
    request: Request,
    action: str,
    mail_request: MailServerRequest,
) -> tuple[int | None, list[str] | None]:
    if action == "test":
        return None, test_mail_server_connection(principal, mail_request)
    account = connect_mail_server_account(
        runtime,
        principal,
        mail_request,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return account.id, None


@router.post(CONNECT_PATH)
def connect_or_test(
    request: Request, principal: WriterPrincipal, runtime: RuntimeDep, form: PostedForm
) -> Response:
    values = form_texts(form, TEXT_FIELDS)
    secrets = form_texts(form, SECRET_FIELDS)
    action = form_texts(form, ("action",))["action"]
    try:
        account_id, folders = _act(
            runtime, principal, request, action, _request_of(values, secrets)
        )
    except InboxCrmError as exc:
        return _form(request, values=values, error=exc, status_code=exc.status)
    if account_id is None:
        return _form(request, values=values, tested=folders or [])
    return RedirectResponse(f"/setup/email?connected={account_id}#section-mailboxes", 303)
