"""People v1 ``connections.list`` and Calendar v3 ``events`` with Google's sync-token semantics.

Both keep a per-user change sequence; a sync token carries (sequence, issue time) and expires after
``sync_token_ttl_s`` on the emulator clock or when the control API expires sync tokens. Expired:
People answers 400 EXPIRED_SYNC_TOKEN, Calendar answers 410 fullSyncRequired.

Calendar recurring events (``recurrence: ["RRULE:..."]``, see :mod:`.calendar_recurrence`) are
listed as their masters, or with ``singleEvents=true`` as their instances (the token of a full
listing keeps its ``timeMin``/``timeMax``, so an increment expands a changed master in the same
window); ``events.instances`` lists one series. Patching or deleting an instance id stores an
exception (``recurringEventId`` + ``originalStartTime``) listed in place of the instance.
``privateExtendedProperty=key=value`` filters a full listing by a private extended property.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inboxcrm.emulator import calendar_recurrence as recurrence
from inboxcrm.emulator.api_pipeline import (
    CALENDAR_READ,
    CALENDAR_WRITE,
    PEOPLE_READ,
    ApiContext,
    ApiRegistry,
)
from inboxcrm.emulator.errors import ApiError, not_found
from inboxcrm.emulator.http_core import Request, Response

if TYPE_CHECKING:
    import re

    from inboxcrm.emulator.state import EmulatorState

PERSON_FIELDS = frozenset(
    {
        "addresses", "ageRanges", "biographies", "birthdays", "calendarUrls", "clientData",
        "coverPhotos", "emailAddresses", "events", "externalIds", "genders", "imClients",
        "interests", "locales", "locations", "memberships", "metadata", "miscKeywords", "names",
        "nicknames", "occupations", "organizations", "phoneNumbers", "photos", "relations",
        "sipAddresses", "skills", "urls", "userDefined",
    }
)  # fmt: skip


def rfc3339(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def _encode_token(data: dict[str, Any]) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Contact:
    contact_id: str
    fields: dict[str, list[dict[str, Any]]]
    seq: int
    updated_ms: int
    deleted: bool = False


@dataclass
class CalendarEvent:
    data: dict[str, Any]
    seq: int


@dataclass
class AccountData:
    """A user's contacts and calendar events."""

    contacts: dict[str, Contact] = field(default_factory=dict)
    events: dict[str, dict[str, CalendarEvent]] = field(default_factory=dict)
    seq: int = 0
    sync_floor_ms: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bump(self) -> int:
        self.seq += 1
        return self.seq


