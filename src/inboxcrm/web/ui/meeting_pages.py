"""The record page's "Schedule a meeting" form (services.meetings).

    POST /{kind}s/{id}/meetings    title, start (the user's time zone), minutes, attendees,
                                   mail_account_id, description → the organiser's Google Calendar
    POST /setup/email/google-features  the Google Calendar and deal-label switches (admins)
    POST /setup/email/meeting-prep     the caller's own prep-brief choice

The form is shown to writers who own a connected Gmail mailbox holding the calendar.events
permission, when the workspace has Google Calendar enabled. A refused request goes back to the
record page with the problem shown above the form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound
from inboxcrm.domain.records import RECORD_KINDS
from inboxcrm.services import mail_settings, meetings, prep_briefs
from inboxcrm.services.identity import Principal
from inboxcrm.web.api.params import PathId
from inboxcrm.web.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    RuntimeDep,
    TenantUow,
    WriterPrincipal,
)
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts

__all__ = ["meeting_form_context", "router"]

router = page_router()


def _zone(principal: Principal) -> ZoneInfo:
    try:
        return ZoneInfo(principal.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def meeting_form_context(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    """What the record page needs for the form (no accounts: no form)."""
    if not meetings.calendar_enabled(uow):
        return {"meeting_accounts": []}
    rows = uow.session.scalars(
        select(MailAccountRow).where(
            MailAccountRow.user_id == principal.user_id,
            MailAccountRow.provider == "gmail",
            MailAccountRow.status == "connected",
        )
    )
    accounts = [
        {"id": row.id, "email": row.email}
        for row in rows
        if meetings.has_calendar_scope(row.scopes)
    ]
    return {"meeting_accounts": accounts, "meeting_zone": _zone(principal).key}


def _start(text: str, principal: Principal) -> datetime:
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("give the start as a date and time", field="start") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=_zone(principal))
    return local.astimezone(UTC)


def _register(kind: str) -> None:
    base = f"/{kind}s"

    def schedule_meeting(
        principal: WriterPrincipal, runtime: RuntimeDep, record_id: PathId, form: PostedForm
    ) -> Response:
        fields = form_texts(
            form, ["title", "start", "minutes", "attendees", "mail_account_id", "description"]
        )
        back = f"{base}/{record_id}"
        try:
            if not fields["mail_account_id"].isdigit() or not fields["minutes"].isdigit():
                raise InvalidInput("choose a calendar and a length in minutes")
            minutes = int(fields["minutes"])
            if not 5 <= minutes <= 1440:
                raise InvalidInput("a meeting lasts 5 to 1440 minutes", field="minutes")
            start = _start(fields["start"], principal)
            attendees = [a.strip() for a in fields["attendees"].split(",") if a.strip()]
            request = meetings.MeetingRequest(
                record_kind=kind,
                record_id=record_id,
                mail_account_id=int(fields["mail_account_id"]),
                title=fields["title"],
                start=start,
                end=start + timedelta(minutes=minutes),
                attendees=attendees,
                description=fields["description"],
            )
            meetings.create_meeting(runtime, principal, request)
        except (InvalidInput, Conflict, NotFound) as exc:
            return RedirectResponse(
                f"{back}?meeting_error={quote(str(exc))}#meeting-form", status_code=303
            )
        return RedirectResponse(f"{back}#timeline", status_code=303)

    schedule_meeting.__name__ = f"schedule_{kind}_meeting"
    router.add_api_route(f"{base}/{{record_id}}/meetings", schedule_meeting, methods=["POST"])


for _kind in RECORD_KINDS:
    _register(_kind)


# -- Setup → Email → Calendar & labels ----------------------------------------------------------


@router.post("/setup/email/google-features")
def save_google_features(principal: AdminPrincipal, uow: TenantUow, form: PostedForm) -> Response:
    """The deal-state labels switch (Google Calendar itself is switched in the Google tab)."""
    fields = form_texts(form, ["deal_state_labels_enabled"])
    mail_settings.update_mail_settings(
        uow, principal, deal_state_labels_enabled=fields["deal_state_labels_enabled"] == "1"
    )
    return RedirectResponse(
        "/setup/email?notice=calendar_features_saved#section-calendar", status_code=303
    )


@router.post("/setup/email/meeting-prep")
def save_meeting_prep(principal: CurrentPrincipal, uow: TenantUow, form: PostedForm) -> Response:
    enabled = form_texts(form, ["meeting_prep_enabled"])["meeting_prep_enabled"] == "1"
    prep_briefs.set_meeting_prep(uow, principal, enabled)
    return RedirectResponse(
        "/setup/email?notice=meeting_prep_saved#section-calendar", status_code=303
    )
