"""People v1 connections and Calendar v3 events with sync tokens, through the official client."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.emulator.conftest import USER, calendar_service, people_service
from tests.fixtures.emulator import EmulatorHandle

PEOPLE = ["https://www.googleapis.com/auth/contacts.readonly"]
CALENDAR = ["https://www.googleapis.com/auth/calendar"]


def all_connections(people: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = (
            people.people()
            .connections()
            .list(
                resourceName="people/me",
                personFields="names,emailAddresses,organizations",
                pageToken=token,
                **kwargs,
            )
            .execute()
        )
        found += page.get("connections", [])
        token = page.get("nextPageToken")
        if not token:
            return found, page.get("nextSyncToken", "")


def test_people_connections_sync_tokens(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    people = people_service(emulator, emulator.credentials(USER, PEOPLE))
    ids = [
        emulator.add_contact(
            USER, name=f"Person {i}", emails=[f"p{i}@customer.example"], organization="Globex"
        )
        for i in range(5)
    ]
    with pytest.raises(HttpError) as err:
        people.people().connections().list(resourceName="people/me").execute()
    assert err.value.resp.status == 400
    full, sync = all_connections(people, pageSize=2, requestSyncToken=True)
    assert len(full) == 5
    assert sync
    first = full[0]
    assert first["resourceName"].startswith("people/")
    assert first["names"][0]["displayName"].startswith("Person")
    assert first["emailAddresses"][0]["value"].endswith("@customer.example")
    assert first["organizations"][0]["name"] == "Globex"
    emulator.update_contact(USER, ids[0], name="Renamed Person")
    emulator.delete_contact(USER, ids[1])
    changes, sync2 = all_connections(people, syncToken=sync)
    assert {c["resourceName"] for c in changes} == {f"people/{ids[0]}", f"people/{ids[1]}"}
    deleted = next(c for c in changes if c["resourceName"] == f"people/{ids[1]}")
    assert deleted["metadata"]["deleted"] is True
    assert all_connections(people, syncToken=sync2)[0] == []
    emulator.advance_clock(8 * 86400)
    with pytest.raises(HttpError) as err:
        all_connections(people, syncToken=sync2)
    assert err.value.resp.status == 400
    assert b"EXPIRED_SYNC_TOKEN" in err.value.content
    assert b"Sync token is expired" in err.value.content


def test_calendar_events_crud_and_sync(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    events = calendar_service(emulator, emulator.credentials(USER, CALENDAR)).events()
    body = {
        "summary": "Demo with Globex",
        "start": {"dateTime": "2030-05-01T10:00:00Z"},
        "end": {"dateTime": "2030-05-01T11:00:00Z"},
        "attendees": [{"email": "buyer@globex.example"}],
    }
    created = events.insert(calendarId="primary", body=body).execute()
    assert created["status"] == "confirmed"
    assert created["attendees"][0]["responseStatus"] == "needsAction"
    other = events.insert(
        calendarId="primary",
        body={
            **body,
            "summary": "Later",
            "start": {"dateTime": "2031-01-01T10:00:00Z"},
            "end": {"dateTime": "2031-01-01T11:00:00Z"},
        },
    ).execute()
    with pytest.raises(HttpError) as err:
        events.insert(calendarId="primary", body={"summary": "no times"}).execute()
    assert err.value.resp.status == 400
    listing = events.list(calendarId="primary", maxResults=1).execute()
    assert len(listing["items"]) == 1
    second = events.list(calendarId="primary", pageToken=listing["nextPageToken"]).execute()
    sync = second["nextSyncToken"]
    window = events.list(
        calendarId="primary", timeMin="2030-01-01T00:00:00Z", timeMax="2030-12-31T00:00:00Z"
    ).execute()
    assert [e["id"] for e in window["items"]] == [created["id"]]
    assert (
        events.get(calendarId="primary", eventId=created["id"]).execute()["summary"]
        == "Demo with Globex"
    )
    patched = events.patch(
        calendarId="primary", eventId=created["id"], body={"summary": "Demo v2"}
    ).execute()
    assert patched["summary"] == "Demo v2"
    assert patched["attendees"] == created["attendees"]
    updated = events.update(
        calendarId="primary",
        eventId=created["id"],
        body={
            **body,
            "summary": "Demo v3",
            "start": {"dateTime": "2030-05-02T10:00:00Z"},
            "end": {"dateTime": "2030-05-02T11:00:00Z"},
        },
    ).execute()
    assert updated["sequence"] == 1
    events.delete(calendarId="primary", eventId=other["id"]).execute()
    with pytest.raises(HttpError) as err:
        events.delete(calendarId="primary", eventId=other["id"]).execute()
    assert err.value.resp.status == 410
    changes = events.list(calendarId="primary", syncToken=sync).execute()
    statuses = {e["id"]: e["status"] for e in changes["items"]}
    assert statuses == {created["id"]: "confirmed", other["id"]: "cancelled"}
    assert "nextSyncToken" in changes
    with pytest.raises(HttpError) as err:
        events.list(calendarId="primary", syncToken=sync, timeMin="2030-01-01T00:00:00Z").execute()
    assert err.value.resp.status == 400
    emulator.expire_sync_tokens(USER)
    with pytest.raises(HttpError) as err:
        events.list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert err.value.resp.status == 410
    assert b"fullSyncRequired" in err.value.content
    with pytest.raises(HttpError) as err:
        events.get(calendarId="primary", eventId="missing").execute()
    assert err.value.resp.status == 404


def test_recurring_events_expand_into_instances(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    events = calendar_service(emulator, emulator.credentials(USER, CALENDAR)).events()
    series = events.insert(
        calendarId="primary",
        body={
            "summary": "Weekly sync",
            "start": {"dateTime": "2030-05-06T09:00:00Z"},
            "end": {"dateTime": "2030-05-06T09:30:00Z"},
            "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=4"],
            "attendees": [{"email": "buyer@globex.example"}],
        },
    ).execute()
    masters = events.list(calendarId="primary").execute()["items"]
    assert [e["id"] for e in masters] == [series["id"]]
    assert masters[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=4"]
    window = {"timeMin": "2030-05-01T00:00:00Z", "timeMax": "2030-05-25T00:00:00Z"}
    listing = events.list(calendarId="primary", singleEvents=True, **window).execute()
    instances = listing["items"]
    assert [e["start"]["dateTime"] for e in instances] == [
        "2030-05-06T09:00:00Z",
        "2030-05-13T09:00:00Z",
        "2030-05-20T09:00:00Z",
    ]
    first = instances[0]
    assert first["id"] == f"{series['id']}_20300506T090000Z"
    assert first["recurringEventId"] == series["id"]
    assert first["originalStartTime"] == {"dateTime": "2030-05-06T09:00:00Z"}
    assert "recurrence" not in first
    all_four = events.instances(calendarId="primary", eventId=series["id"]).execute()["items"]
    assert len(all_four) == 4
    # An instance moved and another cancelled: exceptions replace them in the listing.
    moved = events.patch(
        calendarId="primary",
        eventId=instances[1]["id"],
        body={
            "start": {"dateTime": "2030-05-14T15:00:00Z"},
            "end": {"dateTime": "2030-05-14T15:30:00Z"},
        },
    ).execute()
    assert moved["recurringEventId"] == series["id"]
    events.delete(calendarId="primary", eventId=instances[2]["id"]).execute()
    changes = events.list(
        calendarId="primary", singleEvents=True, syncToken=listing["nextSyncToken"]
    ).execute()["items"]
    assert {(e["id"], e["status"]) for e in changes} == {
        (instances[1]["id"], "confirmed"),
        (instances[2]["id"], "cancelled"),
    }
    again = events.list(calendarId="primary", singleEvents=True, **window).execute()["items"]
    assert [e["start"]["dateTime"] for e in again] == [
        "2030-05-06T09:00:00Z",
        "2030-05-14T15:00:00Z",
    ]
    # A change to the series sends its instances (in the listing's window) again.
    events.patch(calendarId="primary", eventId=series["id"], body={"summary": "Renamed"}).execute()
    later = events.list(
        calendarId="primary", singleEvents=True, syncToken=listing["nextSyncToken"]
    ).execute()["items"]
    renamed = [e for e in later if e.get("summary") == "Renamed"]
    assert [e["start"]["dateTime"] for e in renamed] == ["2030-05-06T09:00:00Z"]


def test_private_extended_property_filter(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    events = calendar_service(emulator, emulator.credentials(USER, CALENDAR)).events()
    times = {
        "start": {"dateTime": "2030-05-01T10:00:00Z"},
        "end": {"dateTime": "2030-05-01T11:00:00Z"},
    }
    marked = events.insert(
        calendarId="primary",
        body={**times, "summary": "a", "extendedProperties": {"private": {"src": "crm"}}},
    ).execute()
    events.insert(calendarId="primary", body={**times, "summary": "b"}).execute()
    found = events.list(calendarId="primary", privateExtendedProperty="src=crm").execute()
    assert [e["id"] for e in found["items"]] == [marked["id"]]
    assert found["items"][0]["extendedProperties"] == {"private": {"src": "crm"}}


def test_people_incremental_listing_in_googles_wire_format(emulator: EmulatorHandle) -> None:
    """The shapes the Contacts import relies on, each answer checked against the discovery
    document by the recording transport: primary values first with their source, a changed
    person with a new etag, a deleted one as ``metadata.deleted`` with nothing but its name and
    etag, and the sync token only on the last page."""
    emulator.create_user(USER)
    people = people_service(emulator, emulator.credentials(USER, PEOPLE))
    kept = emulator.add_contact(
        USER, name="Ann Buyer", emails=["ann@customer.example", "ann@home.example"]
    )
    gone = emulator.add_contact(USER, name="Ben Gone", emails=["ben@customer.example"])
    fields = "names,emailAddresses,phoneNumbers,organizations,metadata"
    first = (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields=fields, pageSize=1, requestSyncToken=True)
        .execute()
    )
    assert "nextPageToken" in first and "nextSyncToken" not in first
    person = first["connections"][0]
    emails = person["emailAddresses"]
    assert emails[0]["metadata"]["primary"] is True and emails[1]["metadata"]["primary"] is False
    assert emails[0]["metadata"]["source"] == {"type": "CONTACT", "id": kept}
    assert person["metadata"]["sources"][0]["etag"] == person["etag"]
    full, sync = all_connections(people, requestSyncToken=True)
    etags = {c["resourceName"]: c["etag"] for c in full}

    emulator.update_contact(USER, kept, name="Ann Seller")
    emulator.delete_contact(USER, gone)
    changes, _ = all_connections(people, syncToken=sync, requestSyncToken=True)
    by_name = {c["resourceName"]: c for c in changes}
    changed = by_name[f"people/{kept}"]
    assert changed["etag"] != etags[f"people/{kept}"]
    assert changed["names"][0]["displayName"] == "Ann Seller"
    assert changed["emailAddresses"][0]["value"] == "ann@customer.example"  # kept
    deleted = by_name[f"people/{gone}"]
    assert deleted["metadata"]["deleted"] is True
    assert set(deleted) == {"resourceName", "etag", "metadata"}
    # A full listing no longer shows the deleted person.
    assert f"people/{gone}" not in {c["resourceName"] for c in all_connections(people)[0]}
