"""The Gmail provider (OAuth, mailbox client, push) against the Google API emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from inboxcrm.config import Settings
from inboxcrm.domain.errors import ProviderAuthError
from inboxcrm.domain.mail_parsing import parse_message
from inboxcrm.providers.base import HistoryExpired, MailboxClient, OpeningReads
from inboxcrm.providers.gmail import oauth
from inboxcrm.providers.gmail.client import GmailMailbox, GmailProvider
from inboxcrm.providers.gmail.push import PushTokenError, parse_push_body, verify_push_token
from inboxcrm.providers.gmail.scopes import canonical_scopes
from inboxcrm.sync.quota import LocalTokenBucket
from tests.fixtures.emulator import EmulatorHandle

USER = "rep@ourco.example"
REDIRECT = "http://127.0.0.1:8000/oauth/google/callback"


def make_message(i: int, sender: str = "bob@customer.example", to: str = USER) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Message {i}"
    msg["Message-ID"] = f"<m{i}@customer.example>"
    msg["Date"] = "Tue, 02 Dec 2025 10:00:00 +0000"
    msg.set_content(f"Body of message {i}\n")
    if i % 10 == 0:
        msg.add_attachment(b"x" * 300, maintype="application", subtype="pdf", filename=f"f{i}.pdf")
    return msg.as_bytes()


@pytest.fixture
def emu(emulator: EmulatorHandle) -> EmulatorHandle:
    emulator.create_user(USER, "Rep", aliases=["sales@ourco.example"])
    emulator.set_config(auto_consent=USER)
    return emulator


@pytest.fixture
def settings(emu: EmulatorHandle) -> Settings:
    return Settings(
        google_api_base=emu.url,
        google_client_id="inboxcrm-test.apps.googleusercontent.com",
        google_client_secret="inboxcrm-test-secret",  # type: ignore[arg-type]
    )


def consent(settings: Settings, state: str = "state-123") -> tuple[str, str, str]:
    """Run the browser part of the flow (auto-consent): returns (auth url, code, verifier)."""
    url, verifier = oauth.authorization_request(settings, REDIRECT, state)
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code in (302, 303), response.text[:200]
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return url, query["code"][0], verifier


@pytest.fixture
def tokens(settings: Settings) -> oauth.GrantedTokens:
    _url, code, verifier = consent(settings)
    return oauth.exchange_code(settings, REDIRECT, code, verifier)


def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def mailbox(settings: Settings, tokens: oauth.GrantedTokens) -> GmailMailbox:
    creds = oauth.credentials_from_tokens(
        settings,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expiry=tokens.expiry,
    )
    return GmailMailbox(creds, api_base=settings.google_api_base, sleep=no_sleep, attempts=8)


# -- OAuth ------------------------------------------------------------------------------------


def test_oauth_round_trip_with_pkce(settings: Settings) -> None:
    url, code, verifier = consent(settings)
    params = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/o/oauth2/auth"
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) == 43
    assert params["access_type"] == ["offline"]
    assert params["prompt"] == ["consent"]
    assert set(params["scope"][0].split()) == set(oauth.SCOPES)
    assert "include_granted_scopes" not in params
    assert 43 <= len(verifier) <= 128

    granted = oauth.exchange_code(settings, REDIRECT, code, verifier)
    assert granted.email == USER
    assert granted.subject
    assert granted.refresh_token
    assert set(granted.scopes) == set(oauth.SCOPES)
    assert granted.expiry is not None and granted.expiry.tzinfo is not None
    assert granted.access_token not in repr(granted)
    info = oauth.fetch_userinfo(settings, granted.access_token)
    assert (info.email, info.subject) == (USER, granted.subject)


def test_code_exchange_needs_the_right_verifier(settings: Settings) -> None:
    _url, code, _verifier = consent(settings)
    with pytest.raises(ProviderAuthError):
        oauth.exchange_code(settings, REDIRECT, code, "x" * 64)


def test_grant_without_the_account_identity_is_refused(
    settings: Settings, emu: EmulatorHandle
) -> None:
    token = emu.authorize(USER, scopes=("openid", "https://www.googleapis.com/auth/gmail.readonly"))
    # what exchange_code checks, applied to a grant that does not say which account it is
    with pytest.raises(oauth.ScopeMismatch) as raised:
        oauth._check_scopes(canonical_scopes(token["scope"]))
    assert "https://www.googleapis.com/auth/userinfo.email" in raised.value.missing


def test_loopback_http_permission_does_not_leak(settings: Settings) -> None:
    import os

    consent(settings)
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_access_token_refresh(settings: Settings, tokens: oauth.GrantedTokens) -> None:
    creds = oauth.credentials_from_tokens(
        settings, access_token=None, refresh_token=tokens.refresh_token
    )
    client = GmailMailbox(creds, api_base=settings.google_api_base, sleep=no_sleep)
    assert client.get_profile().email == USER
    assert client.credentials.token and client.credentials.token != tokens.access_token


def test_expired_access_token_is_refreshed_on_401(
    settings: Settings, tokens: oauth.GrantedTokens, emu: EmulatorHandle
) -> None:
    creds = oauth.credentials_from_tokens(
        settings, access_token=tokens.access_token, refresh_token=tokens.refresh_token
    )
    client = GmailMailbox(creds, api_base=settings.google_api_base, sleep=no_sleep)
    emu.advance_clock(2 * 3600)  # the emulator now rejects the access token with 401
    assert client.get_profile().email == USER
    assert client.credentials.token != tokens.access_token


def test_revoked_grant_raises_provider_auth_error(
    settings: Settings, tokens: oauth.GrantedTokens
) -> None:
    assert tokens.refresh_token is not None
    assert oauth.revoke_token(settings, tokens.refresh_token) is True
    assert oauth.revoke_token(settings, tokens.refresh_token) is False  # already invalid
    creds = oauth.credentials_from_tokens(
        settings, access_token=None, refresh_token=tokens.refresh_token
    )
    client = GmailMailbox(creds, api_base=settings.google_api_base, sleep=no_sleep)
    with pytest.raises(ProviderAuthError):
        client.get_profile()


def test_revocation_on_googles_side_raises_provider_auth_error(
    mailbox: GmailMailbox, emu: EmulatorHandle
) -> None:
    assert mailbox.get_profile().email == USER
    emu.revoke_tokens(USER)
    with pytest.raises(ProviderAuthError):
        mailbox.get_profile()


# -- mailbox ----------------------------------------------------------------------------------


def test_profile_send_as_and_protocol(mailbox: GmailMailbox) -> None:
    client: MailboxClient = mailbox
    profile = client.get_profile()
    assert profile.email == USER and profile.history_id > 0
    assert client.list_send_as() == [USER, "sales@ourco.example"]


def _counting_requests(mailbox: GmailMailbox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs of the HTTP requests ``mailbox`` makes from now on."""
    requests: list[str] = []
    http: Any = mailbox._http
    real_request = http.request

    def counting(uri: str, *args: Any, **kwargs: Any) -> Any:
        requests.append(uri)
        return real_request(uri, *args, **kwargs)

    monkeypatch.setattr(http, "request", counting)
    return requests


