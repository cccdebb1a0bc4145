"""Connecting a Gmail account: OAuth 2.0 authorization code flow with PKCE (S256).

The flow runs through google-auth-oauthlib's ``Flow``; tokens are refreshed by google-auth.
Endpoints come from :class:`~inboxcrm.config.Settings`: Google's when ``settings.oauth_base`` is
empty, otherwise the same paths under that base (the local Google API emulator).

1. :func:`authorization_request` → the URL to send the user to, and the PKCE code verifier to
   keep (server side, e.g. in the signed session) until the callback.
2. :func:`exchange_code` → :class:`GrantedTokens` (tokens, granted scopes, Google identity).
   A superset of :data:`SCOPES` is accepted (scopes granted earlier come along), and so is a
   subset that still allows reading mail and identifies the account (see
   :mod:`inboxcrm.providers.gmail.scopes` for what each scope allows); without those it raises
   :class:`ScopeMismatch`. The granted scopes are returned as Google granted them.
   :func:`authorization_request` with ``scopes`` and ``include_granted_scopes`` asks later for
   what is missing (incremental authorization).
3. :func:`credentials_from_tokens` → google-auth ``Credentials`` for API clients; they refresh
   themselves through the token endpoint.
4. :func:`revoke_token` on disconnect.

Plain ``http://`` endpoints are allowed only for loopback hosts (127.0.0.1, ::1, localhost), by
setting ``OAUTHLIB_INSECURE_TRANSPORT`` for the duration of one call (oauthlib reads it from the
environment on every request) under a lock; it is never set for any other host.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import google.auth.transport.requests
import requests
from google.auth import exceptions as auth_exceptions
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from inboxcrm.config import Settings
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import ProviderAuthError, ProviderError, ProviderTransientError
from inboxcrm.providers.gmail import scopes

__all__ = [
    "SCOPES",
    "GoogleEndpoints",
    "GrantedTokens",
    "ScopeMismatch",
    "UserInfo",
    "authorization_request",
    "credentials_from_tokens",
    "endpoints_for",
    "exchange_code",
    "fetch_userinfo",
    "revoke_token",
]

logger = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = scopes.REQUESTED
"""Exactly the scopes inboxcrm asks for on the first connect; nothing broader."""

HTTP_TIMEOUT_SECONDS = 30.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ScopeMismatch(ProviderAuthError):
    """The granted scopes do not allow reading mail or identifying the account."""

    code = "oauth_scope_mismatch"

    def __init__(self, missing: Sequence[str], extra: Sequence[str]) -> None:
        super().__init__(
            f"granted scopes differ from the requested ones (missing: {sorted(missing)}, "
            f"extra: {sorted(extra)})"
        )
        self.missing = tuple(missing)
        self.extra = tuple(extra)


@dataclass(frozen=True, slots=True)
class GoogleEndpoints:
    auth_uri: str
    token_uri: str
    revoke_uri: str
    userinfo_uri: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    email: str
    subject: str
    email_verified: bool


@dataclass(frozen=True, slots=True)
class GrantedTokens:
    """What a completed consent yields. ``expiry`` is timezone-aware UTC."""

    access_token: str
    refresh_token: str | None
    expiry: datetime | None
    scopes: tuple[str, ...]
    email: str
    subject: str

    def __repr__(self) -> str:  # never show tokens in logs or tracebacks
        return (
            f"GrantedTokens(email={self.email!r}, subject={self.subject!r}, scopes={self.scopes})"
        )


def endpoints_for(settings: Settings) -> GoogleEndpoints:
    """Google's OAuth endpoints, or the emulator's when ``settings.oauth_base`` is set."""
    base = settings.oauth_base
    if not base:
        return GoogleEndpoints(
            auth_uri="https://accounts.google.com/o/oauth2/v2/auth",
            token_uri="https://oauth2.googleapis.com/token",
            revoke_uri="https://oauth2.googleapis.com/revoke",
            userinfo_uri="https://openidconnect.googleapis.com/v1/userinfo",
        )
    return GoogleEndpoints(
        auth_uri=f"{base}/o/oauth2/auth",
        token_uri=f"{base}/token",
        revoke_uri=f"{base}/revoke",
        userinfo_uri=f"{base}/v1/userinfo",
    )


_transport_lock = threading.Lock()
_insecure_users = 0
_saved_env: dict[str, str | None] = {}


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


@contextmanager
def _allow_loopback_http(url: str) -> Iterator[None]:
    """Let oauthlib talk plain HTTP to ``url`` if (and only if) it is a loopback address.

    Reference-counted so overlapping calls from several threads restore the environment only when
    the last one finishes. The variable is never set for a non-loopback URL.
    """
    global _insecure_users
    if not _is_loopback_http(url):
        yield
        return
    with _transport_lock:
        if _insecure_users == 0:
            previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
            _saved_env["value"] = previous
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        _insecure_users += 1
    try:
        yield
    finally:
        with _transport_lock:
            _insecure_users -= 1
            if _insecure_users == 0:
                previous = _saved_env.pop("value", None)
                if previous is None:
                    os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
                else:
                    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


def _flow(
    settings: Settings,
    redirect_uri: str,
    code_verifier: str | None,
    requested: Sequence[str] = SCOPES,
) -> Flow:
    endpoints = endpoints_for(settings)
    config = {
        "web": {
            "client_id": settings.google_client_id,
            "client_secret": settings.google_client_secret.get_secret_value(),
            "auth_uri": endpoints.auth_uri,
            "token_uri": endpoints.token_uri,
            "redirect_uris": [redirect_uri],
        }
    }
    return Flow.from_client_config(
        config,
        scopes=list(requested),
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )


def authorization_request(
    settings: Settings,
    redirect_uri: str,
    state: str,
    *,
    requested: Sequence[str] = SCOPES,
    include_granted_scopes: bool = False,
) -> tuple[str, str]:
    """The consent URL (PKCE S256, offline access, forced consent) and its code verifier.

    The first connect asks for exactly :data:`SCOPES`. To grant what a partial consent left out,
    pass the missing scopes as ``requested`` (the identity scopes are always added) with
    ``include_granted_scopes``: Google's answer then carries every scope granted so far.
    """
    code_verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
    _quiet_oauth_library_logs()
    wanted = list(dict.fromkeys([*requested, *sorted(scopes.IDENTITY)]))
    flow = _flow(settings, redirect_uri, code_verifier, wanted)
    extra: dict[str, str] = {}
    if include_granted_scopes:
        extra["include_granted_scopes"] = "true"
    with _allow_loopback_http(endpoints_for(settings).auth_uri):
        url, _state = flow.authorization_url(
            access_type="offline",
            prompt="consent",
            state=state,
            **extra,
        )
    return url, code_verifier


def _check_scopes(granted: set[str]) -> None:
    """Refuse a grant that cannot read mail or does not identify the account."""
    features = scopes.features_of(granted)
    missing = scopes.missing_identity(granted)
    if not features["sync"]:
        missing.append(scopes.READONLY)
    if missing:
        raise ScopeMismatch(sorted(missing), sorted(granted - set(SCOPES)))


class _NoCredentialDumps(logging.Filter):
    """Drops the request/response dumps requests-oauthlib writes at DEBUG (they hold the
    authorization code, the PKCE verifier, the client credentials and the issued tokens)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_OAUTH_LIBRARY_LOGGERS = ("requests_oauthlib.oauth2_session", "requests_oauthlib.oauth2_auth")


