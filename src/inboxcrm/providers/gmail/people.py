"""Google People API v1 ``people.connections.list`` through google-api-python-client.

:class:`PeopleClient` lists the connections ("My Contacts") of the Google account behind a set
of credentials, page by page, mapped to frozen :class:`GooglePerson` values; the rest of
inboxcrm never sees People JSON.

- A full listing asks for ``requestSyncToken=true``; its last page carries ``nextSyncToken``.
- An incremental listing passes ``syncToken``: it returns only people changed since, deleted
  ones as ``metadata.deleted: true`` (a :class:`GooglePerson` with ``deleted=True``).
- Google expires sync tokens (after about seven days, or when it must): People answers 400
  ``FAILED_PRECONDITION`` with reason ``EXPIRED_SYNC_TOKEN`` (410 on some paths); both, and any
  other 400 to a request carrying a sync token (a token it no longer accepts), raise
  :class:`ExpiredSyncToken`, and the caller runs a full listing.

Transient failures (429, 5xx, timeouts) are retried with backoff (``sync.backoff``); 401 raises
ProviderAuthError, 403 ProviderPermissionError (the contacts scope is missing).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError

from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import ProviderError
from inboxcrm.providers.gmail import endpoints
from inboxcrm.sync.backoff import http_status, retry_call

__all__ = [
    "PERSON_FIELDS",
    "ConnectionsPage",
    "ExpiredSyncToken",
    "GooglePerson",
    "PeopleClient",
    "person_from_json",
]

PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations,metadata"
PAGE_SIZE = 500
DEFAULT_TIMEOUT_SECONDS = 60.0


class ExpiredSyncToken(ProviderError):
    """The People sync token is no longer valid: list everything again."""

    code = "expired_sync_token"


@dataclass(frozen=True, slots=True)
class GooglePerson:
    """One Google contact as inboxcrm uses it. ``emails`` are canonical, primary first."""

    resource_name: str
    etag: str
    deleted: bool
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    emails: tuple[str, ...] = ()
    phone: str | None = None
    organization: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionsPage:
    people: tuple[GooglePerson, ...]
    next_sync_token: str | None
    total: int | None


def _primary_first(values: Any) -> list[dict[str, Any]]:
    items = [v for v in values or () if isinstance(v, dict)]
    return sorted(items, key=lambda v: not (v.get("metadata") or {}).get("primary", False))


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


def person_from_json(data: dict[str, Any]) -> GooglePerson:
    """Map one People ``Person`` resource (as ``connections.list`` returns it)."""
    meta = data.get("metadata") or {}
    resource_name = _text(data.get("resourceName"), 200)
    etag = _text(data.get("etag"), 200)
    if meta.get("deleted"):
        return GooglePerson(resource_name=resource_name, etag=etag, deleted=True)
    names = _primary_first(data.get("names"))
    name = names[0] if names else {}
    emails: list[str] = []
    for entry in _primary_first(data.get("emailAddresses")):
        canonical = try_normalize_email(str(entry.get("value") or ""))
        if canonical is not None and canonical not in emails:
            emails.append(canonical)
    phones = _primary_first(data.get("phoneNumbers"))
    orgs = _primary_first(data.get("organizations"))
    org = orgs[0] if orgs else {}
    return GooglePerson(
        resource_name=resource_name,
        etag=etag,
        deleted=False,
        given_name=_text(name.get("givenName"), 100),
        family_name=_text(name.get("familyName"), 100),
        display_name=_text(name.get("displayName"), 200),
        emails=tuple(emails),
        phone=_text(phones[0].get("value"), 50) or None if phones else None,
        organization=_text(org.get("name"), 200) or None,
        title=_text(org.get("title"), 200) or None,
    )


def _expired(exc: HttpError) -> bool:
    status = http_status(exc)
    if status == 410:
        return True
    if status != 400:
        return False
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
    except (ValueError, AttributeError):
        return False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("reason") == "EXPIRED_SYNC_TOKEN":
            return True
    return "sync token is expired" in str(error.get("message", "")).lower()


class PeopleClient:
    """The People API for one Google account; not thread-safe (one ``httplib2.Http``)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_base: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=timeout)
        )
        self._service: Any = endpoints.build_service(
            "people", "v1", http=self._http, api_base=api_base
        )
        self._attempts = attempts
        self._sleep = sleep

    def _list(self, **params: Any) -> dict[str, Any]:
        request = (
            self._service.people()
            .connections()
            .list(resourceName="people/me", personFields=PERSON_FIELDS, **params)
        )

        def attempt() -> dict[str, Any]:
            answer: dict[str, Any] = request.execute(http=self._http, num_retries=0)
            return answer

        try:
            return retry_call(
                attempt, attempts=self._attempts, sleep=self._sleep, rand=random.random
            )
        except HttpError as exc:
            # A token Google no longer accepts for any reason (expired, or issued for another
            # Google account that now answers for the mailbox): start over with a full listing.
            if _expired(exc) or ("syncToken" in params and http_status(exc) == 400):
                raise ExpiredSyncToken("the People sync token expired") from exc
            raise ProviderError(
                f"People connections.list refused: HTTP {http_status(exc)} {exc.reason}"
            ) from exc

    def iter_connections(self, sync_token: str | None = None) -> Iterator[ConnectionsPage]:
        """Every page of connections: all of them (``sync_token`` None, asking for a sync
        token) or the changes since ``sync_token``. The last page has ``next_sync_token``."""
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": PAGE_SIZE, "requestSyncToken": True}
            if sync_token:
                params["syncToken"] = sync_token
            if page_token:
                params["pageToken"] = page_token
            data = self._list(**params)
            people = tuple(
                person_from_json(p) for p in data.get("connections") or () if isinstance(p, dict)
            )
            page_token = data.get("nextPageToken") or None
            total = data.get("totalPeople")
            yield ConnectionsPage(
                people=people,
                next_sync_token=None if page_token else (data.get("nextSyncToken") or None),
                total=int(total) if isinstance(total, int) else None,
            )
            if not page_token:
                return
