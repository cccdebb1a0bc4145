"""Calendar → meetings: Google events become meetings on the timelines of matching records,
follow moves, responses and cancellations, recurring events arrive as instances, and an
expired sync token (410) leads to a full listing that also notices what was deleted meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from inboxcrm.adapters.db.calendar_tables import MeetingRow
from inboxcrm.services import meetings
from tests.factories import make_lead
from tests.fixtures.runtime import RecordedJobs
from tests.integration.calendar.conftest import CUSTOMER, OWNER, CalendarRoom


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(title: str, start: datetime, attendees: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "summary": title,
        "start": {"dateTime": _iso(start)},
        "end": {"dateTime": _iso(start + timedelta(hours=1))},
        "attendees": [{"email": a} for a in attendees],
        **extra,
    }


def test_events_become_meetings_on_the_right_records(
    calendar_room: CalendarRoom, recorded_jobs: RecordedJobs
) -> None:
    room = calendar_room
    with room.runtime.tenant_uow("acme") as uow:
        lead = make_lead(uow, first_name="Lea", emails=["lea@prospect.example"])
    google = room.google
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    demo = google.insert(
        calendarId="primary",
        body=_event("Demo", soon, [CUSTOMER, "lea@prospect.example"], location="Room 1"),
    ).execute()
    google.insert(
        calendarId="primary", body=_event("Internal", soon, ["someone@elsewhere.example"])
    ).execute()
    series = google.insert(
        calendarId="primary",
        body=_event(
            "Weekly check-in", soon + timedelta(hours=3), [CUSTOMER],
            recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
        ),
    ).execute()  # fmt: skip
    far = google.insert(
        calendarId="primary", body=_event("Next year", soon + timedelta(days=400), [CUSTOMER])
    ).execute()

    response = room.client.post(
        f"/api/v1/mail-accounts/{room.account_id}/calendar-sync", headers=room.member.headers
    )
    assert response.status_code == 202, response.text
    queued = ("inboxcrm.calendar.sync_account", {"tenant": "acme", "account_id": room.account_id})
    assert queued in recorded_jobs.queued
    report = room.sync()
    assert report.full

    items = room.meetings_on("contact", room.contact_id)
    titles = sorted(i["title"] for i in items)
    assert titles == ["Demo", "Weekly check-in", "Weekly check-in", "Weekly check-in"]
    assert far["id"] not in {i["provider_event_id"] for i in items}  # beyond the look-ahead
    first = next(i for i in items if i["title"] == "Demo")
    assert first["kind"] == "meeting"
    assert first["status"] == "confirmed"
    assert first["provider_event_id"] == demo["id"]
    assert first["location"] == "Room 1"
    assert first["start"].startswith(_iso(soon)[:16])
    assert {a["email"]: a["response"] for a in first["attendees"]} == {
        CUSTOMER: "needsAction",
        "lea@prospect.example": "needsAction",
    }
    instances = sorted(i["provider_event_id"] for i in items if i["title"] != "Demo")
    assert all(i.startswith(series["id"] + "_") for i in instances)
    assert [i["title"] for i in room.meetings_on("lead", lead.id)] == ["Demo"]

    # Moved, accepted by the customer: the same entry moves; nothing is duplicated.
    later = soon + timedelta(days=1)
    google.patch(
        calendarId="primary",
        eventId=demo["id"],
        body={
            "start": {"dateTime": _iso(later)},
            "end": {"dateTime": _iso(later + timedelta(hours=1))},
            "attendees": [{"email": CUSTOMER, "responseStatus": "accepted"}],
        },
    ).execute()
    assert room.sync().changed == 1
    moved = [i for i in room.meetings_on("contact", room.contact_id) if i["title"] == "Demo"]
    assert len(moved) == 1
    assert moved[0]["start"].startswith(_iso(later)[:16])
    assert moved[0]["occurred_at"].startswith(_iso(later)[:16])
    assert moved[0]["attendees"] == [{"email": CUSTOMER, "name": "", "response": "accepted"}]
    assert room.meetings_on("lead", lead.id) == []  # Lea is no longer invited

    # Cancelled in Google: marked cancelled, still on the timeline.
    google.delete(calendarId="primary", eventId=demo["id"]).execute()
    assert room.sync().cancelled == 1
    cancelled = [i for i in room.meetings_on("contact", room.contact_id) if i["title"] == "Demo"]
    assert [i["status"] for i in cancelled] == ["cancelled"]
    assert room.sync().changed == 0  # nothing new: the token carries on


def test_expired_sync_token_leads_to_a_full_listing(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    google = room.google
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    kept = google.insert(calendarId="primary", body=_event("Kept", soon, [CUSTOMER])).execute()
    gone = google.insert(calendarId="primary", body=_event("Gone", soon, [CUSTOMER])).execute()
    assert room.sync().full
    assert not room.sync().full  # the stored token is used

    google.delete(calendarId="primary", eventId=gone["id"]).execute()
    room.emulator.expire_sync_tokens(OWNER)
    report = room.sync()
    assert report.full
    assert report.cancelled == 1
    statuses = {i["title"]: i["status"] for i in room.meetings_on("contact", room.contact_id)}
    assert statuses == {"Kept": "confirmed", "Gone": "cancelled"}
    with room.runtime.tenant_uow("acme") as uow:
        row = uow.session.query(MeetingRow).filter_by(provider_event_id=kept["id"]).one()
        assert row.source == "google"


def test_without_the_calendar_scope_the_account_shows_a_notice(
    calendar_room: CalendarRoom,
) -> None:
    room = calendar_room
    from inboxcrm.adapters.db.tenant_tables import MailAccountRow

    with room.runtime.tenant_uow("acme") as uow:
        account = uow.session.get(MailAccountRow, room.account_id)
        assert account is not None
        account.scopes = [s for s in account.scopes if "calendar" not in s]
        uow.commit()
    report = meetings.sync_calendar(room.runtime, "acme", room.account_id)
    assert report.status == "missing_scope"
    response = room.client.post(
        f"/api/v1/mail-accounts/{room.account_id}/calendar-sync", headers=room.member.headers
    )
    assert response.status_code == 409
    created = room.create()
    assert created.status_code == 409
    with room.runtime.tenant_uow("acme") as uow:
        account = uow.session.get(MailAccountRow, room.account_id)
        assert account is not None
        assert "calendar" in account.notices


def test_calendar_switched_off_does_nothing(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    off = room.client.patch(
        "/api/v1/mail-settings", json={"google_calendar_enabled": False}, headers=room.admin.headers
    )
    assert off.status_code == 200
    rep_try = room.client.patch(
        "/api/v1/mail-settings", json={"google_calendar_enabled": True}, headers=room.member.headers
    )
    assert rep_try.status_code == 403
    assert meetings.sync_calendar(room.runtime, "acme", room.account_id).status == "disabled"
    assert room.create().status_code == 409


def test_erasure_removes_the_address_from_meetings(calendar_room: CalendarRoom) -> None:
    room = calendar_room
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    room.google.insert(
        calendarId="primary", body=_event("Demo", soon, [CUSTOMER, "keep@other.example"])
    ).execute()
    room.sync()
    erased = room.client.post(
        "/api/v1/erasure-requests", json={"address": CUSTOMER}, headers=room.admin.headers
    )
    assert erased.status_code == 201, erased.text
    assert erased.json()["deleted"]["meetings"] == 1
    with room.runtime.tenant_uow("acme") as uow:
        (row,) = uow.session.query(MeetingRow).all()
        assert [a["email"] for a in row.attendees] == ["keep@other.example"]
        assert CUSTOMER not in str(row.attendees)


def test_a_record_export_carries_its_meetings(calendar_room: CalendarRoom, tmp_path: Any) -> None:
    import json

    from inboxcrm.services.export import export_to_directory

    room = calendar_room
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    event = room.google.insert(
        calendarId="primary", body=_event("Exported", soon, [CUSTOMER], location="HQ")
    ).execute()
    room.sync()
    export_to_directory(room.runtime, "acme", tmp_path, record=("contact", room.contact_id))
    (document,) = json.loads((tmp_path / "export.json").read_text())["records"]
    (entry,) = [e for e in document["timeline"] if e["kind"] == "meeting"]
    assert (entry["title"], entry["location"], entry["status"]) == ("Exported", "HQ", "confirmed")
    assert entry["provider_event_id"] == event["id"]
    assert [a["email"] for a in entry["attendees"]] == [CUSTOMER]