def person_fields_from_simple(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Accept either People API fields or the control API's simple form."""
    if any(k in PERSON_FIELDS for k in data):
        return {k: list(v) for k, v in data.items() if k in PERSON_FIELDS and isinstance(v, list)}
    fields: dict[str, list[dict[str, Any]]] = {}
    name = str(data.get("name") or "").strip()
    if name:
        given, _, family = name.partition(" ")
        entry: dict[str, Any] = {"displayName": name, "givenName": given}
        if family:
            entry["familyName"] = family
        fields["names"] = [entry]
    emails = data.get("emails") or ([data["email"]] if data.get("email") else [])
    if emails:
        fields["emailAddresses"] = [{"value": str(e), "type": "work"} for e in emails]
    phones = data.get("phones") or []
    if phones:
        fields["phoneNumbers"] = [{"value": str(p), "type": "mobile"} for p in phones]
    if data.get("organization"):
        org: dict[str, Any] = {"name": str(data["organization"])}
        if data.get("title"):
            org["title"] = str(data["title"])
        fields["organizations"] = [org]
    return fields


class PeopleCalendarRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def register(self, api: ApiRegistry) -> None:
        api.add(
            "GET",
            r"/v1/people/me/connections",
            "people.people.connections.list",
            PEOPLE_READ,
            self.connections,
        )
        base = r"/calendar/v3/calendars/(?P<cal>[^/]+)/events"
        api.add("GET", base, "calendar.events.list", CALENDAR_READ, self.events_list)
        api.add("POST", base, "calendar.events.insert", CALENDAR_WRITE, self.events_insert)
        one = base + r"/(?P<event>[^/]+)"
        api.add(
            "GET", one + "/instances", "calendar.events.instances", CALENDAR_READ,
            self.events_instances,
        )  # fmt: skip
        api.add("GET", one, "calendar.events.get", CALENDAR_READ, self.events_get)
        api.add("PUT", one, "calendar.events.update", CALENDAR_WRITE, self.events_update)
        api.add("PATCH", one, "calendar.events.patch", CALENDAR_WRITE, self.events_patch)
        api.add("DELETE", one, "calendar.events.delete", CALENDAR_WRITE, self.events_delete)

    # -- contacts (also used by the control API) -------------------------------------------
    def upsert_contact(self, email: str, data: dict[str, Any], contact_id: str | None) -> Contact:
        account = self.state.account(email)
        with account.lock:
            cid = contact_id or "c" + str(secrets.randbits(62))
            existing = account.contacts.get(cid)
            fields = person_fields_from_simple(data)
            if existing is not None and not existing.deleted:
                existing.fields.update(fields)
                fields = existing.fields
            contact = Contact(cid, fields, account.bump(), self.state.clock.now_ms())
            account.contacts[cid] = contact
            return contact

    def delete_contact(self, email: str, contact_id: str) -> None:
        account = self.state.account(email)
        with account.lock:
            contact = account.contacts.get(contact_id)
            if contact is None or contact.deleted:
                raise not_found()
            contact.deleted = True
            contact.seq = account.bump()
            contact.updated_ms = self.state.clock.now_ms()

    def expire_sync_tokens(self, email: str) -> None:
        account = self.state.account(email)
        with account.lock:
            account.sync_floor_ms = self.state.clock.now_ms() + 1

    def _token_valid(self, account: AccountData, issued_ms: int) -> bool:
        ttl_ms = int(self.state.settings.sync_token_ttl_s) * 1000
        now = self.state.clock.now_ms()
        return issued_ms >= account.sync_floor_ms and now - issued_ms <= ttl_ms

    @staticmethod
    def _person(contact: Contact, wanted: set[str]) -> dict[str, Any]:
        etag = "%" + base64.urlsafe_b64encode(
            f"{contact.contact_id}:{contact.seq}".encode()
        ).decode().rstrip("=")
        source = {"type": "CONTACT", "id": contact.contact_id}
        meta: dict[str, Any] = {
            "sources": [{**source, "etag": etag, "updateTime": rfc3339(contact.updated_ms)}],
            "objectType": "PERSON",
        }
        if contact.deleted:
            meta["deleted"] = True
        person: dict[str, Any] = {
            "resourceName": f"people/{contact.contact_id}",
            "etag": etag,
            "metadata": meta,
        }
        if contact.deleted:
            return person
        for name, values in contact.fields.items():
            if name in wanted and values:
                person[name] = [
                    {**value, "metadata": {"primary": i == 0, "source": source}}
                    for i, value in enumerate(values)
                ]
        return person

    def connections(self, ctx: ApiContext, req: Request, _m: re.Match[str]) -> Response:
        mask = req.param("personFields") or req.param("requestMask.includeField") or ""
        wanted = {f.strip().removeprefix("person.") for f in mask.split(",") if f.strip()}
        if not wanted:
            raise ApiError(
                400,
                "personFields mask is required. Please specify one or more valid "
                "paths. Valid paths are documented at https://developers.google.com/"
                "people/api/rest/v1/people.connections/list.",
                reason="badRequest",
            )
        unknown = wanted - PERSON_FIELDS
        if unknown:
            raise ApiError(
                400, f'Invalid personFields mask path: "{sorted(unknown)[0]}".', reason="badRequest"
            )
        page_size = req.int_param("pageSize", 100, minimum=1, maximum=1000)
        account = self.state.account(ctx.email)
        sync_token = req.param("syncToken")
        request_sync = req.bool_param("requestSyncToken")
        page_token = req.param("pageToken")
        with account.lock:
            if sync_token:
                decoded = _decode_token(sync_token)
                if decoded is None or "seq" not in decoded:
                    raise ApiError(400, "Sync token is invalid.", reason="badRequest")
                if not self._token_valid(account, int(decoded.get("at", 0))):
                    raise ApiError(
                        400,
                        "Sync token is expired. Clear local cache and retry call without the "
                        "sync token.",
                        reason="failedPrecondition",
                        status="FAILED_PRECONDITION",
                        details=[
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "EXPIRED_SYNC_TOKEN",
                                "domain": "people.googleapis.com",
                            }
                        ],
                    )
                since = int(decoded["seq"])
                selected = [c for c in account.contacts.values() if c.seq > since]
                request_sync = True
            else:
                selected = [c for c in account.contacts.values() if not c.deleted]
            selected.sort(key=lambda c: (c.seq, c.contact_id))
            snapshot = account.seq
            offset = 0
            if page_token:
                decoded_page = _decode_token(page_token)
                if decoded_page is None:
                    raise ApiError(400, "Page token is invalid.", reason="badRequest")
                offset = int(decoded_page.get("o", 0))
                snapshot = int(decoded_page.get("s", snapshot))
            selected = [c for c in selected if c.seq <= snapshot]
            page = selected[offset : offset + page_size]
            body: dict[str, Any] = {
                "connections": [self._person(c, wanted) for c in page],
                "totalPeople": len(selected),
                "totalItems": len(selected),
            }
            if offset + page_size < len(selected):
                body["nextPageToken"] = _encode_token({"o": offset + page_size, "s": snapshot})
            elif request_sync:
                body["nextSyncToken"] = _encode_token(
                    {"seq": snapshot, "at": self.state.clock.now_ms()}
                )
        if not body["connections"]:
            del body["connections"]
        return Response.json(body)

    # -- calendar --------------------------------------------------------------------------
    def _calendar(self, ctx: ApiContext, cal: str) -> tuple[AccountData, dict[str, CalendarEvent]]:
        cal_id = ctx.email if cal in ("primary", ctx.email) else cal
        if cal_id != ctx.email:
            raise not_found()
        account = self.state.account(ctx.email)
        return account, account.events.setdefault(cal_id, {})

    @staticmethod
    def _event_time(value: Any) -> datetime | None:
        return recurrence.parse_time(value)

    def _window(self, req: Request) -> tuple[datetime | None, datetime | None]:
        bounds: list[datetime | None] = []
        for name in ("timeMin", "timeMax"):
            text = req.param(name)
            moment = self._event_time({"dateTime": text}) if text else None
            if text and moment is None:
                raise ApiError(400, f"Bad Request: invalid {name}", reason="badRequest")
            bounds.append(moment)
        return bounds[0], bounds[1]

    def _listed(
        self,
        event: CalendarEvent,
        events: dict[str, CalendarEvent],
        *,
        single: bool,
        window: tuple[datetime | None, datetime | None],
    ) -> list[tuple[int, dict[str, Any]]]:
        """What listing shows of one stored event: itself, or (singleEvents) its instances
        without those overridden by a stored exception."""
        data = event.data
        if not single or not data.get("recurrence") or data.get("status") == "cancelled":
            return [(event.seq, data)]
        return [
            (event.seq, instance)
            for instance in recurrence.expand(data, *window)
            if instance["id"] not in events
        ]

    @staticmethod
    def _in_window(data: dict[str, Any], window: tuple[datetime | None, datetime | None]) -> bool:
        if data.get("recurrence"):
            return True  # a recurring master (singleEvents=false) spans its whole series
        time_min, time_max = window
        start = recurrence.parse_time(data.get("start"))
        end = recurrence.parse_time(data.get("end")) or start
        if time_min and end and end <= time_min:
            return False
        return not (time_max and start and start >= time_max)

    def _page(
        self,
        ctx: ApiContext,
        req: Request,
        account: AccountData,
        events: dict[str, CalendarEvent],
        selected: list[tuple[int, dict[str, Any]]],
        token_extra: dict[str, Any],
    ) -> Response:
        max_results = req.int_param("maxResults", 250, minimum=1, maximum=2500)
        page_token = req.param("pageToken")
        if req.param("orderBy") == "startTime":
            far = datetime.max.replace(tzinfo=UTC)
            selected.sort(key=lambda e: self._event_time(e[1].get("start")) or far)
        else:
            selected.sort(key=lambda e: (e[0], str(e[1].get("id"))))
        snapshot = account.seq
        offset = 0
        if page_token:
            decoded_page = _decode_token(page_token)
            if decoded_page is None:
                raise ApiError(400, "Invalid page token.", reason="invalid")
            offset = int(decoded_page.get("o", 0))
            snapshot = int(decoded_page.get("s", snapshot))
        selected = [e for e in selected if e[0] <= snapshot]
        page = selected[offset : offset + max_results]
        items = [self._data_json(data) for _, data in page]
        updated = max((e.data.get("updated", "") for e in events.values()), default="")
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{snapshot}"',
            "summary": ctx.email,
            "updated": updated or rfc3339(self.state.clock.now_ms()),
            "timeZone": "UTC",
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
            "items": items,
        }
        if offset + max_results < len(selected):
            body["nextPageToken"] = _encode_token({"o": offset + max_results, "s": snapshot})
        elif token_extra is not None:
            body["nextSyncToken"] = _encode_token(
                {"seq": snapshot, "at": self.state.clock.now_ms(), **token_extra}
            )
        return Response.json(body)

    def events_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        sync_token = req.param("syncToken")
        show_deleted = req.bool_param("showDeleted")
        single = req.bool_param("singleEvents")
        private_filter = req.param("privateExtendedProperty")
        with account.lock:
            if sync_token:
                for forbidden in (
                    "timeMin", "timeMax", "q", "orderBy", "updatedMin", "iCalUID",
                    "privateExtendedProperty", "sharedExtendedProperty",
                ):  # fmt: skip
                    if req.param(forbidden):
                        raise ApiError(
                            400,
                            f"The parameter {forbidden} is not allowed with syncToken.",
                            reason="invalid",
                        )
                decoded = _decode_token(sync_token)
                if decoded is None or not self._token_valid(account, int(decoded.get("at", 0))):
                    raise ApiError(
                        410,
                        "Sync token is no longer valid, a full sync is required.",
                        reason="fullSyncRequired",
                        domain="calendar",
                        status="GONE",
                    )
                since = int(decoded.get("seq", 0))
                window = (
                    self._event_time({"dateTime": decoded["tmin"]})
                    if decoded.get("tmin")
                    else None,
                    self._event_time({"dateTime": decoded["tmax"]})
                    if decoded.get("tmax")
                    else None,
                )
                selected: list[tuple[int, dict[str, Any]]] = []
                for event in events.values():
                    if event.seq > since:
                        selected += self._listed(event, events, single=single, window=window)
                extra = {k: decoded[k] for k in ("tmin", "tmax") if decoded.get(k)}
            else:
                window = self._window(req)
                selected = []
                for event in events.values():
                    if event.data.get("status") == "cancelled" and not show_deleted:
                        continue
                    if private_filter and not self._has_private(event.data, private_filter):
                        continue
                    if not single and not self._in_window(event.data, window):
                        continue
                    for seq, data in self._listed(event, events, single=single, window=window):
                        if not single or self._in_window(data, window):
                            selected.append((seq, data))
                extra = {
                    k: req.param(p)
                    for k, p in (("tmin", "timeMin"), ("tmax", "timeMax"))
                    if req.param(p)
                }
            return self._page(ctx, req, account, events, selected, extra)

    @staticmethod
    def _has_private(data: dict[str, Any], wanted: str) -> bool:
        key, _, value = wanted.partition("=")
        private = (data.get("extendedProperties") or {}).get("private") or {}
        return isinstance(private, dict) and private.get(key) == value

    def events_instances(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        with account.lock:
            master = events.get(m.group("event"))
            if master is None or not master.data.get("recurrence"):
                raise not_found()
            if master.data.get("status") == "cancelled":
                raise ApiError(410, "Resource has been deleted", reason="deleted")
            window = self._window(req)
            selected: list[tuple[int, dict[str, Any]]] = []
            for instance in recurrence.expand(master.data, *window):
                stored = events.get(instance["id"])
                if stored is None:
                    selected.append((master.seq, instance))
                elif stored.data.get("status") != "cancelled" or req.bool_param("showDeleted"):
                    selected.append((stored.seq, stored.data))
            return self._page(ctx, req, account, events, selected, None)  # type: ignore[arg-type]

    @classmethod
    def _event_json(cls, event: CalendarEvent) -> dict[str, Any]:
        return cls._data_json(event.data)

    @staticmethod
    def _data_json(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("status") == "cancelled":
            keep = (
                "kind", "etag", "id", "status", "updated", "iCalUID", "recurringEventId",
                "originalStartTime",
            )  # fmt: skip
            return {k: data[k] for k in keep if k in data}
        return copy.deepcopy(data)

    def _stamp(self, account: AccountData, data: dict[str, Any]) -> CalendarEvent:
        seq = account.bump()
        data["etag"] = f'"{3_000_000_000_000_000 + seq}"'
        data["updated"] = rfc3339(self.state.clock.now_ms())
        return CalendarEvent(data, seq)

    def _validate_event(self, data: dict[str, Any]) -> None:
        if self._event_time(data.get("start")) is None:
            raise ApiError(400, "Missing start time.", reason="required")
        if self._event_time(data.get("end")) is None:
            raise ApiError(400, "Missing end time.", reason="required")

    def events_insert(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        body = req.json_object()
        self._validate_event(body)
        with account.lock:
            event_id = str(body.get("id") or secrets.token_hex(13))
            if event_id in events:
                raise ApiError(409, "The requested identifier already exists.", reason="duplicate")
            now = rfc3339(self.state.clock.now_ms())
            data: dict[str, Any] = {
                "kind": "calendar#event",
                "id": event_id,
                "status": str(body.get("status") or "confirmed"),
                "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                "created": now,
                "creator": {"email": ctx.email, "self": True},
                "organizer": {"email": ctx.email, "self": True},
                "iCalUID": f"{event_id}@google.com",
                "sequence": 0,
                "reminders": {"useDefault": True},
                "eventType": "default",
            }
            for key, value in body.items():
                if key not in ("id", "kind", "etag", "created", "updated", "htmlLink", "creator"):
                    data[key] = value
            for attendee in data.get("attendees") or []:
                if isinstance(attendee, dict):
                    attendee.setdefault("responseStatus", "needsAction")
            event = self._stamp(account, data)
            events[event_id] = event
            return Response.json(self._event_json(event))

    @staticmethod
    def _instance(events: dict[str, CalendarEvent], event_id: str) -> CalendarEvent | None:
        """An instance of a stored recurring event not overridden yet (as its master's seq)."""
        parts = recurrence.split_instance_id(event_id)
        if parts is None:
            return None
        master = events.get(parts[0])
        if master is None or master.data.get("status") == "cancelled":
            return None
        for instance in recurrence.expand(master.data, parts[1], None)[:1]:
            if instance["id"] == event_id:
                return CalendarEvent(instance, master.seq)
        return None

    def _existing(self, events: dict[str, CalendarEvent], event_id: str) -> CalendarEvent:
        event = events.get(event_id) or self._instance(events, event_id)
        if event is None:
            raise not_found()
        if event.data.get("status") == "cancelled":
            raise ApiError(410, "Resource has been deleted", reason="deleted")
        return event

    def events_get(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        with account.lock:
            event = events.get(m.group("event")) or self._instance(events, m.group("event"))
            if event is None:
                raise not_found()
            return Response.json(self._event_json(event))

    def _change(
        self, ctx: ApiContext, req: Request, m: re.Match[str], *, replace: bool
    ) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        body = req.json_object()
        with account.lock:
            event = self._existing(events, m.group("event"))
            data = copy.deepcopy(event.data)
            fixed: dict[str, Any] = {
                k: data[k]
                for k in (
                    "kind",
                    "id",
                    "htmlLink",
                    "created",
                    "creator",
                    "organizer",
                    "iCalUID",
                    "eventType",
                    "recurringEventId",
                    "originalStartTime",
                )
                if k in data
            }
            if replace:
                data = {**fixed, "status": "confirmed", "reminders": {"useDefault": True}}
            for key, value in body.items():
                if key not in fixed and key not in ("etag", "updated", "sequence"):
                    data[key] = value
            self._validate_event(data)
            if data.get("start") != event.data.get("start") or data.get("end") != event.data.get(
                "end"
            ):
                data["sequence"] = int(event.data.get("sequence", 0)) + 1
            else:
                data["sequence"] = int(event.data.get("sequence", 0))
            new_event = self._stamp(account, data)
            events[m.group("event")] = new_event
            return Response.json(self._event_json(new_event))

    def events_update(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        return self._change(ctx, req, m, replace=True)

    def events_patch(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        return self._change(ctx, req, m, replace=False)

    def events_delete(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        account, events = self._calendar(ctx, m.group("cal"))
        with account.lock:
            event = self._existing(events, m.group("event"))
            data = dict(event.data)
            data["status"] = "cancelled"
            events[m.group("event")] = self._stamp(account, data)
        return Response.empty(204)
