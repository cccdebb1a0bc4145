"""Google Calendar v3 over the official google-api-python-client: the primary calendar's events.

:class:`GoogleCalendar` is built from the same OAuth credentials as the account's mailbox (its
grant must hold :data:`CALENDAR_EVENTS_SCOPE`). It only knows Calendar JSON; everything leaving
it is a frozen dataclass of this module.

- :meth:`GoogleCalendar.list_changes`: ``events.list`` with ``singleEvents=true`` (recurring
  events arrive as their instances) — a full listing in ``[time_min, time_max)`` without a sync
  token, else the changes since ``sync_token`` (cancelled events included). All pages are read;
  the answer carries ``nextSyncToken``. An expired token (HTTP 410 ``fullSyncRequired``) raises
  :class:`SyncTokenExpired`: the caller lists in full again.
- :meth:`GoogleCalendar.insert_event` (idempotent: the event id is the caller's, a 409 means an
  earlier attempt succeeded and the event is patched to what the CRM holds), :meth:`patch_event`,
  :meth:`get_event`. Events written by inboxcrm carry ``extendedProperties.private`` with
  :data:`SOURCE_KEY` (the meeting's id), the source marker that tells them apart.

Errors as for Gmail (:mod:`inboxcrm.sync.backoff`): ``ProviderAuthError``,
``ProviderPermissionError`` (403 insufficientPermissions: the scope is missing),
``ProviderTransientError`` after retries, ``ProviderError`` for any other refusal.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import google_auth_httplib2  # type: ignore[import-untyped]
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError

from inboxcrm.domain.errors import ProviderError
from inboxcrm.providers.gmail import endpoints
from inboxcrm.sync.backoff import http_status, retry_call

__all__ = [
    "CALENDAR_EVENTS_SCOPE",
    "SOURCE_KEY",
    "CalendarEvent",
    "EventAttendee",
    "EventChanges",
    "EventDraft",
    "GoogleCalendar",
    "SyncTokenExpired",
    "crm_event_id",
]

logger = logging.getLogger(__name__)

CALENDAR_EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_FULL_SCOPE = "https://www.googleapis.com/auth/calendar"
SOURCE_KEY = "inboxcrmMeetingId"
"""``extendedProperties.private`` key on events inboxcrm wrote: the meeting's id."""
PAGE_SIZE = 250
T = TypeVar("T")


class SyncTokenExpired(ProviderError):
    """Google answered 410 Gone: the sync token is no longer valid; list in full again."""


@dataclass(frozen=True, slots=True)
class EventAttendee:
    email: str
    name: str
    response: str
    organizer: bool = False


@dataclass(frozen=True)
class CalendarEvent:
    id: str
    status: str
    title: str
    description: str
    location: str
    start: datetime | None
    end: datetime | None
    all_day: bool
    attendees: tuple[EventAttendee, ...]
    organizer_email: str
    etag: str
    updated: str
    recurring_event_id: str | None
    private: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventChanges:
    events: list[CalendarEvent]
    next_sync_token: str
    full: bool


@dataclass(frozen=True)
class EventDraft:
    """What inboxcrm writes to an event (None fields are left as they are by a patch)."""

    title: str | None = None
    description: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: Sequence[EventAttendee] | None = None
    private: dict[str, str] | None = None


def crm_event_id(tenant: str, meeting_id: int) -> str:
    """The event id inboxcrm gives the Google event of a CRM meeting (base32hex, so Google
    accepts it): the same for every attempt, so a retried insert cannot create a second one."""
    digest = hashlib.sha256(f"{tenant}:{meeting_id}".encode()).hexdigest()[:26]
    return f"icrm{digest}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: Any) -> tuple[datetime | None, bool]:
    if not isinstance(value, dict):
        return None, False
    text = value.get("dateTime") or value.get("date")
    if not isinstance(text, str):
        return None, False
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, False
    all_day = "dateTime" not in value
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC), all_day