def _quiet_oauth_library_logs() -> None:
    """Install :class:`_NoCredentialDumps` on the OAuth library's loggers (idempotent)."""
    for name in _OAUTH_LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        if not any(isinstance(f, _NoCredentialDumps) for f in library_logger.filters):
            library_logger.addFilter(_NoCredentialDumps())


def exchange_code(
    settings: Settings, redirect_uri: str, code: str, code_verifier: str
) -> GrantedTokens:
    """Trade the callback's ``code`` for tokens, check the scopes and identify the account.

    Raises ScopeMismatch, ProviderAuthError (code rejected), ProviderTransientError (network).
    """
    flow = _flow(settings, redirect_uri, code_verifier)
    endpoints = endpoints_for(settings)
    try:
        with _allow_loopback_http(endpoints.token_uri):
            token: dict[str, Any] = dict(flow.fetch_token(code=code, timeout=HTTP_TIMEOUT_SECONDS))
    except Warning as exc:  # oauthlib raises (not warns) when the granted scope differs
        answer = getattr(exc, "token", None)
        if not isinstance(answer, dict) or "access_token" not in answer:
            raise ProviderAuthError("token response scope could not be verified") from exc
        token = dict(answer)
        token.setdefault("scope", getattr(exc, "new_scope", None) or "")
    except Exception as exc:
        raise _oauth_error(exc, "code exchange") from exc
    granted = scopes.canonical_scopes(token.get("scope") or list(SCOPES))
    _check_scopes(granted)
    access_token = str(token["access_token"])
    info = fetch_userinfo(settings, access_token)
    expiry = None
    expires_at = token.get("expires_at")
    if expires_at is not None:
        expiry = datetime.fromtimestamp(float(expires_at), tz=UTC)
    elif token.get("expires_in") is not None:
        expiry = datetime.now(UTC) + timedelta(seconds=float(token["expires_in"]))
    logger.info("OAuth code exchanged for %s", info.email)
    return GrantedTokens(
        access_token=access_token,
        refresh_token=token.get("refresh_token"),
        expiry=expiry,
        scopes=tuple(sorted(granted, key=_scope_order)),
        email=info.email,
        subject=info.subject,
    )


