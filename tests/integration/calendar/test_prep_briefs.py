"""Meeting prep briefs: two overlapping beat runs send exactly one brief per meeting (the
database's unique claim decides, not the query that found the meeting), from the organiser's
own Gmail, with each attendee's profile, relationship strength, recent interactions and 3-5
labelled talking points; a user who turned briefs off gets none."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from inboxcrm.adapters.db.calendar_tables import MeetingPrepBriefRow
from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.adapters.db.tenant_tables import ContactRow
from inboxcrm.services import prep_briefs
from inboxcrm.services.mail_sync import sync_account
from tests.factories import make_account, make_deal, make_note
from tests.integration.calendar.conftest import CUSTOMER, OWNER, CalendarRoom
from tests.integration.sending.conftest import customer_mail
from tests.integration.sync.conftest import emulator_mailbox


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sent_briefs(room: CalendarRoom) -> list[str]:
    mailbox = emulator_mailbox(room.emulator, OWNER)
    return [ref.id for ref in mailbox.iter_message_ids(label_ids=["SENT"], query="subject:Prep")]


def _meeting_in(room: CalendarRoom, minutes: int, title: str) -> dict[str, Any]:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    response = room.create(
        title=title,
        start=_iso(start),
        end=_iso(start + timedelta(minutes=30)),
        attendees=[CUSTOMER, "new.person@kunde.example"],
    )
    assert response.status_code == 201, response.text
    meeting: dict[str, Any] = response.json()
    return meeting


@pytest.fixture
def briefing_room(calendar_room: CalendarRoom) -> CalendarRoom:
    room = calendar_room
    with room.runtime.tenant_uow("acme") as uow:
        company = make_account(uow, name="Kunde GmbH")
        contact = uow.session.get(ContactRow, room.contact_id)
        assert contact is not None
        contact.title = "Einkaufsleiter"
        contact.account_id = company.id
        uow.commit()
        make_deal(uow, name="Rahmenvertrag 2031", account_id=company.id)
        make_note(
            uow,
            ("contact", room.contact_id),
            body="Mag kurze Angebote",
            created_at=datetime.now(UTC) - timedelta(days=2),
        )
    room.emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Frage zum Angebot"))
    assert sync_account(room.runtime, "acme", room.account_id).status == "ok"
    return room


def _racing_claims(monkeypatch: pytest.MonkeyPatch, runs: int) -> Callable[[], None]:
    """Hold every run at its claim until all runs have found the due meetings."""
    barrier = threading.Barrier(runs, timeout=60)
    original = prep_briefs._claim

    def claim(runtime: Any, tenant: str, meeting_id: int) -> int | None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(runtime, tenant, meeting_id)

    monkeypatch.setattr(prep_briefs, "_claim", claim)
    return barrier.reset


def test_two_overlapping_runs_send_one_brief_per_meeting(
    briefing_room: CalendarRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = briefing_room
    meeting = _meeting_in(room, 35, "Jahresgespräch")
    _meeting_in(room, 90, "Später")  # not due yet
    _racing_claims(monkeypatch, 2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(prep_briefs.send_due_briefs(room.runtime))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == [0, 1]
    assert len(_sent_briefs(room)) == 1

    with room.runtime.tenant_uow("acme") as uow:
        briefs = list(uow.session.scalars(select(MeetingPrepBriefRow)))
        assert [(b.meeting_id, b.status) for b in briefs] == [(meeting["id"], "sent")]
        outbound = uow.session.get(OutboundMessageRow, briefs[0].outbound_message_id)
        assert outbound is not None
        body, subject, to = outbound.body_text, outbound.subject, outbound.to_addresses
    assert subject.startswith("Prep: Jahresgespräch")
    assert to == [OWNER]
    assert "Jörg Müller <joerg@kunde.example> — Einkaufsleiter, Kunde GmbH" in body
    assert "Relationship: Warm" in body  # a note 2 days ago (3) and one interaction in 90 days (1)
    assert "new.person@kunde.example" in body and "Not in the CRM yet." in body
    assert "mail from them: Frage zum Angebot" in body
    assert "note: Mag kurze Angebote" in body
    assert "Rahmenvertrag 2031" in body
    assert "Talking points (offline suggestions, not AI)" in body
    points = re.findall(r"^\d\. .+$", body.split("Talking points", 1)[1], flags=re.M)
    assert 3 <= len(points) <= 5

    # A later run finds nothing more to send.
    assert prep_briefs.send_due_briefs(room.runtime) == 0
    assert len(_sent_briefs(room)) == 1


def test_toggle_off_sends_none(briefing_room: CalendarRoom) -> None:
    room = briefing_room
    me = room.client.get("/api/v1/me", headers=room.member.headers)
    assert me.json()["meeting_prep_enabled"] is True
    off = room.client.patch(
        "/api/v1/me", json={"meeting_prep_enabled": False}, headers=room.member.headers
    )
    assert off.status_code == 200 and off.json()["meeting_prep_enabled"] is False
    _meeting_in(room, 33, "Ohne Brief")
    assert prep_briefs.send_due_briefs(room.runtime) == 0
    assert _sent_briefs(room) == []
    with room.runtime.tenant_uow("acme") as uow:
        assert list(uow.session.scalars(select(MeetingPrepBriefRow))) == []
    on = room.client.patch(
        "/api/v1/me", json={"meeting_prep_enabled": True}, headers=room.member.headers
    )
    assert on.json()["meeting_prep_enabled"] is True
    assert prep_briefs.send_due_briefs(room.runtime) == 1


def test_talking_points_from_the_ai_provider(
    briefing_room: CalendarRoom, anthropic_double: Any
) -> None:
    room = briefing_room
    anthropic_double.reply = {
        "points": ["Rahmenvertrag ansprechen", "Frage zum Angebot beantworten", "Termin fixieren"]
    }
    _meeting_in(room, 36, "Mit KI")
    assert prep_briefs.send_due_briefs(room.runtime) == 1
    with room.runtime.tenant_uow("acme") as uow:
        body = uow.session.scalars(select(OutboundMessageRow.body_text)).one()
    assert "Talking points\n1. Rahmenvertrag ansprechen" in body
    assert "not AI" not in body
    sent = anthropic_double.requests[-1]["json"]
    assert "Jörg Müller" in sent["messages"][0]["content"]
