"""OAuth 2.0 / OpenID Connect endpoints of Google's authorization server.

Authorize (consent page or auto-consent), token (authorization_code with PKCE, refresh_token),
revoke, userinfo (v1, v2, v3), tokeninfo, discovery document and JWKS. Access tokens expire on the
emulator clock; a revoked grant makes its refresh token answer ``invalid_grant``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from inboxcrm.emulator.errors import ApiError, OAuthError, invalid_credentials
from inboxcrm.emulator.http_core import Request, Response, Router

if TYPE_CHECKING:
    from inboxcrm.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

ISSUER = "https://accounts.google.com"
TESTING_MODE_TOKEN_TTL_S = 7 * 24 * 3600
GMAIL_SCOPE_PREFIXES = ("https://www.googleapis.com/auth/gmail.", "https://mail.google.com/")
CODE_TTL_S = 600
USERINFO_SCOPES = frozenset(
    {
        "openid",
        "email",
        "profile",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    }
)


@dataclass
class Grant:
    """One consent: a user, a client and the scopes granted (in the order requested)."""

    grant_id: str
    email: str
    client_id: str
    scope_text: str
    refresh_token: str | None = None
    revoked: bool = False
    created: float = 0.0
    last_used: float = 0.0
    """Last time the refresh token was used (emulator clock): six months unused end it."""

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope_text.split())


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    email: str
    scope_text: str
    challenge: str | None
    challenge_method: str
    offline: bool
    force_consent: bool
    nonce: str | None
    expires_at: float


@dataclass
class AccessToken:
    grant_id: str
    expires_at: float


@dataclass
class OAuthStore:
    """Grants, one-time codes and live access tokens."""

    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token → grant id
    clients: dict[str, str] = field(default_factory=dict)  # client id → secret
    lock: threading.RLock = field(default_factory=threading.RLock)

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        if grant.refresh_token:
            self.refresh.pop(grant.refresh_token, None)
        for token in [t for t, a in self.access.items() if a.grant_id == grant.grant_id]:
            del self.access[token]

    def change_password(self, email: str) -> int:
        """A password change ends every grant with a Gmail scope (as Google does)."""
        with self.lock:
            grants = [
                g
                for g in self.grants.values()
                if g.email == email
                and not g.revoked
                and any(s.startswith(GMAIL_SCOPE_PREFIXES) for s in g.scopes)
            ]
            for grant in grants:
                self.revoke_grant(grant)
            return len(grants)

    def revoke_user(self, email: str) -> int:
        with self.lock:
            grants = [g for g in self.grants.values() if g.email == email and not g.revoked]
            for grant in grants:
                self.revoke_grant(grant)
            return len(grants)


def subject_id(email: str) -> str:
    """A stable numeric ``sub`` for an address, shaped like Google's (21 digits)."""
    digest = int.from_bytes(hashlib.sha256(email.encode()).digest()[:9], "big")
    return "1" + str(digest).zfill(20)[-20:]


def _pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    if method.upper() == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