class RefreshReportingCredentials(Credentials):
    """Credentials that report every successful refresh to ``on_refresh``.

    The Google clients refresh wherever they meet an expired token: before a call, on a 401
    inside ``AuthorizedHttp``, in a batch part. Reporting from ``refresh`` itself is the one
    place that sees all of them, so the caller can store each new token (and a rotated refresh
    token) at once, and a later session does not pay a 401 and a refresh again.
    """

    def __init__(
        self, *args: Any, on_refresh: Callable[[Credentials], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._on_refresh = on_refresh

    def refresh(self, request: Any) -> None:
        super().refresh(request)  # type: ignore[no-untyped-call]
        if self._on_refresh is not None:
            try:
                self._on_refresh(self)
            except Exception:  # storing must never break the call that needed the token
                logger.warning("a refreshed access token could not be stored", exc_info=True)


def _scope_order(scope: str) -> tuple[int, str]:
    return (SCOPES.index(scope) if scope in SCOPES else len(SCOPES), scope)


def credentials_from_tokens(
    settings: Settings,
    *,
    access_token: str | None,
    refresh_token: str | None,
    expiry: datetime | None = None,
    scopes: Sequence[str] = SCOPES,
    on_refresh: Callable[[Credentials], None] | None = None,
) -> Credentials:
    """google-auth Credentials that refresh themselves at the configured token endpoint.

    ``on_refresh`` is called with the credentials after every successful refresh.
    """
    naive_expiry = None
    if expiry is not None:  # google-auth compares against a naive UTC clock
        aware = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        naive_expiry = aware.astimezone(UTC).replace(tzinfo=None)
    return RefreshReportingCredentials(
        token=access_token,
        refresh_token=refresh_token,
        token_uri=endpoints_for(settings).token_uri,
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret.get_secret_value(),
        scopes=list(scopes),
        expiry=naive_expiry,
        on_refresh=on_refresh,
    )


def _request() -> google.auth.transport.requests.Request:
    return google.auth.transport.requests.Request()


def revoke_token(settings: Settings, token: str) -> bool:
    """Revoke a refresh (or access) token at Google. False if it was already invalid."""
    url = endpoints_for(settings).revoke_uri
    try:
        response = _request()(
            url,
            method="POST",
            body=urlencode({"token": token}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        raise _oauth_error(exc, "revoke") from exc
    if response.status == 200:
        return True
    if response.status == 400:
        return False
    if response.status >= 500 or response.status == 429:
        raise ProviderTransientError(f"token revocation failed with HTTP {response.status}")
    raise ProviderError(f"token revocation failed with HTTP {response.status}")


def fetch_userinfo(settings: Settings, access_token: str) -> UserInfo:
    """The Google account behind ``access_token`` (OpenID Connect userinfo)."""
    url = endpoints_for(settings).userinfo_uri
    try:
        response = _request()(
            url,
            method="GET",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        raise _oauth_error(exc, "userinfo") from exc
    if response.status == 401:
        raise ProviderAuthError("userinfo rejected the access token")
    if response.status != 200:
        raise ProviderTransientError(f"userinfo failed with HTTP {response.status}")
    try:
        data = json.loads(response.data.decode("utf-8"))
    except ValueError as exc:
        raise ProviderError("userinfo answered with malformed JSON") from exc
    email = try_normalize_email(str(data.get("email") or ""))
    subject = str(data.get("sub") or data.get("id") or "")
    if email is None or not subject:
        raise ProviderError("userinfo did not identify the account")
    verified = data.get("email_verified", data.get("verified_email", False))
    return UserInfo(email=email, subject=subject, email_verified=verified in (True, "true"))


def _oauth_error(exc: BaseException, what: str) -> ProviderError:
    """Map oauthlib / requests / google-auth failures onto the provider error kinds."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, oauth_errors.OAuth2Error):
        if exc.status_code and exc.status_code >= 500:
            return ProviderTransientError(f"{what} failed: {exc.error}")
        return ProviderAuthError(f"{what} rejected: {exc.error}")
    if isinstance(exc, requests.RequestException | OSError):
        return ProviderTransientError(f"{what} failed: {type(exc).__name__}")
    if isinstance(exc, auth_exceptions.TransportError):
        return ProviderTransientError(f"{what} failed: {type(exc).__name__}")
    return ProviderError(f"{what} failed: {type(exc).__name__}")