def test_opening_reads_come_in_one_round_trip(
    mailbox: GmailMailbox, settings: Settings, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_profile = mailbox.get_profile()
    expected_send_as = mailbox.list_send_as()
    existing = mailbox.ensure_label("Existing label")
    fresh = GmailMailbox(mailbox.credentials, api_base=settings.google_api_base, sleep=no_sleep)
    assert isinstance(fresh, OpeningReads)
    requests = _counting_requests(fresh, monkeypatch)
    emu.reset_counters(USER)
    fresh.read_ahead(profile=True, send_as=True, labels=True)
    assert fresh.get_profile() == expected_profile
    assert fresh.list_send_as() == expected_send_as
    assert fresh.ensure_label("existing LABEL") == existing
    assert len(requests) == 1 and "/batch" in requests[0]
    calls = emu.stats(USER)["calls"]
    assert calls == {
        "gmail.users.getProfile": 1,
        "gmail.users.settings.sendAs.list": 1,
        "gmail.users.labels.list": 1,
    }
    # Each answer serves once: the next reads ask again.
    fresh.get_profile()
    fresh.list_send_as()
    assert len(requests) == 3

    # A label missing from the labels read ahead is created at once (no second listing).
    fresh.read_ahead(profile=False, send_as=True, labels=True)
    fresh.list_send_as()
    created = fresh.ensure_label("Synced to inboxcrm")
    assert len(requests) == 5 and "/batch" in requests[-2] and "/labels" in requests[-1]
    assert emu.stats(USER)["calls"]["gmail.users.labels.list"] == 2
    assert fresh.ensure_label("synced to inboxcrm") == created

    # Parts the server refuses are asked for on their own, with the retries.
    emu.set_config(fault_rate=1.0, fault_statuses=[500], fault_seed=3)
    try:
        fresh.read_ahead(profile=True, send_as=True, labels=False)
    finally:
        emu.set_config(fault_rate=0.0)
    before = len(requests)
    assert fresh.get_profile().email == USER
    assert fresh.list_send_as() == expected_send_as
    assert len(requests) == before + 2


def test_batch_fetch_of_120_messages(mailbox: GmailMailbox, emu: EmulatorHandle) -> None:
    delivered = [emu.deliver(USER, make_message(i))["id"] for i in range(120)]
    emu.deliver(USER, make_message(999, sender="stranger@else.example"))
    emu.reset_counters(USER)
    ids = [
        ref.id for ref in mailbox.iter_message_ids(query="from:bob@customer.example", page_size=50)
    ]
    assert sorted(ids) == sorted(delivered)
    messages = mailbox.fetch_messages(ids, fmt="raw")
    assert [m.id for m in messages] == ids
    parsed = [parse_message(m.raw or b"", internal_date=m.internal_date) for m in messages]
    assert {p.subject for p in parsed} == {f"Message {i}" for i in range(120)}
    assert all(m.internal_date is not None and m.internal_date.tzinfo for m in messages)
    assert sum(len(p.attachments) for p in parsed) == 12
    stats = emu.stats(USER)
    assert stats["calls"]["gmail.users.messages.get"] == 120
    assert stats["units"]["gmail.users.messages.get"] == 600
    fetched = emu.fetched(USER)
    assert set(fetched["body_fetched"]) == set(ids)  # the stranger's body was never fetched


def test_first_pages_of_many_queries_come_in_one_round_trip(
    mailbox: GmailMailbox, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    senders = [f"c{n}@customer{n % 3}.example" for n in range(7)]
    for i, sender in enumerate(senders):
        emu.deliver(USER, make_message(i, sender=sender))
    queries = [f"from:@customer{n}.example" for n in range(3)] + ["from:nobody@none.example"]
    expected = [list(mailbox.iter_message_ids(query=q)) for q in queries]
    requests = _counting_requests(mailbox, monkeypatch)
    pages = mailbox.list_first_pages(queries)
    assert len(requests) == 1 and "/batch" in requests[0]
    assert [list(p.refs) if p else None for p in pages] == expected
    assert [p.next_page_token if p else "missing" for p in pages] == [None] * 4
    assert emu.stats(USER)["calls"]["gmail.users.messages.list"] == 2 * len(queries)

    # A page that is not the last carries its token; the listing goes on from it.
    (first,) = mailbox.list_first_pages([queries[0]], page_size=1)
    assert first is not None and len(first.refs) == 1 and first.next_page_token
    rest = list(mailbox.iter_message_ids(query=queries[0], page_token=first.next_page_token))
    assert [*first.refs, *rest] == expected[0]

    # A part the server refuses leaves None (the caller lists that query on its own).
    emu.set_config(fault_rate=1.0, fault_statuses=[500], fault_seed=3)
    try:
        assert mailbox.list_first_pages(queries[:2]) == [None, None]
    finally:
        emu.set_config(fault_rate=0.0)


def test_listing_batches_learn_how_many_calls_google_runs_at_once(
    mailbox: GmailMailbox, emu: EmulatorHandle
) -> None:
    emu.deliver(USER, make_message(1))
    queries = [f"from:nobody{n}@none.example" for n in range(20)]
    emu.set_config(max_concurrent_per_user=8)
    try:
        first = mailbox.list_first_pages(queries)
        assert sum(page is not None for page in first) == 8  # the rest were refused
        assert mailbox._batch_limit == 8
        emu.reset_counters(USER)
        again = mailbox.list_first_pages(queries)
    finally:
        emu.set_config(max_concurrent_per_user=None)
    assert all(page is not None for page in again)  # in batches of eight: nothing refused
    assert not emu.stats(USER)["rate_limited"]


def test_metadata_fetch_and_missing_ids(mailbox: GmailMailbox, emu: EmulatorHandle) -> None:
    first = emu.deliver(USER, make_message(1))["id"]
    emu.reset_counters(USER)
    (message,) = mailbox.fetch_messages(
        [first, "0000000000000bad"], fmt="metadata", metadata_headers=["From", "Subject"]
    )
    assert message.raw is None
    assert dict(message.headers)["Subject"] == "Message 1"
    assert emu.fetched(USER)["body_fetched"] == []


def test_faults_are_retried_until_everything_arrives(
    mailbox: GmailMailbox, emu: EmulatorHandle
) -> None:
    delivered = {emu.deliver(USER, make_message(i))["id"] for i in range(60)}
    emu.set_config(fault_rate=0.3, fault_statuses=[429, 500, 503], drop_rate=0.05, fault_seed=7)
    emu.reset_counters(USER)
    ids = [ref.id for ref in mailbox.iter_message_ids(page_size=20)]
    assert set(ids) == delivered
    messages = mailbox.fetch_messages(ids, fmt="raw")
    assert {m.id for m in messages} == delivered
    assert mailbox.get_profile().email == USER
    assert emu.stats(USER)["faults"]  # faults really were injected


def test_quota_gate_is_charged_per_inner_call(
    settings: Settings, tokens: oauth.GrantedTokens, emu: EmulatorHandle
) -> None:
    ids = [emu.deliver(USER, make_message(i))["id"] for i in range(12)]
    charged: list[float] = []

    class CountingGate:
        def acquire(self, units: float) -> None:
            charged.append(units)

    creds = oauth.credentials_from_tokens(
        settings, access_token=tokens.access_token, refresh_token=tokens.refresh_token
    )
    client = GmailProvider(settings.google_api_base).open_mailbox(creds, quota=CountingGate())
    client.fetch_messages(ids)
    assert charged == [5] * 12


def test_history_incremental_and_expired(mailbox: GmailMailbox, emu: EmulatorHandle) -> None:
    start = mailbox.get_profile().history_id
    new = emu.deliver(USER, make_message(7))
    delta = mailbox.list_history(start)
    assert new["id"] in {ref.id for ref in delta.added}
    assert delta.history_id >= int(new["historyId"])
    assert not delta.has_more
    emu.expire_history(USER)
    with pytest.raises(HistoryExpired):
        mailbox.list_history(start)


def test_labels_modify_send_and_attachments(mailbox: GmailMailbox, emu: EmulatorHandle) -> None:
    ids = [emu.deliver(USER, make_message(i))["id"] for i in range(10, 13)]
    label = mailbox.ensure_label("Synced to inboxcrm")
    assert mailbox.ensure_label("synced to INBOXCRM") == label
    mailbox.add_labels(ids, [label])
    for message in mailbox.fetch_messages(ids, fmt="minimal"):
        assert label in message.label_ids

    reply = EmailMessage()
    reply["From"] = USER
    reply["To"] = "bob@customer.example"
    reply["Subject"] = "Re: Message 10"
    reply["In-Reply-To"] = "<m10@customer.example>"
    reply["References"] = "<m10@customer.example>"
    reply.set_content("Thanks!")
    (original,) = mailbox.fetch_messages([ids[0]], fmt="minimal")
    sent = mailbox.send(reply.as_bytes(), thread_id=original.thread_id)
    assert sent.thread_id == original.thread_id
    (stored,) = mailbox.fetch_messages([sent.id], fmt="minimal")
    assert "SENT" in stored.label_ids

    full = mailbox._call(  # the attachment id comes from a format=full payload
        "messages.get",
        lambda: mailbox._users.messages().get(userId="me", id=ids[0], format="full"),
    )
    part = next(p for p in full["payload"]["parts"] if p.get("filename") == "f10.pdf")
    assert mailbox.get_attachment(ids[0], part["body"]["attachmentId"]) == b"x" * 300


def test_local_bucket_keeps_under_the_emulator_quota(
    settings: Settings, tokens: oauth.GrantedTokens, emu: EmulatorHandle
) -> None:
    ids = [emu.deliver(USER, make_message(i))["id"] for i in range(30)]
    emu.set_config(quota_units_per_s=250)
    emu.reset_counters(USER)
    creds = oauth.credentials_from_tokens(
        settings, access_token=tokens.access_token, refresh_token=tokens.refresh_token
    )
    gate = LocalTokenBucket(rate=150, burst=50)
    client = GmailProvider(settings.google_api_base).open_mailbox(creds, quota=gate)
    assert len(client.fetch_messages(ids, fmt="minimal")) == 30  # 150 units
    assert client.get_profile().email == USER
    stats = emu.stats(USER)
    assert stats["total_units"] == 151
    assert not stats["rate_limited"]


# -- push -------------------------------------------------------------------------------------


class PushReceiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str | None, bytes]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.headers.get("Authorization"), body))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/gmail/push"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    server = PushReceiver()
    yield server
    server.close()


