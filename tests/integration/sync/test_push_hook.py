"""``POST /hooks/gmail/push``: only requests carrying a valid OIDC token for our audience, signed
by a key of the configured JWKS, are accepted; everything else is a 401 problem document.

The trusted key here is this test's own (served as a JWKS over local HTTP), so expired and
wrong-audience tokens that are otherwise perfect can be made; a second key that the JWKS does
not hold signs the forged ones.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import update

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

AUDIENCE = "https://crm.test.example/hooks/gmail/push"
KID = "trusted-1"
OWNER = "rep@acme-sales.example"


@functools.cache
def _key(index: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Jwks:
    """Serves the public half of key 0 under ``KID``."""

    def __init__(self) -> None:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(_key(0).public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        payload = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth2/v3/certs"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings(settings: Settings, jwks: _Jwks) -> Settings:
    return settings.model_copy(update={"push_audience": AUDIENCE, "push_jwks_url": jwks.url})


def token(*, key_index: int = 0, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "sub": "1234567890",
        "email": "push@project.iam.gserviceaccount.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return jwt.encode(claims, _key(key_index), algorithm="RS256", headers={"kid": KID})


def body(email: str = OWNER, history_id: int = 10**9) -> bytes:
    data = json.dumps({"emailAddress": email, "historyId": history_id}).encode()
    message = {"data": base64.b64encode(data).decode(), "messageId": "42"}
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"}).encode()


def push(client: TestClient, authorization: str | None, payload: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.post("/hooks/gmail/push", content=payload or body(), headers=headers)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("case", "authorization"),
    [
        ("missing", None),
        ("not bearer", "Basic dXNlcjpwYXNz"),
        ("garbage", "Bearer not.a.jwt"),
        ("expired", "Bearer " + token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        ("wrong audience", "Bearer " + token(aud="https://someone-else.example/push")),
        ("wrong issuer", "Bearer " + token(iss="https://evil.example")),
        ("forged signature", "Bearer " + token(key_index=1)),
    ],
)
def test_push_hook_refuses_requests_without_a_valid_token(
    client: TestClient, recorded_jobs: RecordedJobs, case: str, authorization: str | None
) -> None:
    response = push(client, authorization)
    assert response.status_code == 401, (case, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 401 and problem["code"] in (
        "push_token_invalid",
        "authentication_failed",
    )
    assert recorded_jobs.queued == []
    # The very same request with a valid token is accepted (so the refusal was the token's).
    assert push(client, "Bearer " + token()).status_code == 204


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_valid_push_queues_one_incremental_sync_of_the_known_mailbox(
    client: TestClient,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> None:
    rep = tenants.member("acme", "rep")
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    with runtime.tenant_uow("acme") as uow:
        uow.session.execute(
            update(MailAccountRow).where(MailAccountRow.id == account_id).values(history_id=500)
        )
        uow.commit()
    recorded_jobs.queued.clear()

    assert push(client, "Bearer " + token(), body(OWNER, 400)).status_code == 204
    assert recorded_jobs.queued == []  # the account is already past that history id
    assert push(client, "Bearer " + token(), body(OWNER, 900)).status_code == 204
    assert recorded_jobs.queued == [
        ("inboxcrm.mail.sync_account", {"tenant": "acme", "account_id": account_id, "full": False})
    ]
    # A mailbox nobody connected is acknowledged (Pub/Sub would retry forever) and ignored.
    assert push(client, "Bearer " + token(), body("nobody@else.example")).status_code == 204
    bad = push(client, "Bearer " + token(), b'{"message": {"data": "!!"}}')
    assert bad.status_code in (400, 422)
    assert len(recorded_jobs.queued) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_push_hook_is_closed_when_push_is_not_configured(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"push_audience": ""})
    response = push(client, "Bearer " + token())
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