def event_from_json(data: dict[str, Any]) -> CalendarEvent:
    start, all_day = _time(data.get("start"))
    end, _ = _time(data.get("end"))
    attendees = tuple(
        EventAttendee(
            email=str(a.get("email") or "").strip(),
            name=str(a.get("displayName") or ""),
            response=str(a.get("responseStatus") or "needsAction"),
            organizer=bool(a.get("organizer")),
        )
        for a in data.get("attendees") or []
        if isinstance(a, dict) and a.get("email")
    )
    private = (data.get("extendedProperties") or {}).get("private") or {}
    return CalendarEvent(
        id=str(data["id"]),
        status=str(data.get("status") or "confirmed"),
        title=str(data.get("summary") or ""),
        description=str(data.get("description") or ""),
        location=str(data.get("location") or ""),
        start=start,
        end=end,
        all_day=all_day,
        attendees=attendees,
        organizer_email=str((data.get("organizer") or {}).get("email") or ""),
        etag=str(data.get("etag") or ""),
        updated=str(data.get("updated") or ""),
        recurring_event_id=data.get("recurringEventId"),
        private={str(k): str(v) for k, v in private.items()} if isinstance(private, dict) else {},
    )


def _body(draft: EventDraft) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draft.title is not None:
        body["summary"] = draft.title
    if draft.description is not None:
        body["description"] = draft.description
    if draft.start is not None:
        body["start"] = {"dateTime": _rfc3339(draft.start), "timeZone": "UTC"}
    if draft.end is not None:
        body["end"] = {"dateTime": _rfc3339(draft.end), "timeZone": "UTC"}
    if draft.attendees is not None:
        body["attendees"] = [
            {
                "email": a.email,
                "responseStatus": a.response,
                **({"displayName": a.name} if a.name else {}),
            }
            for a in draft.attendees
        ]
    if draft.private is not None:
        body["extendedProperties"] = {"private": dict(draft.private)}
    return body


class GoogleCalendar:
    """The primary calendar of one account. Not thread-safe (one ``httplib2.Http``)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_base: str,
        timeout: float = 60.0,
        attempts: int = 5,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=timeout)
        )
        self._events: Any = endpoints.build_service(
            "calendar", "v3", http=self._http, api_base=api_base
        ).events()
        self._attempts = attempts
        self._sleep = sleep

    def _call(self, what: str, request_factory: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            return request_factory().execute(http=self._http, num_retries=0)

        kwargs: dict[str, Any] = {"attempts": self._attempts}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        try:
            return retry_call(attempt, **kwargs)
        except HttpError as exc:
            status = http_status(exc)
            if status == 410 and what == "events.list":
                raise SyncTokenExpired("the calendar sync token expired") from exc
            raise ProviderError(f"Calendar {what} refused: HTTP {status} {exc.reason}") from exc

    def list_changes(
        self,
        *,
        sync_token: str | None = None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> EventChanges:
        """Every page of a full listing (no token) or of the changes since ``sync_token``."""
        found: list[CalendarEvent] = []
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {
                "calendarId": "primary",
                "singleEvents": True,
                "maxResults": PAGE_SIZE,
            }
            if sync_token:
                params["syncToken"] = sync_token
            else:
                if time_min is not None:
                    params["timeMin"] = _rfc3339(time_min)
                if time_max is not None:
                    params["timeMax"] = _rfc3339(time_max)
            if page_token:
                params["pageToken"] = page_token
            data = self._call("events.list", partial(self._events.list, **params))
            found += [event_from_json(item) for item in data.get("items") or []]
            page_token = data.get("nextPageToken")
            if not page_token:
                return EventChanges(found, str(data.get("nextSyncToken") or ""), not sync_token)

    def get_event(self, event_id: str) -> CalendarEvent:
        data = self._call(
            "events.get", lambda: self._events.get(calendarId="primary", eventId=event_id)
        )
        return event_from_json(data)

    def insert_event(self, event_id: str, draft: EventDraft) -> CalendarEvent:
        """Insert with inboxcrm's own ``event_id``; after an earlier success whose answer was
        lost (409: the id exists) the event is patched to ``draft`` instead, so it holds what
        the CRM holds now and still exists once."""
        body = {**_body(draft), "id": event_id}
        try:
            data = self._call(
                "events.insert",
                lambda: self._events.insert(calendarId="primary", body=body, sendUpdates="all"),
            )
        except ProviderError as exc:
            if http_status(exc.__cause__ or exc) != 409:
                raise
            return self.patch_event(event_id, draft)
        return event_from_json(data)

    def patch_event(self, event_id: str, draft: EventDraft) -> CalendarEvent:
        body = _body(draft)
        data = self._call(
            "events.patch",
            lambda: self._events.patch(
                calendarId="primary", eventId=event_id, body=body, sendUpdates="all"
            ),
        )
        return event_from_json(data)
