"""Admin pages: Setup → Users, Setup → Audit log, Setup → Privacy (admins and owners only).

GET  /setup/users                         members and roles, invite form
POST /setup/users/invite                  invite (a generated password is shown once)
POST /setup/users/{user_id}/role          change a role
POST /setup/users/{user_id}/deactivate    end the membership
GET  /setup/audit-log                     the audit log (``actor``, ``action``, ``from``, ``to``,
                                          ``cursor``)
GET  /setup/privacy                       support grants, exports, erasure requests, retention
POST /setup/privacy/grants                grant support access (hours, reason)
POST /setup/privacy/grants/{id}/revoke    revoke it
POST /setup/privacy/exports               request an export (whole tenant or ``kind:id``)
POST /setup/privacy/erasure               erase an address or a record (303 with the counts)

Every action calls the same service function as the JSON API (services.tenant_users, audit,
support_access, export, erasure). Exports download through ``/api/v1/exports/{id}/download``,
which accepts the session too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.roles import Role
from inboxcrm.services import audit, erasure, export, support_access, tenant_users
from inboxcrm.web.api.exports import client_ip
from inboxcrm.web.api.params import StrictDigits
from inboxcrm.web.deps import AdminPrincipal, RuntimeDep, TenantUow
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts
from inboxcrm.web.ui.rendering import render

__all__ = ["router"]

router = page_router()

USERS = "/setup/users"
AUDIT = "/setup/audit-log"
PRIVACY = "/setup/privacy"
UserId = Annotated[int, StrictDigits, Path(ge=1, le=2**31 - 1)]

NOTICES = {
    "invited": "The user was added.",
    "role_changed": "The role was changed.",
    "deactivated": "The user was deactivated.",
    "grant_created": "Support access was granted.",
    "grant_revoked": "Support access was revoked.",
    "export_requested": "The export was requested; it is built in the background.",
}


def _back(path: str, notice: str, text: str | None = None) -> Response:
    query = {"notice": notice, **({"text": text} if text else {})}
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


def _notice(code: str | None, text: str | None = None) -> str:
    if code == "erased" and text and text.startswith("Erased ") and len(text) < 200:
        return text  # counts only: what the erasure answered
    return NOTICES.get(code or "", "")


# -- users ----------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    runtime: Any,
    principal: Any,
    *,
    notice: str = "",
    error: str = "",
    generated: str | None = None,
    status_code: int = 200,
) -> Response:
    members = tenant_users.list_members(runtime, principal)
    return render(
        request,
        "setup/users.html",
        {
            "members": members,
            "roles": [r.value for r in Role],
            "notice": notice,
            "error": error,
            "generated": generated,
        },
        status_code=status_code,
    )


@router.get(USERS)
def users_page(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return _users_page(request, runtime, principal, notice=_notice(notice))


@router.post(USERS + "/invite")
def invite_user(
    request: Request, principal: AdminPrincipal, runtime: RuntimeDep, form: PostedForm
) -> Response:
    values = form_texts(form, ["email", "role", "password", "display_name"])
    try:
        invited = tenant_users.invite_user(
            runtime,
            principal,
            email=values["email"],
            role=values["role"] or "rep",
            password=values["password"] or None,
            display_name=values["display_name"],
        )
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        return _users_page(request, runtime, principal, error=exc.message, status_code=exc.status)
    if invited.generated_password is None:
        return _back(USERS, "invited")
    return _users_page(  # the generated password is shown on this answer only
        request,
        runtime,
        principal,
        notice=f"{invited.member.email} was added as {invited.member.role}.",
        generated=invited.generated_password,
    )


@router.post(USERS + "/{user_id}/role")
def change_role(
    principal: AdminPrincipal, runtime: RuntimeDep, user_id: UserId, form: PostedForm
) -> Response:
    tenant_users.change_role(runtime, principal, user_id, form_texts(form, ["role"])["role"])
    return _back(USERS, "role_changed")


@router.post(USERS + "/{user_id}/deactivate")
def deactivate_user(principal: AdminPrincipal, runtime: RuntimeDep, user_id: UserId) -> Response:
    tenant_users.deactivate_member(runtime, principal, user_id)
    return _back(USERS, "deactivated")


# -- audit log ------------------------------------------------------------------------------------


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"not a date: {value!r}", field="from") from None
    moment = datetime.combine(day, time(), tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


@router.get(AUDIT)
def audit_log_page(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    actor: Annotated[str | None, Query(max_length=12)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    actor_id = int(actor) if actor and actor.isdigit() else None
    page = audit.list_events(
        uow,
        actor_user_id=actor_id,
        action=action or None,
        since=_day(from_),
        until=_day(to, end=True),
        cursor=cursor or None,
        limit=50,
    )
    members = {m.user_id: m.email for m in tenant_users.list_members(runtime, principal)}
    filters = {"actor": actor or "", "action": action or "", "from": from_ or "", "to": to or ""}
    next_url = None
    if page.next_cursor:
        next_url = AUDIT + "?" + urlencode({**filters, "cursor": page.next_cursor})
    return render(
        request,
        "setup/audit_log.html",
        {"entries": page.items, "members": members, "filters": filters, "next_url": next_url},
    )


# -- privacy --------------------------------------------------------------------------------------


def _privacy_page(
    request: Request,
    runtime: Any,
    principal: Any,
    uow: Any,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
) -> Response:
    settings = runtime.settings
    return render(
        request,
        "setup/privacy.html",
        {
            "grants": support_access.list_grants(runtime, principal),
            "exports": export.list_exports(uow, principal),
            "erasures": erasure.list_erasure_requests(runtime, principal),
            "staff_accesses": audit.list_events(uow, action="support.access", limit=20).items,
            "grace_days": settings.record_deletion_grace_days,
            "purge_days": settings.account_purge_days,
            "export_hours": int(export.EXPORT_LIFETIME.total_seconds() // 3600),
            "max_grant_hours": support_access.MAX_GRANT_HOURS,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get(PRIVACY)
def privacy_page(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    notice: Annotated[str | None, Query(max_length=40)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return _privacy_page(request, runtime, principal, uow, notice=_notice(notice, text))


@router.post(PRIVACY + "/grants")
def create_grant(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    form: PostedForm,
) -> Response:
    values = form_texts(form, ["hours", "reason"])
    try:
        hours = int(values["hours"] or "0")
        support_access.create_grant(
            runtime, principal, hours=hours, reason=values["reason"], ip=client_ip(request)
        )
    except ValueError:
        return _privacy_page(
            request, runtime, principal, uow, error="Hours must be a number.", status_code=422
        )
    except InvalidInput as exc:
        return _privacy_page(request, runtime, principal, uow, error=exc.message, status_code=422)
    return _back(PRIVACY, "grant_created")


@router.post(PRIVACY + "/grants/{grant_id}/revoke")
def revoke_grant(
    request: Request, principal: AdminPrincipal, runtime: RuntimeDep, grant_id: UserId
) -> Response:
    support_access.revoke_grant(runtime, principal, grant_id, ip=client_ip(request))
    return _back(PRIVACY, "grant_revoked")


@router.post(PRIVACY + "/exports")
def request_export(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    form: PostedForm,
) -> Response:
    record_text = form_texts(form, ["record"])["record"]
    try:
        record = export.parse_record_ref(record_text) if record_text else None
        export.request_export(uow, principal, record, ip=client_ip(request))
    except (InvalidInput, NotFound) as exc:
        uow.rollback()
        return _privacy_page(
            request, runtime, principal, uow, error=exc.message, status_code=exc.status
        )
    return _back(PRIVACY, "export_requested")


@router.post(PRIVACY + "/erasure")
def request_erasure(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    form: PostedForm,
) -> Response:
    values = form_texts(form, ["address", "record"])
    try:
        record = export.parse_record_ref(values["record"]) if values["record"] else None
        result = erasure.erase(
            runtime,
            principal,
            address=values["address"] or None,
            record=record,
            ip=client_ip(request),
        )
    except (InvalidInput, NotFound) as exc:
        return _privacy_page(
            request, runtime, principal, uow, error=exc.message, status_code=exc.status
        )
    deleted = result.deleted
    return _back(
        PRIVACY,
        "erased",
        f"Erased {deleted['records']} record(s) and {deleted['messages']} message(s); "
        f"{result.never_log_added} address(es) added to the never-log list.",
    )
