"""Push token verification against a JWKS served over local HTTP, and push body parsing.

The signing key here is this test's own, so expiry, issuer and key rotation can be exercised
exactly; the emulator-signed path is covered in test_gmail_emulator.py.
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
from jwt.algorithms import RSAAlgorithm

from inboxcrm.providers.gmail.push import (
    PushBodyError,
    PushTokenError,
    parse_push_body,
    verify_push_token,
)

AUDIENCE = "https://crm.example.com/hooks/gmail/push"
ACCOUNT = "push@project.iam.gserviceaccount.com"


@functools.cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    """A few keys shared by all tests (generating RSA keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                jwks = {"keys": [server.jwk(kid) for kid in server.keys]}
                body = json.dumps(jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth2/v3/certs"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def add_key(self, kid: str, pool_index: int = 0) -> rsa.RSAPrivateKey:
        key = _rsa_key(pool_index)
        self.keys[kid] = key
        return key

    def jwk(self, kid: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        data.update({"kid": kid, "alg": "RS256", "use": "sig"})
        return data

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": ACCOUNT,
            "email_verified": True,
            "sub": "1234",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.add_key("k1")
    yield server
    server.close()


def verify(jwks: JwksServer, header: str | None, **kwargs: Any) -> Any:
    return verify_push_token(header, audience=AUDIENCE, certs_url=jwks.url, **kwargs)


def test_valid_token_and_cached_certs(jwks: JwksServer) -> None:
    claims = verify(jwks, f"Bearer {jwks.token()}", service_account=ACCOUNT)
    assert claims["email"] == ACCOUNT and claims["aud"] == AUDIENCE
    verify(jwks, f"bearer {jwks.token()}")
    assert jwks.fetches == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://other.example.com"}, "wrong_audience"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
        ({"iss": "https://evil.example.com"}, "wrong_issuer"),
        ({"exp": None}, "malformed"),
    ],
)
def test_rejected_claims(jwks: JwksServer, overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(PushTokenError) as raised:
        verify(jwks, f"Bearer {jwks.token(**overrides)}")
    assert raised.value.reason == reason
    assert raised.value.status == 401


def test_tampered_payload_fails_the_signature(jwks: JwksServer) -> None:
    header, payload, signature = jwks.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = "attacker@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(PushTokenError) as raised:
        verify(jwks, f"Bearer {header}.{forged}.{signature}")
    assert raised.value.reason == "bad_signature"


def test_token_signed_by_an_unknown_key(jwks: JwksServer) -> None:
    outsider = JwksServer()
    try:
        outsider.add_key("k1", pool_index=1)  # same kid, different key
        with pytest.raises(PushTokenError) as raised:
            verify(jwks, f"Bearer {outsider.token()}")
        assert raised.value.reason == "bad_signature"
    finally:
        outsider.close()


def test_key_rotation_refetches_once(jwks: JwksServer) -> None:
    verify(jwks, f"Bearer {jwks.token()}")
    jwks.add_key("k2", pool_index=2)
    claims = verify(jwks, f"Bearer {jwks.token(kid='k2')}")
    assert claims["email"] == ACCOUNT
    assert jwks.fetches == 2
    with pytest.raises(PushTokenError):  # unknown kid again within a minute: no new fetch
        verify(jwks, f"Bearer {jwks.token(kid='k2')[:-4]}AAAA")
    assert jwks.fetches == 2


def test_wrong_service_account(jwks: JwksServer) -> None:
    with pytest.raises(PushTokenError) as raised:
        verify(jwks, f"Bearer {jwks.token()}", service_account="other@x.iam.gserviceaccount.com")
    assert raised.value.reason == "wrong_account"
    with pytest.raises(PushTokenError):
        verify(jwks, f"Bearer {jwks.token(email_verified=False)}", service_account=ACCOUNT)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt"])
def test_missing_or_malformed_header(jwks: JwksServer, header: str | None) -> None:
    with pytest.raises(PushTokenError):
        verify(jwks, header)


def push_body(data: object, *, encode: bool = True) -> bytes:
    raw = json.dumps(data).encode()
    payload = base64.b64encode(raw).decode() if encode else data
    return json.dumps(
        {
            "message": {"data": payload, "messageId": "136969346945", "attributes": {}},
            "subscription": "projects/p/subscriptions/s",
        }
    ).encode()


def test_parse_push_body_number_or_string_history_id() -> None:
    for history_id in (1710, "1710"):
        notice = parse_push_body(
            push_body({"emailAddress": "Rep@OurCo.com", "historyId": history_id})
        )
        assert notice.email == "rep@ourco.com"
        assert notice.history_id == 1710
        assert notice.message_id == "136969346945"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"message": {}}',
        json.dumps({"message": {"data": "%%%not base64"}}).encode(),
        json.dumps({"message": {"data": base64.b64encode(b"not json").decode()}}).encode(),
        push_body({"emailAddress": "x@y.com"}),
        push_body({"emailAddress": "x@y.com", "historyId": "abc"}),
        push_body({"emailAddress": "x@y.com", "historyId": True}),
        push_body({"emailAddress": "x@y.com", "historyId": -5}),
        push_body({"emailAddress": "nobody", "historyId": 5}),
    ],
)
def test_parse_push_body_rejects_malformed(body: bytes) -> None:
    with pytest.raises(PushBodyError):
        parse_push_body(body)
