"""Emulator test helpers: Google clients bound to the emulator through a recording Http.

Every response the Gmail/People/Calendar/OAuth2 clients receive (also inside batch responses) is
validated against google-api-python-client's discovery documents as it arrives; an autouse
fixture fails the test at teardown if any body did not conform. ``conformance_log`` lists the
method ids validated so far in this process (test_conformance checks coverage).
"""

from __future__ import annotations

import email.parser
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httplib2
import httpx
import pytest
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build

from inboxcrm.emulator.control_client import shared_ssl_context
from tests.emulator.discovery_schema import find_method, validate
from tests.fixtures.emulator import EmulatorHandle

HTTP = httpx.Client(verify=shared_ssl_context(), timeout=30)
"""Plain HTTP client for the tests (one per process: building TLS contexts is slow)."""
VIOLATIONS: list[str] = []
VALIDATED: set[str] = set()


def check_body(http_method: str, uri: str, status: int, content: bytes) -> None:
    """Validate one API response body (2xx JSON) against its discovery response schema."""
    path = urlsplit(uri).path
    method = find_method(http_method, path)
    if method is None or not 200 <= status < 300:
        return
    if method.response_ref is None or not content:
        VALIDATED.add(method.method_id)
        return
    try:
        body = json.loads(content)
    except ValueError:
        VIOLATIONS.append(f"{method.method_id}: body is not JSON")
        return
    for problem in validate(method.doc, method.response_ref, body):
        VIOLATIONS.append(f"{method.method_id}: {problem}")
    VALIDATED.add(method.method_id)


def _check_batch(request_body: bytes, request_type: str, response: Any, content: bytes) -> None:
    parser = email.parser.BytesParser()
    sent = parser.parsebytes(f"Content-Type: {request_type}\r\n\r\n".encode() + request_body)
    inner_requests: dict[str, tuple[str, str]] = {}
    for part in sent.get_payload():
        line = part.get_payload().lstrip().split("\n", 1)[0].split(" ")
        inner_requests[part["Content-ID"].strip("<>")] = (line[0], line[1])
    got = parser.parsebytes(f"Content-Type: {response['content-type']}\r\n\r\n".encode() + content)
    for part in got.get_payload():
        key = part["Content-ID"].strip("<>").removeprefix("response-")
        text = part.get_payload()
        status_line, _, rest = text.partition("\n")
        status = int(status_line.split(" ")[1])
        body = (
            rest.replace("\r\n", "\n").split("\n\n", 1)[1]
            if "\n\n" in rest.replace("\r\n", "\n")
            else ""
        )
        method, target = inner_requests[key]
        check_body(method, target, status, body.strip().encode())


class RecordingHttp(httplib2.Http):  # type: ignore[misc]
    """httplib2.Http that validates every response it receives."""

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        response, content = super().request(uri, method, body, headers, *args, **kwargs)
        path = urlsplit(uri).path
        if path.startswith("/batch"):
            raw = body.encode() if isinstance(body, str) else body or b""
            request_type = {k.lower(): v for k, v in (headers or {}).items()}.get(
                "content-type", ""
            )
            if response.status == 200:
                _check_batch(raw, request_type, response, content)
        else:
            check_body(method, uri, response.status, content)
        return response, content


@pytest.fixture(autouse=True)
def _conformance_guard() -> Iterator[None]:
    VIOLATIONS.clear()
    yield
    problems = list(VIOLATIONS)
    VIOLATIONS.clear()
    assert not problems, "responses not conforming to the discovery documents:\n" + "\n".join(
        problems
    )


def authed_http(creds: Any) -> AuthorizedHttp:
    return AuthorizedHttp(creds, http=RecordingHttp())


def gmail_service(emu: EmulatorHandle, creds: Any) -> Any:
    return build(
        "gmail",
        "v1",
        static_discovery=True,
        client_options={"api_endpoint": emu.url},
        http=authed_http(creds),
    )


def people_service(emu: EmulatorHandle, creds: Any) -> Any:
    return build(
        "people",
        "v1",
        static_discovery=True,
        client_options={"api_endpoint": emu.url},
        http=authed_http(creds),
    )


def calendar_service(emu: EmulatorHandle, creds: Any) -> Any:
    return build(
        "calendar", "v3", static_discovery=True,
        client_options={"api_endpoint": emu.url + "/calendar/v3/"}, http=authed_http(creds),
    )  # fmt: skip


def oauth2_service(emu: EmulatorHandle, creds: Any) -> Any:
    return build(
        "oauth2",
        "v2",
        static_discovery=True,
        client_options={"api_endpoint": emu.url},
        http=authed_http(creds),
    )


USER = "rep@acme.example"


@pytest.fixture
def rep(emulator: EmulatorHandle) -> tuple[EmulatorHandle, Any, Any]:
    """(emulator, credentials, gmail service) for USER with the product's scopes."""
    emulator.create_user(USER, "Rita Rep")
    creds = emulator.credentials(USER)
    return emulator, creds, gmail_service(emulator, creds)