_CONSENT_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Google Accounts (emulator)</title>
<style>body{{font-family:Arial,sans-serif;max-width:28rem;margin:4rem auto;color:#202124}}
input[type=email]{{width:100%;padding:.5rem;font-size:1rem}}
button{{margin:1rem .5rem 0 0;padding:.5rem 1.5rem;font-size:1rem}}
li{{font-size:.9rem}}</style></head><body>
<h1>Choose an account</h1>
<p><strong>{client}</strong> wants to access your Google Account.</p>
<form method="post" action="/o/oauth2/approve">
<label for="email">Email</label>
<input type="email" id="email" name="email" value="{email}" required>
<p>This will allow the app to (untick what you do not want to allow):</p>
<ul>{scopes}</ul>
<input type="hidden" name="scope_choice" value="1">
{hidden}
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny" formnovalidate>Deny</button>
</form></body></html>
"""


def _scope_item(scope: str) -> str:
    """A consent-page line: sign-in scopes are always granted, the others have a checkbox."""
    value = html.escape(scope)
    if scope in USERINFO_SCOPES:
        return f'<li><input type="hidden" name="granted_scope" value="{value}">{value}</li>'
    box_id = "scope-" + hashlib.sha256(scope.encode()).hexdigest()[:8]
    return (
        f'<li><input type="checkbox" name="granted_scope" value="{value}" id="{box_id}" '
        f'checked> <label for="{box_id}">{value}</label></li>'
    )


def granted_scope_text(requested: str, form: dict[str, list[str]]) -> str:
    """The scopes the consent form granted, in the order requested (all of them when the form
    carried no checkboxes, as with auto-consent)."""
    if "scope_choice" not in form and "granted_scope" not in form:
        return requested
    ticked = set(form.get("granted_scope", []))
    return " ".join(s for s in requested.split() if s in ticked or s in USERINFO_SCOPES)


class OAuthRoutes:
    """Handlers of the OAuth endpoints; registered on the shared router."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.store = state.oauth

    def register(self, router: Router) -> None:
        for path in ("/o/oauth2/auth", "/o/oauth2/v2/auth"):
            router.add("GET", path, self.authorize)
        router.add("POST", "/o/oauth2/approve", self.approve)
        for path in ("/token", "/o/oauth2/token", "/oauth2/v4/token"):
            router.add("POST", path, self.token)
        for path in ("/revoke", "/o/oauth2/revoke"):
            router.add("POST", path, self.revoke)
            router.add("GET", path, self.revoke)
        for path in ("/v1/userinfo", "/oauth2/v3/userinfo", "/openidconnect/v1/userinfo"):
            router.add("GET", path, self.userinfo_oidc)
        router.add("GET", "/oauth2/v2/userinfo", self.userinfo_v2)
        router.add("GET", "/oauth2/v1/userinfo", self.userinfo_v2)
        router.add("GET", "/oauth2/v3/tokeninfo", self.tokeninfo)
        router.add("GET", "/.well-known/openid-configuration", self.openid_configuration)
        router.add("GET", "/oauth2/v3/certs", self.certs)

    # -- authorize -------------------------------------------------------------------------
    def authorize(self, req: Request, _m: object) -> Response:
        params = {k: v[-1] for k, v in req.query.items()}
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if not client_id or not redirect_uri:
            return Response.html("<h1>400. That's an error.</h1><p>invalid_request</p>", 400)
        if self.store.clients and client_id not in self.store.clients:
            return Response.html(
                "<h1>401. That's an error.</h1><p>Error 401: invalid_client</p>"
                "<p>The OAuth client was not found.</p>",
                401,
            )
        state_param = params.get("state")
        if params.get("response_type", "code") != "code":
            return Response.redirect(
                _with_query(
                    redirect_uri,
                    self._with_state({"error": "unsupported_response_type"}, state_param),
                )
            )
        if not params.get("scope"):
            return Response.html(
                "<h1>400. That's an error.</h1><p>Missing required parameter: scope</p>", 400
            )
        auto = self.state.settings.auto_consent
        if auto:
            return self._grant_redirect(params, auto)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        scopes = "".join(_scope_item(s) for s in params["scope"].split())
        page = _CONSENT_PAGE.format(
            client=html.escape(client_id),
            email=html.escape(params.get("login_hint", "")),
            scopes=scopes,
            hidden=hidden,
        )
        return Response.html(page)

    @staticmethod
    def _with_state(params: dict[str, str], state_param: str | None) -> dict[str, str]:
        if state_param is not None:
            params["state"] = state_param
        return params

    def approve(self, req: Request, _m: object) -> Response:
        form = req.form()
        choices = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        if form.get("scope"):
            form["scope"] = granted_scope_text(form["scope"], choices)
        redirect_uri = form.get("redirect_uri", "")
        if not redirect_uri or not form.get("client_id"):
            return Response.html("<h1>400. That's an error.</h1>", 400)
        if form.get("decision") != "allow":
            params = self._with_state({"error": "access_denied"}, form.get("state"))
            return Response.redirect(_with_query(redirect_uri, params))
        email = form.get("email", "").strip().lower()
        if "@" not in email:
            return Response.html("<h1>400. That's an error.</h1><p>An email is required.</p>", 400)
        return self._grant_redirect(form, email)

    def _grant_redirect(self, params: dict[str, str], email: str) -> Response:
        email = email.lower()
        self.state.ensure_user(email)
        code = "4/0A" + secrets.token_urlsafe(32)
        prompt = params.get("prompt", "")
        with self.store.lock:
            if params.get("include_granted_scopes", "").lower() == "true":
                # Incremental authorization: the answer carries every scope granted before.
                earlier = [
                    g.scope_text
                    for g in self.store.grants.values()
                    if g.email == email and g.client_id == params["client_id"] and not g.revoked
                ]
                wanted = params["scope"].split()
                for text in earlier:
                    wanted += [s for s in text.split() if s not in wanted]
                params = {**params, "scope": " ".join(wanted)}
            self.store.codes[code] = AuthCode(
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                email=email,
                scope_text=params["scope"],
                challenge=params.get("code_challenge") or None,
                challenge_method=params.get("code_challenge_method", "plain"),
                offline=params.get("access_type") == "offline",
                force_consent="consent" in prompt.split(),
                nonce=params.get("nonce"),
                expires_at=self.state.clock.now() + CODE_TTL_S,
            )
        answer = {"code": code, "scope": params["scope"]}
        answer = self._with_state(answer, params.get("state"))
        return Response.redirect(_with_query(params["redirect_uri"], answer))

    # -- token -----------------------------------------------------------------------------
    def _client(self, req: Request, form: dict[str, str]) -> tuple[str, str | None]:
        client_id = form.get("client_id", "")
        secret: str | None = form.get("client_secret")
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Unauthorized", 401) from None
            user, _, password = decoded.partition(":")
            client_id, secret = unquote(user), unquote(password)
        if not client_id:
            raise OAuthError("invalid_request", "Could not determine client ID from request.")
        clients = self.store.clients
        if clients:
            expected = clients.get(client_id)
            if expected is None:
                raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
            if secret is None or not hmac.compare_digest(expected, secret):
                raise OAuthError("invalid_client", "Unauthorized", 401)
        return client_id, secret

    def token(self, req: Request, _m: object) -> Response:
        form = req.form()
        client_id, _ = self._client(req, form)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh(form, client_id)
        raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _issue_access(self, grant: Grant) -> dict[str, Any]:
        ttl = int(self.state.settings.access_token_ttl_s)
        token = "ya29.a0" + secrets.token_urlsafe(48)
        self.store.access[token] = AccessToken(grant.grant_id, self.state.clock.now() + ttl)
        return {
            "access_token": token,
            "expires_in": ttl,
            "scope": grant.scope_text,
            "token_type": "Bearer",
        }

    def _id_token(self, grant: Grant, nonce: str | None, access_token: str) -> str:
        import time

        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()[:16]
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": subject_id(grant.email),
            "email": grant.email,
            "email_verified": True,
            "at_hash": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            "iat": now,
            "exp": now + 3600,
        }
        mailbox = self.state.users.get(grant.email)
        if mailbox is not None and mailbox.name:
            claims["name"] = mailbox.name
        if nonce:
            claims["nonce"] = nonce
        return self.state.key.sign(claims)

    def _exchange_code(self, form: dict[str, str], client_id: str) -> Response:
        code_value = form.get("code", "")
        with self.store.lock:
            code = self.store.codes.pop(code_value, None)
            if code is None or code.expires_at < self.state.clock.now():
                raise OAuthError("invalid_grant", "Bad Request")
            if code.client_id != client_id:
                raise OAuthError("invalid_grant", "Unauthorized")
            if form.get("redirect_uri", "") != code.redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            if code.challenge:
                verifier = form.get("code_verifier")
                if not verifier:
                    raise OAuthError("invalid_grant", "Missing code verifier.")
                if not _pkce_ok(verifier, code.challenge, code.challenge_method):
                    raise OAuthError("invalid_grant", "Invalid code verifier.")
            live = [
                g
                for g in self.store.grants.values()
                if g.email == code.email and g.client_id == client_id and not g.revoked
            ]
            grant = Grant(
                grant_id=secrets.token_hex(8),
                email=code.email,
                client_id=client_id,
                scope_text=code.scope_text,
                created=self.state.clock.now(),
            )
            issue_refresh = code.offline and (
                code.force_consent or not any(g.refresh_token for g in live)
            )
            if issue_refresh:
                grant.refresh_token = "1//0" + secrets.token_urlsafe(60)
                self.store.refresh[grant.refresh_token] = grant.grant_id
                self.store.grants[grant.grant_id] = grant
                self._limit_refresh_tokens(grant.email, client_id)
            elif live and code.offline:
                # Google keeps the existing refresh token valid; the new grant shares it.
                grant.refresh_token = next(g.refresh_token for g in live if g.refresh_token)
            self.store.grants[grant.grant_id] = grant
            answer = self._issue_access(grant)
            if issue_refresh and grant.refresh_token:
                answer["refresh_token"] = grant.refresh_token
        if "openid" in grant.scopes:
            answer["id_token"] = self._id_token(grant, code.nonce, answer["access_token"])
        logger.info("oauth code exchanged for %s (client %s)", grant.email, client_id)
        return Response.json(answer)

    def _refresh(self, form: dict[str, str], client_id: str) -> Response:
        refresh_token = form.get("refresh_token", "")
        with self.store.lock:
            grant_id = self.store.refresh.get(refresh_token)
            grant = self.store.grants.get(grant_id) if grant_id else None
            if grant is None or grant.revoked or self._expired(grant):
                raise OAuthError("invalid_grant", "Token has been expired or revoked.")
            grant.last_used = self.state.clock.now()
            if grant.client_id != client_id:
                raise OAuthError("unauthorized_client", "Unauthorized")
            requested = form.get("scope")
            scope_text = grant.scope_text
            if requested:
                if not set(requested.split()) <= grant.scopes:
                    raise OAuthError("invalid_scope", "Some requested scopes were invalid.")
                scope_text = requested
            answer = self._issue_access(grant)
            answer["scope"] = scope_text
        if "openid" in grant.scopes:
            answer["id_token"] = self._id_token(grant, None, answer["access_token"])
        return Response.json(answer)

    def _expired(self, grant: Grant) -> bool:
        """Refresh-token deaths Google answers with invalid_grant (besides revocation)."""
        settings = self.state.settings
        now = self.state.clock.now()
        if settings.testing_mode and now - grant.created >= TESTING_MODE_TOKEN_TTL_S:
            return True  # apps in Testing mode: refresh tokens last 7 days
        last_used = max(getattr(grant, "last_used", 0.0), grant.created)
        unused = settings.refresh_unused_ttl_s
        return unused is not None and now - last_used >= unused

    def _limit_refresh_tokens(self, email: str, client_id: str) -> None:
        """Past ``max_refresh_tokens`` live tokens per account and client, the oldest dies."""
        limit = self.state.settings.max_refresh_tokens
        live = sorted(
            (
                g
                for g in self.store.grants.values()
                if g.email == email
                and g.client_id == client_id
                and not g.revoked
                and g.refresh_token
                and g.refresh_token in self.store.refresh
            ),
            key=lambda g: g.created,
        )
        for grant in live[: max(0, len(live) - limit)]:
            self.store.revoke_grant(grant)

    # -- revoke ----------------------------------------------------------------------------
    def revoke(self, req: Request, _m: object) -> Response:
        token = req.form().get("token") or req.param("token") or ""
        with self.store.lock:
            grant: Grant | None = None
            access = self.store.access.get(token)
            if access is not None and access.expires_at > self.state.clock.now():
                grant = self.store.grants.get(access.grant_id)
            elif token in self.store.refresh:
                grant = self.store.grants.get(self.store.refresh[token])
            if grant is None or grant.revoked:
                raise OAuthError("invalid_token", "Token expired or revoked")
            self.store.revoke_grant(grant)
        return Response.json({})

    # -- resource side ---------------------------------------------------------------------
    def authenticate(self, req: Request) -> Grant:
        """The grant behind the request's bearer token, or a 401 ApiError."""
        auth = req.headers.get("authorization", "")
        token = (
            auth[7:].strip() if auth.lower().startswith("bearer ") else req.param("access_token")
        )
        if not token:
            raise invalid_credentials()
        with self.store.lock:
            access = self.store.access.get(token)
            if access is None or access.expires_at <= self.state.clock.now():
                raise invalid_credentials()
            grant = self.store.grants.get(access.grant_id)
            if grant is None or grant.revoked:
                raise invalid_credentials()
            return grant

    def _userinfo_grant(self, req: Request) -> Grant:
        grant = self.authenticate(req)
        if not grant.scopes & USERINFO_SCOPES:
            raise ApiError(
                401, "Request is missing required authentication credential.", reason="required"
            )
        return grant

    def _profile(self, email: str) -> tuple[str, str, str]:
        mailbox = self.state.users.get(email)
        name = mailbox.name if mailbox and mailbox.name else ""
        given, _, family = name.partition(" ")
        return name, given, family

    def userinfo_oidc(self, req: Request, _m: object) -> Response:
        grant = self._userinfo_grant(req)
        name, given, family = self._profile(grant.email)
        data: dict[str, Any] = {
            "sub": subject_id(grant.email),
            "email": grant.email,
            "email_verified": True,
        }
        if name:
            data.update({"name": name, "given_name": given})
            if family:
                data["family_name"] = family
        return Response.json(data)

    def userinfo_v2(self, req: Request, _m: object) -> Response:
        grant = self._userinfo_grant(req)
        name, given, family = self._profile(grant.email)
        data: dict[str, Any] = {
            "id": subject_id(grant.email),
            "email": grant.email,
            "verified_email": True,
        }
        if name:
            data.update({"name": name, "given_name": given})
            if family:
                data["family_name"] = family
        return Response.json(data)

    def tokeninfo(self, req: Request, _m: object) -> Response:
        token = req.param("access_token") or ""
        with self.store.lock:
            access = self.store.access.get(token)
            grant = self.store.grants.get(access.grant_id) if access else None
            if access is None or grant is None or grant.revoked:
                raise OAuthError("invalid_token", "Invalid Value")
            remaining = int(access.expires_at - self.state.clock.now())
            if remaining <= 0:
                raise OAuthError("invalid_token", "Invalid Value")
        return Response.json(
            {
                "azp": grant.client_id,
                "aud": grant.client_id,
                "sub": subject_id(grant.email),
                "scope": grant.scope_text,
                "exp": str(int(access.expires_at)),
                "expires_in": str(remaining),
                "email": grant.email,
                "email_verified": "true",
                "access_type": "offline" if grant.refresh_token else "online",
            }
        )

    def openid_configuration(self, req: Request, _m: object) -> Response:
        base = req.base_url
        return Response.json(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
                "token_endpoint": f"{base}/token",
                "userinfo_endpoint": f"{base}/v1/userinfo",
                "revocation_endpoint": f"{base}/revoke",
                "jwks_uri": f"{base}/oauth2/v3/certs",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": [
                    "aud",
                    "email",
                    "email_verified",
                    "exp",
                    "iat",
                    "iss",
                    "name",
                    "sub",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
            }
        )

    def certs(self, req: Request, _m: object) -> Response:
        response = Response.json(self.state.key.jwks())
        response.headers.append(("Cache-Control", "public, max-age=3600"))
        return response
