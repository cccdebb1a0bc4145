"""People ``Person`` JSON → GooglePerson, expired-sync-token detection, and what optional Google
scopes allow (no I/O)."""

from __future__ import annotations

import json

import httplib2
from googleapiclient.errors import HttpError

from inboxcrm.providers.gmail import scopes
from inboxcrm.providers.gmail.people import _expired, person_from_json


def test_a_person_maps_primary_values_first_and_canonical_addresses() -> None:
    person = person_from_json(
        {
            "resourceName": "people/c1",
            "etag": "%abc",
            "names": [
                {"displayName": "A Other", "givenName": "A", "metadata": {"primary": False}},
                {
                    "displayName": "Ada Lovelace",
                    "givenName": "Ada",
                    "familyName": "Lovelace",
                    "metadata": {"primary": True},
                },
            ],
            "emailAddresses": [
                {"value": "ada@home.example"},
                {"value": "Ada@Work.Example", "metadata": {"primary": True}},
                {"value": "not an address"},
                {"value": "ada@home.example"},
            ],
            "phoneNumbers": [{"value": " +44 20 1234 "}],
            "organizations": [{"name": "Analytical Engines", "title": "Mathematician"}],
        }
    )
    assert (person.given_name, person.family_name) == ("Ada", "Lovelace")
    assert person.emails == ("ada@work.example", "ada@home.example")
    assert person.phone == "+44 20 1234"
    assert (person.organization, person.title) == ("Analytical Engines", "Mathematician")
    assert not person.deleted


def test_a_deleted_person_carries_only_its_name_and_etag() -> None:
    person = person_from_json(
        {"resourceName": "people/c2", "etag": "%x", "metadata": {"deleted": True}}
    )
    assert person.deleted and person.resource_name == "people/c2" and person.emails == ()


def _http_error(status: int, body: dict[str, object]) -> HttpError:
    return HttpError(httplib2.Response({"status": status}), json.dumps(body).encode())


def test_expired_sync_tokens_are_recognised_and_other_errors_are_not() -> None:
    expired = {
        "error": {
            "code": 400,
            "message": "Sync token is expired. Clear local cache and retry call without the "
            "sync token.",
            "status": "FAILED_PRECONDITION",
            "details": [{"reason": "EXPIRED_SYNC_TOKEN", "domain": "people.googleapis.com"}],
        }
    }
    assert _expired(_http_error(400, expired))
    assert _expired(_http_error(410, {"error": {"code": 410, "message": "Gone"}}))
    bad_mask = {"error": {"code": 400, "message": "personFields mask is required."}}
    assert not _expired(_http_error(400, bad_mask))
    assert not _expired(_http_error(403, {"error": {"code": 403, "message": "denied"}}))


def test_optional_google_features_and_the_first_connect_scopes() -> None:
    assert scopes.google_features_of(scopes.REQUESTED) == {"contacts": False, "calendar": False}
    granted = [*scopes.REQUESTED, scopes.CONTACTS_READONLY]
    assert scopes.google_features_of(granted) == {"contacts": True, "calendar": False}
    assert scopes.google_features_of([scopes.CALENDAR]) == {"contacts": False, "calendar": True}
    # The optional scopes are never among those asked for first or reported missing.
    assert scopes.CONTACTS_READONLY not in scopes.REQUESTED
    assert scopes.CALENDAR_EVENTS not in scopes.REQUESTED
    assert scopes.missing_scopes(scopes.REQUESTED) == []
