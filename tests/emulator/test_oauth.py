"""OAuth 2.0 / OIDC endpoints through google-auth-oauthlib, google-auth and plain HTTP."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httplib2
import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import id_token
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

from tests.emulator.conftest import HTTP, USER, gmail_service, oauth2_service
from tests.fixtures.emulator import GMAIL_SCOPES, TEST_CLIENT_ID, TEST_CLIENT_SECRET, EmulatorHandle

REDIRECT = "http://127.0.0.1:9/oauth/callback"


def _flow(url: str, client_secret: str = TEST_CLIENT_SECRET) -> Flow:
    config = {
        "web": {
            "client_id": TEST_CLIENT_ID,
            "client_secret": client_secret,
            "auth_uri": url + "/o/oauth2/v2/auth",
            "token_uri": url + "/token",
        }
    }
    return Flow.from_client_config(config, scopes=list(GMAIL_SCOPES), redirect_uri=REDIRECT)


@pytest.fixture(autouse=True)
def _insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def test_flow_with_auto_consent_pkce_and_id_token(emulator_factory) -> None:
    emu = emulator_factory(auto_consent=USER)
    flow = _flow(emu.url)
    auth_url, state = flow.authorization_url(access_type="offline", prompt="consent")
    assert "code_challenge=" in auth_url
    redirect = HTTP.get(auth_url)
    assert redirect.status_code == 302
    params = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert params["state"] == [state]
    token = flow.fetch_token(authorization_response=redirect.headers["location"])
    assert token["scope"] == GMAIL_SCOPES if isinstance(token["scope"], tuple) else True
    assert set(token["scope"]) == set(GMAIL_SCOPES)
    assert token["refresh_token"].startswith("1//")
    assert token["expires_in"] == 3599
    claims = id_token.verify_token(
        token["id_token"], GoogleRequest(), TEST_CLIENT_ID, certs_url=emu.url + "/oauth2/v3/certs"
    )
    assert claims["email"] == USER
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email_verified"] is True
    info = oauth2_service(emu, flow.credentials).userinfo().get().execute()
    assert info["email"] == USER
    assert info["verified_email"] is True


def test_consent_page_allow_and_deny(emulator: EmulatorHandle) -> None:
    flow = _flow(emulator.url)
    auth_url, _state = flow.authorization_url(access_type="offline", login_hint=USER)
    page = HTTP.get(auth_url)
    assert page.status_code == 200
    assert 'name="decision" value="allow"' in page.text
    assert f'value="{USER}"' in page.text
    form = dict(parse_qs(urlsplit(auth_url).query))
    fields = {k: v[0] for k, v in form.items()}
    denied = HTTP.post(emulator.url + "/o/oauth2/approve", data={**fields, "decision": "deny"})
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    allowed = HTTP.post(
        emulator.url + "/o/oauth2/approve", data={**fields, "decision": "allow", "email": USER}
    )
    location = allowed.headers["location"]
    assert location.startswith(REDIRECT)
    flow.fetch_token(authorization_response=location)
    profile = gmail_service(emulator, flow.credentials).users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == USER


def _code(emu: EmulatorHandle, **extra: str) -> str:
    params = {
        "client_id": TEST_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email",
        "state": "x",
        "email": USER,
        "decision": "allow",
        **extra,
    }
    location = HTTP.post(emu.url + "/o/oauth2/approve", data=params).headers["location"]
    return parse_qs(urlsplit(location).query)["code"][0]


def _exchange(emu: EmulatorHandle, code: str, **extra: str) -> httpx.Response:
    return HTTP.post(
        emu.url + "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra},
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
    )


def test_pkce_verification(emulator: EmulatorHandle) -> None:
    verifier = "v" * 20 + "-._~" + "0123456789" * 3
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    code = _code(emulator, code_challenge=challenge, code_challenge_method="S256")
    missing = _exchange(emulator, code)
    assert missing.json() == {
        "error": "invalid_grant",
        "error_description": "Missing code verifier.",
    }
    code = _code(emulator, code_challenge=challenge, code_challenge_method="S256")
    wrong = _exchange(emulator, code, code_verifier="x" * 43)
    assert wrong.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}
    code = _code(emulator, code_challenge=challenge, code_challenge_method="S256")
    good = _exchange(emulator, code, code_verifier=verifier)
    assert good.status_code == 200
    assert good.json()["scope"] == "openid email"
    assert _exchange(emulator, code, code_verifier=verifier).json()["error"] == "invalid_grant"
    code = _code(emulator, code_challenge="plain-secret-value", code_challenge_method="plain")
    assert _exchange(emulator, code, code_verifier="plain-secret-value").status_code == 200


def test_refresh_revoke_and_invalid_grant(emulator: EmulatorHandle) -> None:
    creds = emulator.credentials(USER)
    gmail = gmail_service(emulator, creds)
    first = creds.token
    creds.refresh(GoogleRequest())
    assert creds.token != first
    gmail.users().getProfile(userId="me").execute()
    revoke = HTTP.post(emulator.url + "/revoke", data={"token": creds.refresh_token})
    assert revoke.status_code == 200
    again = HTTP.post(emulator.url + "/revoke", data={"token": creds.refresh_token})
    assert again.status_code == 400
    with pytest.raises(RefreshError) as err:
        creds.refresh(GoogleRequest())
    assert "invalid_grant" in str(err.value)
    raw = HTTP.post(
        emulator.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": creds.refresh_token,
              "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET},
    )  # fmt: skip
    assert raw.status_code == 400
    assert raw.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_control_revoke_makes_api_answer_401_then_refresh_fail(emulator: EmulatorHandle) -> None:
    creds = emulator.credentials(USER)
    gmail = gmail_service(emulator, creds)
    assert emulator.revoke_tokens(USER) == 1
    with pytest.raises(RefreshError):
        gmail.users().getProfile(userId="me").execute()


def test_expired_access_token_is_refreshed_by_authorized_http(emulator: EmulatorHandle) -> None:
    creds = emulator.credentials(USER)
    gmail = gmail_service(emulator, creds)
    old = creds.token
    emulator.advance_clock(3600)
    raw = HTTP.get(
        emulator.url + "/gmail/v1/users/me/profile", headers={"Authorization": f"Bearer {old}"}
    )
    assert raw.status_code == 401
    error = raw.json()["error"]
    assert error["errors"][0]["reason"] == "authError"
    assert error["status"] == "UNAUTHENTICATED"
    gmail.users().getProfile(userId="me").execute()
    assert creds.token != old
    assert emulator.stats(USER)["calls"]["gmail.users.getProfile"] == 1


def test_bad_and_missing_tokens_answer_401(emulator: EmulatorHandle) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = HTTP.get(emulator.url + "/gmail/v1/users/me/messages", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["message"].startswith("Request had invalid authentication")
    with pytest.raises(RefreshError):  # AuthorizedHttp tries to refresh after the 401
        gmail_service(emulator, Credentials("ya29.invalid")).users().getProfile(
            userId="me"
        ).execute()
    response, _body = httplib2.Http().request(
        emulator.url + "/gmail/v1/users/me/profile", headers={"Authorization": "Bearer ya29.x"}
    )
    assert response.status == 401
    assert response["www-authenticate"].startswith("Bearer")


def test_registered_clients_check_secrets(emulator_factory) -> None:
    emu = emulator_factory(clients=(("known-client", "s3cret"),))
    page = HTTP.get(
        emu.url + "/o/oauth2/v2/auth",
        params={
            "client_id": "other",
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "response_type": "code",
        },
    )
    assert page.status_code == 401
    code = _code(emu, client_id="known-client")
    bad = HTTP.post(
        emu.url + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "known-client",
            "client_secret": "wrong",
        },
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    good = HTTP.post(
        emu.url + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "known-client",
            "client_secret": "s3cret",
        },
    )
    assert good.status_code == 200


def test_userinfo_endpoints_and_discovery(emulator: EmulatorHandle) -> None:
    token = emulator.authorize(USER, ["openid", "email"])
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for path in ("/v1/userinfo", "/oauth2/v3/userinfo"):
        info = HTTP.get(emulator.url + path, headers=headers).json()
        assert info["email"] == USER
        assert info["email_verified"] is True
        assert info["sub"].isdigit()
    v2 = HTTP.get(emulator.url + "/oauth2/v2/userinfo", headers=headers).json()
    assert v2["id"] == info["sub"]
    config = HTTP.get(emulator.url + "/.well-known/openid-configuration").json()
    assert config["jwks_uri"] == emulator.url + "/oauth2/v3/certs"
    assert config["token_endpoint"] == emulator.url + "/token"
    keys = HTTP.get(config["jwks_uri"]).json()["keys"]
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["kid"]
    info_http = httplib2.Http()
    response, _ = info_http.request(emulator.url + "/v1/userinfo")
    assert response.status == 401


def test_token_response_echoes_scopes_and_refresh_token_rules(emulator: EmulatorHandle) -> None:
    scopes = "https://www.googleapis.com/auth/gmail.readonly openid"
    code = _code(emulator, scope=scopes, access_type="offline")
    first = _exchange(emulator, code).json()
    assert first["scope"] == scopes
    assert "refresh_token" in first
    code = _code(emulator, scope=scopes, access_type="offline")
    second = _exchange(emulator, code).json()
    assert "refresh_token" not in second  # Google re-issues only with prompt=consent
    code = _code(emulator, scope=scopes, access_type="offline", prompt="consent")
    assert "refresh_token" in _exchange(emulator, code).json()
    code = _code(emulator, scope=scopes)
    assert "refresh_token" not in _exchange(emulator, code).json()
