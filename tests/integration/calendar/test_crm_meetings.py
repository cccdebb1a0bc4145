"""CRM → Calendar: a meeting created on a record is inserted into the organiser's Google
Calendar with its attendees and source marker; an edit on either side reaches the other exactly
once (no echo: the sync recognises inboxcrm's own write by its etag and never writes a Google
edit back)."""

from __future__ import annotations

from typing import Any

from inboxcrm.providers.gmail.calendar_client import SOURCE_KEY
from tests.integration.calendar.conftest import CUSTOMER, OWNER, CalendarRoom


def _google_event(room: CalendarRoom, event_id: str) -> dict[str, Any]:
    event: dict[str, Any] = room.google.get(calendarId="primary", eventId=event_id).execute()
    return event


def _calendar_writes(room: CalendarRoom) -> int:
    stats = room.emulator.stats(OWNER)
    methods: dict[str, int] = stats["calls"]
    return sum(
        int(n)
        for name, n in methods.items()
        if name in ("calendar.events.insert", "calendar.events.patch", "calendar.events.update")
    )


def test_crm_meeting_reaches_google_and_edits_cross_once(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    created = room.create(description="Preise und Termine")
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert meeting["id"] > 0 and meeting["provider_event_id"]
    assert meeting["push_pending"] is False
    assert meeting["source"] == "crm"

    event = _google_event(room, meeting["provider_event_id"])
    assert event["summary"] == "Angebot besprechen"
    assert event["description"] == "Preise und Termine"
    assert [a["email"] for a in event["attendees"]] == [CUSTOMER]
    assert event["extendedProperties"]["private"][SOURCE_KEY] == str(meeting["id"])
    assert event["start"]["dateTime"].startswith("2030-05-01T10:00:00")

    items = room.meetings_on("contact", room.contact_id)
    assert [(i["meeting_id"], i["title"]) for i in items] == [(meeting["id"], "Angebot besprechen")]

    # The next sync sees inboxcrm's own insert: nothing changes on either side.
    etag = event["etag"]
    writes = _calendar_writes(room)
    assert writes == 1  # the insert
    report = room.sync()
    assert report.changed == 0
    assert _google_event(room, meeting["provider_event_id"])["etag"] == etag

    # CRM edit → exactly one write to Google; its echo changes nothing.
    patched = room.client.patch(
        f"/api/v1/meetings/{meeting['id']}",
        json={
            "title": "Angebot v2",
            "start": "2030-05-01T14:00:00Z",
            "end": "2030-05-01T15:00:00Z",
        },
        headers=room.member.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Angebot v2"
    after_crm_edit = _google_event(room, meeting["provider_event_id"])
    assert after_crm_edit["summary"] == "Angebot v2"
    assert after_crm_edit["start"]["dateTime"].startswith("2030-05-01T14:00:00")
    assert after_crm_edit["etag"] != etag
    assert _calendar_writes(room) == writes + 1
    assert room.sync().changed == 0
    assert _google_event(room, meeting["provider_event_id"])["etag"] == after_crm_edit["etag"]
    assert _calendar_writes(room) == writes + 1
    moved = room.meetings_on("contact", room.contact_id)
    assert [i["start"][:16] for i in moved] == ["2030-05-01T14:00"]

    # Google edit → one update in the CRM, never written back.
    google_edit = room.google.patch(
        calendarId="primary",
        eventId=meeting["provider_event_id"],
        body={
            "summary": "Angebot (von Google)",
            "attendees": [{"email": CUSTOMER, "responseStatus": "accepted"}],
        },
    ).execute()
    writes = _calendar_writes(room)
    assert room.sync().changed == 1
    assert room.sync().changed == 0
    assert _calendar_writes(room) == writes
    assert _google_event(room, meeting["provider_event_id"])["etag"] == google_edit["etag"]
    shown = room.client.get(f"/api/v1/meetings/{meeting['id']}", headers=room.member.headers)
    assert shown.json()["title"] == "Angebot (von Google)"
    assert shown.json()["attendees"][0]["response"] == "accepted"
    items = room.meetings_on("contact", room.contact_id)
    assert [i["title"] for i in items] == ["Angebot (von Google)"]


def test_meeting_input_is_checked(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    assert room.create(end="2030-05-01T09:00:00Z").status_code == 422
    assert room.create(attendees=["not an address"]).status_code == 422
    assert room.create(record={"type": "contact", "id": 999999}).status_code == 404
    other = room.client.post(
        "/api/v1/meetings",
        json={
            "record": {"type": "contact", "id": room.contact_id},
            "mail_account_id": room.account_id,
            "title": "x",
            "start": "2030-05-01T10:00:00Z",
            "end": "2030-05-01T11:00:00Z",
            "attendees": [],
        },
        headers=room.admin.headers,  # not the mailbox owner
    )
    assert other.status_code == 404
    created = room.create().json()
    foreign = room.client.patch(
        f"/api/v1/meetings/{created['id']}", json={"title": "mine now"}, headers=room.admin.headers
    )
    assert foreign.status_code == 403


def test_google_refusing_the_calendar_scope_keeps_the_meeting_and_notes_it(
    calendar_room: CalendarRoom,
) -> None:
    from inboxcrm.adapters.db.calendar_tables import MeetingRow
    from inboxcrm.adapters.db.tenant_tables import MailAccountRow
    from inboxcrm.providers.gmail.calendar_client import CALENDAR_EVENTS_SCOPE

    room = calendar_room
    assert room.emulator.remove_scope(OWNER, CALENDAR_EVENTS_SCOPE) >= 1
    refused = room.create()
    assert refused.status_code == 409, refused.text
    assert "calendar.events" in refused.json()["detail"]
    with room.runtime.tenant_uow("acme") as uow:
        (meeting,) = uow.session.query(MeetingRow).all()
        assert meeting.push_pending and meeting.title == "Angebot besprechen"
        account = uow.session.get(MailAccountRow, room.account_id)
        assert account is not None and "calendar" in account.notices
    listed = room.google.list(calendarId="primary").execute()["items"]
    assert listed == []


def test_a_failed_insert_is_retried_by_the_job_and_never_doubles_the_event(
    calendar_room: CalendarRoom, recorded_jobs: Any
) -> None:
    from inboxcrm.providers.gmail.calendar_client import GoogleCalendar, crm_event_id
    from inboxcrm.services import meetings
    from inboxcrm.services.mail_accounts import open_mailbox

    room = calendar_room

    def fast_calendar(tenant: str, account_id: int) -> GoogleCalendar:
        mailbox = open_mailbox(room.runtime, tenant, account_id)
        return GoogleCalendar(
            mailbox.credentials, api_base=room.emulator.url, attempts=3, sleep=lambda _s: None
        )

    room.runtime.extras["calendar_factory"] = fast_calendar
    room.emulator.set_config(fault_rate=1.0, fault_statuses=[503])
    try:
        created = room.create()
    finally:
        room.emulator.set_config(fault_rate=0.0)
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert meeting["push_pending"] is True
    assert meeting["provider_event_id"] == crm_event_id("acme", meeting["id"])
    assert ("inboxcrm.calendar.push_meeting", {"tenant": "acme", "meeting_id": meeting["id"]}) in (
        recorded_jobs.queued
    )
    # Google did take an earlier attempt whose answer was lost: the retry must find it.
    room.google.insert(
        calendarId="primary",
        body={
            "id": meeting["provider_event_id"],
            "summary": "an earlier attempt",
            "start": {"dateTime": "2030-05-01T10:00:00Z"},
            "end": {"dateTime": "2030-05-01T11:00:00Z"},
        },
    ).execute()
    view = meetings.push_meeting(room.runtime, "acme", meeting["id"])
    assert view.push_pending is False
    listed = room.google.list(calendarId="primary").execute()["items"]
    assert [(e["id"], e["summary"]) for e in listed] == [
        (meeting["provider_event_id"], "Angebot besprechen")
    ]
    assert [a["email"] for a in listed[0]["attendees"]] == [CUSTOMER]
    assert room.sync().changed == 0
