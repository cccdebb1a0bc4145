"""Defects 5 and 6: every id and integer parameter is bounded and parsed strictly.

Before the fix ``GET /api/v1/mail-accounts/99999999999999999999/ledger`` raised OverflowError
(HTTP 500), and a path id ``1%0A`` was read as id 1 on GET and DELETE.

Besides those exact requests, :func:`test_every_integer_parameter_of_every_route_is_strict`
walks the app's routes (API and UI) and sends each integer path parameter and each integer
query parameter the hostile values below; any answer but 404/422 (or a page that really read
the value) fails it, so a new route with a plain ``int`` parameter cannot bring the bugs back.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.web import Member, TenantFactory
from tests.security.routes import app_routes

HOSTILE = [
    "99999999999999999999",
    "9223372036854775808",
    "2147483648",
    "1%0A",
    "%201",
    "1%20",
    "+1",
    "-1",
    "0x1",
    "1e3",
    "\uff11",  # a full-width digit one: str.isdigit() says yes, int() too
    "1.0",
    "0",
]


@pytest.fixture
def admin(tenants: TenantFactory) -> Member:
    return tenants.member("acme", "admin")


def test_the_reported_requests(client: TestClient, admin: Member) -> None:
    contact = client.post(
        "/api/v1/contacts", json={"last_name": "Kept", "emails": []}, headers=admin.headers
    )
    assert contact.status_code == 201
    for huge in ("99999999999999999999", "9223372036854775808"):
        answer = client.get(f"/api/v1/mail-accounts/{huge}/ledger", headers=admin.headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/contacts/1%0A", headers=admin.headers).status_code == 422
    assert client.delete("/api/v1/contacts/1%0A", headers=admin.headers).status_code == 422
    assert client.get("/api/v1/contacts/1", headers=admin.headers).status_code == 200  # kept


def _fill(path: str, int_names: list[str], name: str | None, value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        param = match.group(1)
        if param == name:
            return value
        return "1" if param in int_names else "x"

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", repl, path)


def test_every_integer_parameter_of_every_route_is_strict(
    client: TestClient, admin: Member
) -> None:
    headers = {**admin.headers, "Accept": "application/json"}
    checked = 0
    for route in app_routes(client.app):  # type: ignore[arg-type]
        path_ints, query_ints = route.int_params()
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for name in path_ints:
                for value in HOSTILE:
                    url = _fill(route.path, path_ints, name, value)
                    answer = client.request(method, url, headers=headers)
                    assert answer.status_code in (400, 404, 422), (method, url, answer.text)
                    checked += 1
            for name in query_ints:
                base = _fill(route.path, path_ints, None, "")
                for value in HOSTILE[:-1]:  # "0" is a valid cursor for some
                    answer = client.request(method, f"{base}?{name}={value}", headers=headers)
                    assert answer.status_code in (400, 404, 422), (method, base, name, value)
                    checked += 1
    print(f"\nstrict parameters: {checked} hostile integer requests, none answered 2xx or 5xx")
    assert checked > 200  # the walk really covered the app's integer parameters
