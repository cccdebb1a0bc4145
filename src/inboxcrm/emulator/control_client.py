"""A small client of the control API, for tests and the demo (plain HTTP, no internals)."""

from __future__ import annotations

import base64
import ssl
import threading
from typing import Any
from urllib.parse import quote

import httpx

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one costs ~0.2 s, and httpx builds one per client."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = ssl.create_default_context()
        return _ssl_context


class EmulatorControl:
    """Wraps ``/_emulator/*``: one HTTP call per method; errors raise httpx.HTTPStatusError."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url + "/_emulator", timeout=timeout, verify=shared_ssl_context()
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self._client.request(method, path, json=json)
        response.raise_for_status()
        return response.json() if response.content else None

    @staticmethod
    def _user(email: str) -> str:
        return "/users/" + quote(email, safe="@")

    def create_user(
        self, email: str, name: str = "", aliases: list[str] | None = None
    ) -> dict[str, Any]:
        return dict(
            self._call("POST", "/users", {"email": email, "name": name, "aliases": aliases or []})
        )

    def user(self, email: str) -> dict[str, Any]:
        return dict(self._call("GET", self._user(email)))

    def deliver(
        self,
        email: str,
        raw: bytes,
        label_ids: list[str] | None = None,
        *,
        internal_date_ms: int | None = None,
        thread_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a received message (default labels INBOX, UNREAD); returns id/threadId/historyId."""
        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw).decode()}
        if label_ids is not None:
            body["labelIds"] = label_ids
        if internal_date_ms is not None:
            body["internalDate"] = internal_date_ms
        if thread_id is not None:
            body["threadId"] = thread_id
        return dict(self._call("POST", self._user(email) + "/messages", body))

    def generate(
        self,
        email: str,
        count: int,
        seed: int = 0,
        customer_fraction: float = 0.2,
        huge: int | None = None,
    ) -> dict[str, Any]:
        """Generate mail; ``huge``: how many 20-40 MB messages (default: none below 5,000)."""
        body: dict[str, Any] = {
            "count": count,
            "seed": seed,
            "customer_fraction": customer_fraction,
        }
        if huge is not None:
            body["huge"] = huge
        return dict(self._call("POST", self._user(email) + "/generate", body))

    def correspondents(self, email: str) -> list[dict[str, Any]]:
        return list(self._call("GET", self._user(email) + "/correspondents")["correspondents"])

    def revoke_tokens(self, email: str) -> int:
        return int(self._call("POST", self._user(email) + "/revoke-tokens")["revoked"])

    def change_password(self, email: str) -> int:
        """The user changes the Google password: grants with Gmail scopes end."""
        return int(self._call("POST", self._user(email) + "/change-password")["revoked"])

    def remove_scope(self, email: str, scope: str) -> int:
        """Take ``scope`` away from the user's live grants; returns how many changed."""
        answer = self._call("POST", self._user(email) + "/remove-scope", {"scope": scope})
        return int(answer["grants"])

    def expire_history(self, email: str) -> str:
        return str(self._call("POST", self._user(email) + "/expire-history")["historyId"])

    def expire_sync_tokens(self, email: str) -> None:
        self._call("POST", self._user(email) + "/expire-sync-tokens")

    def stats(self, email: str) -> dict[str, Any]:
        return dict(self._call("GET", self._user(email) + "/stats"))

    def fetched(self, email: str) -> dict[str, Any]:
        return dict(self._call("GET", self._user(email) + "/fetched"))

    def reset_counters(self, email: str | None = None) -> None:
        self._call("POST", (self._user(email) if email else "") + "/reset-counters")

    def pushes(self, email: str) -> list[dict[str, Any]]:
        return list(self._call("GET", self._user(email) + "/pushes")["deliveries"])

    def push_counts(self, email: str) -> tuple[int, int]:
        """(changes that were due a push, changes the watch's label filter dropped)."""
        answer = self._call("GET", self._user(email) + "/pushes")
        return int(answer["queued_changes"]), int(answer["filtered_changes"])

    def add_contact(self, email: str, **person: Any) -> str:
        return str(self._call("POST", self._user(email) + "/contacts", person)["id"])

    def update_contact(self, email: str, contact_id: str, **person: Any) -> None:
        self._call("PATCH", self._user(email) + f"/contacts/{contact_id}", person)

    def delete_contact(self, email: str, contact_id: str) -> None:
        self._call("DELETE", self._user(email) + f"/contacts/{contact_id}")

    def advance_clock(self, seconds: float) -> int:
        return int(self._call("POST", "/clock/advance", {"seconds": seconds})["now_ms"])

    def now_ms(self) -> int:
        return int(self._call("GET", "/clock")["now_ms"])

    def config(self) -> dict[str, Any]:
        return dict(self._call("GET", "/config"))

    def set_config(self, **settings: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", "/config", settings))

    def add_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})