def test_push_notification_verifies_against_the_emulator_jwks(
    mailbox: GmailMailbox, emu: EmulatorHandle, receiver: PushReceiver
) -> None:
    audience = "https://crm.example.com/hooks/gmail/push"
    emu.set_config(push_endpoint=receiver.url, push_audience=audience)
    watch = mailbox.watch("projects/inboxcrm/topics/gmail", label_ids=["INBOX"])
    assert watch.history_id > 0 and watch.expiration.tzinfo is not None
    delivered = emu.deliver(USER, make_message(3))
    assert receiver.arrived.wait(10), "no push arrived"
    header, body = receiver.requests[0]
    certs = emu.url + "/oauth2/v3/certs"

    claims = verify_push_token(header, audience=audience, certs_url=certs)
    assert claims["iss"] == "https://accounts.google.com"
    notice = parse_push_body(body)
    assert notice.email == USER
    assert notice.history_id >= int(delivered["historyId"])

    with pytest.raises(PushTokenError) as wrong_audience:
        verify_push_token(header, audience="https://other.example.com/push", certs_url=certs)
    assert wrong_audience.value.reason == "wrong_audience"
    assert header is not None
    token = header.split(" ", 1)[1]
    head, payload, signature = token.split(".")
    tampered = (
        f"Bearer {head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    with pytest.raises(PushTokenError):
        verify_push_token(tampered, audience=audience, certs_url=certs)
    flipped_signature = signature[:-3] + ("AAA" if signature[-3:] != "AAA" else "BBB")
    with pytest.raises(PushTokenError) as bad_signature:
        verify_push_token(
            f"Bearer {head}.{payload}.{flipped_signature}", audience=audience, certs_url=certs
        )
    assert bad_signature.value.reason == "bad_signature"
    mailbox.stop_watch()
