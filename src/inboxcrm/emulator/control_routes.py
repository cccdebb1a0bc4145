"""The control API under ``/_emulator/``: plain JSON over HTTP, no authentication.

Tests and the demo change emulator state only through these endpoints (see docs/emulator.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from inboxcrm.emulator.errors import ApiError, bad_request, not_found
from inboxcrm.emulator.http_core import Request, Response, Router
from inboxcrm.emulator.mail_store import Mailbox
from inboxcrm.emulator.mime_payload import b64url_decode

if TYPE_CHECKING:
    import re

    from inboxcrm.emulator.people_calendar import PeopleCalendarRoutes
    from inboxcrm.emulator.state import EmulatorState

P = "/_emulator"
U = P + r"/users/(?P<email>[^/]+)"
BODY_FORMATS = ("full", "raw", "attachment")


def _user_json(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "email": mailbox.email,
        "name": mailbox.name,
        "aliases": list(mailbox.aliases),
        "messagesTotal": len(mailbox.messages),
        "threadsTotal": len(mailbox.threads),
        "historyId": str(mailbox.history_id),
        "watch": (
            {
                "topicName": mailbox.watch.topic,
                "expiration": str(mailbox.watch.expiration_ms),
                "labelIds": list(mailbox.watch.label_ids),
                "labelFilterBehavior": mailbox.watch.behavior,
            }
            if mailbox.watch
            else None
        ),
    }


def _raw_from(body: dict[str, Any]) -> bytes:
    if isinstance(body.get("raw_text"), str):
        return str(body["raw_text"]).encode("utf-8", "surrogateescape")
    raw = body.get("raw")
    if not isinstance(raw, str) or not raw:
        raise bad_request("'raw' (base64url RFC 822 bytes) or 'raw_text' is required")
    try:
        return b64url_decode(raw)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError):
            raise bad_request("'raw' is not valid base64") from None


class ControlRoutes:
    def __init__(self, state: EmulatorState, people: PeopleCalendarRoutes) -> None:
        self.state = state
        self.people = people

    def register(self, router: Router) -> None:
        add = router.add
        add("GET", P + "/health", self.health)
        add("GET", P + "/users", self.users_list)
        add("POST", P + "/users", self.users_create)
        add("GET", U, self.user_get)
        add("POST", U + "/messages", self.deliver)
        add("POST", U + "/generate", self.generate)
        add("GET", U + "/correspondents", self.correspondents)
        add("POST", U + "/revoke-tokens", self.revoke_tokens)
        add("POST", U + "/remove-scope", self.remove_scope)
        add("POST", U + "/change-password", self.change_password)
        add("POST", U + "/expire-history", self.expire_history)
        add("POST", U + "/expire-sync-tokens", self.expire_sync_tokens)
        add("GET", U + "/stats", self.stats)
        add("GET", U + "/fetched", self.fetched)
        add("POST", U + "/reset-counters", self.reset_user_counters)
        add("GET", U + "/pushes", self.pushes)
        add("POST", U + "/contacts", self.contact_create)
        add("PATCH", U + r"/contacts/(?P<cid>[^/]+)", self.contact_update)
        add("DELETE", U + r"/contacts/(?P<cid>[^/]+)", self.contact_delete)
        add("GET", P + "/clock", self.clock_get)
        add("POST", P + "/clock/advance", self.clock_advance)
        add("GET", P + "/config", self.config_get)
        add("PATCH", P + "/config", self.config_set)
        add("POST", P + "/config", self.config_set)
        add("POST", P + "/clients", self.client_add)
        add("POST", P + "/reset-counters", self.reset_counters)
        add("POST", P + "/state/save", self.save_state)

    def _email(self, m: re.Match[str]) -> str:
        return unquote(m.group("email")).strip().lower()

    def _existing(self, m: re.Match[str]) -> Mailbox:
        email = self._email(m)
        with self.state.lock:
            mailbox = self.state.users.get(email)
        if mailbox is None:
            raise not_found()
        return mailbox

    def health(self, req: Request, m: re.Match[str]) -> Response:
        return Response.json({"status": "ok", "users": len(self.state.users)})

    def users_list(self, req: Request, m: re.Match[str]) -> Response:
        with self.state.lock:
            return Response.json({"users": [_user_json(mb) for mb in self.state.users.values()]})

    def users_create(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        email = str(body.get("email") or "").strip().lower()
        if "@" not in email:
            raise bad_request("'email' is required")
        aliases = [str(a) for a in body.get("aliases") or []]
        mailbox = self.state.ensure_user(email, str(body.get("name") or ""), aliases)
        with self.state.lock:
            return Response.json(_user_json(mailbox), 201)

    def user_get(self, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._existing(m)
        with self.state.lock:
            return Response.json(_user_json(mailbox))

    def deliver(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        raw = _raw_from(body)
        labels = body.get("labelIds")
        internal = body.get("internalDate")
        rec = self.state.deliver(
            self._email(m),
            raw,
            labels=[str(x) for x in labels] if isinstance(labels, list) else None,
            internal_date=int(internal) if internal is not None else None,
            thread_id=str(body["threadId"]) if body.get("threadId") else None,
            date_from_header=bool(body.get("dateFromHeader")),
        )
        return Response.json(
            {
                "id": rec.id,
                "threadId": rec.thread_id,
                "historyId": str(rec.history_id),
                "labelIds": list(rec.labels),
            },
            201,
        )

    def generate(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        count = int(body.get("count", 0))
        if count < 0:
            raise bad_request("'count' must be >= 0")
        generated = self.state.generate(
            self._email(m),
            count,
            seed=int(body.get("seed", 0)),
            customer_fraction=float(body.get("customer_fraction", 0.2)),
            huge=int(body["huge"]) if body.get("huge") is not None else None,
        )
        mailbox = self.state.mailbox(self._email(m))
        with self.state.lock:
            return Response.json({"generated": generated, **_user_json(mailbox)})

    def correspondents(self, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._existing(m)
        with self.state.lock:
            people = [c.to_json() for c in mailbox.correspondents]
        domains = sorted(
            {c["email"].split("@")[1] for c in people if c["kind"] == "customer-domain"}
        )
        return Response.json({"correspondents": people, "customer_domains": domains})

    def revoke_tokens(self, req: Request, m: re.Match[str]) -> Response:
        return Response.json({"revoked": self.state.revoke_user_tokens(self._email(m))})

    def change_password(self, req: Request, m: re.Match[str]) -> Response:
        """The user changed the Google password: grants with Gmail scopes end (invalid_grant)."""
        return Response.json({"revoked": self.state.oauth.change_password(self._email(m))})

    def remove_scope(self, req: Request, m: re.Match[str]) -> Response:
        """Take one scope away from every live grant of the user (as a Workspace admin's API
        controls can); calls that need it then answer 403 insufficientPermissions."""
        scope = str(req.json_object().get("scope") or "")
        if not scope:
            raise bad_request("'scope' is required")
        email = self._email(m)
        changed = 0
        with self.state.oauth.lock:
            for grant in self.state.oauth.grants.values():
                if grant.email == email and not grant.revoked and scope in grant.scopes:
                    grant.scope_text = " ".join(s for s in grant.scope_text.split() if s != scope)
                    changed += 1
        return Response.json({"grants": changed})

    def expire_history(self, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._existing(m)
        with self.state.lock:
            return Response.json({"historyId": str(mailbox.expire_history())})

    def expire_sync_tokens(self, req: Request, m: re.Match[str]) -> Response:
        self.people.expire_sync_tokens(self._email(m))
        return Response.json({})

    def stats(self, req: Request, m: re.Match[str]) -> Response:
        return Response.json({"email": self._email(m), **self.state.stats.of(self._email(m))})

    def fetched(self, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._existing(m)
        with self.state.lock:
            messages = {mid: sorted(fmts) for mid, fmts in mailbox.fetched.items()}
        body_fetched = sorted(
            mid for mid, fmts in messages.items() if set(fmts) & set(BODY_FORMATS)
        )
        return Response.json({"messages": messages, "body_fetched": body_fetched})

    def reset_user_counters(self, req: Request, m: re.Match[str]) -> Response:
        email = self._email(m)
        self.state.stats.reset(email)
        with self.state.lock:
            mailbox = self.state.users.get(email)
            if mailbox is not None:
                mailbox.fetched.clear()
        return Response.json({})

    def reset_counters(self, req: Request, m: re.Match[str]) -> Response:
        self.state.stats.reset()
        self.state.meter.reset()
        with self.state.lock:
            for mailbox in self.state.users.values():
                mailbox.fetched.clear()
        return Response.json({})

    def pushes(self, req: Request, m: re.Match[str]) -> Response:
        email = self._email(m)
        push = self.state.push
        return Response.json(
            {
                "deliveries": [d for d in list(push.log) if d["email"] == email],
                "queued_changes": push.queued.get(email, 0),
                "filtered_changes": push.filtered.get(email, 0),
            }
        )

    def contact_create(self, req: Request, m: re.Match[str]) -> Response:
        contact = self.people.upsert_contact(self._email(m), req.json_object(), None)
        return Response.json(
            {"resourceName": f"people/{contact.contact_id}", "id": contact.contact_id}, 201
        )

    def contact_update(self, req: Request, m: re.Match[str]) -> Response:
        contact = self.people.upsert_contact(self._email(m), req.json_object(), m.group("cid"))
        return Response.json(
            {"resourceName": f"people/{contact.contact_id}", "id": contact.contact_id}
        )

    def contact_delete(self, req: Request, m: re.Match[str]) -> Response:
        self.people.delete_contact(self._email(m), m.group("cid"))
        return Response.empty(204)

    def clock_get(self, req: Request, m: re.Match[str]) -> Response:
        return Response.json(
            {"now_ms": self.state.clock.now_ms(), "offset_s": self.state.clock.offset}
        )

    def clock_advance(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        seconds = float(body.get("seconds", 0)) + 60 * float(body.get("minutes", 0))
        seconds += 3600 * float(body.get("hours", 0)) + 86400 * float(body.get("days", 0))
        self.state.clock.advance(seconds)
        return self.clock_get(req, m)

    def config_get(self, req: Request, m: re.Match[str]) -> Response:
        return Response.json(self.state.settings.to_json())

    def config_set(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        unknown = sorted(k for k in body if k not in self.state.settings.to_json())
        if unknown:
            raise ApiError(400, f"Unknown settings: {', '.join(unknown)}", reason="invalid")
        self.state.settings.update(body)
        return Response.json(self.state.settings.to_json())

    def client_add(self, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        client_id = str(body.get("client_id") or "")
        if not client_id:
            raise bad_request("'client_id' is required")
        with self.state.oauth.lock:
            self.state.oauth.clients[client_id] = str(body.get("client_secret") or "")
        return Response.json({"client_id": client_id}, 201)

    def save_state(self, req: Request, m: re.Match[str]) -> Response:
        path = str(req.json_object().get("path") or self.state.config.state_file or "")
        if not path:
            raise bad_request("no state file configured; pass 'path'")
        self.state.save(path)
        return Response.json({"path": path})
