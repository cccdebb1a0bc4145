"""Setup → Email: the mailboxes table in every state, connect, sync, disconnect, sync options,
the ledger page, the tenant's mail settings and never-log list, roles and tenant separation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, MailLedgerRow, MailSyncLeaseRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from inboxcrm.services import mail_settings
from tests.factories import make_mail_account
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in, user_id_of

SYNC_TASK = "inboxcrm.mail.sync_account"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def _csrf(client: TestClient) -> str:
    match = _META_CSRF.search(client.get("/setup/email").text)
    assert match is not None
    return match.group(1)


def _account(runtime: Runtime, tenant: str, **values: Any) -> int:
    with runtime.tenant_uow(tenant) as uow:
        return make_mail_account(uow, **values).id


def _row(runtime: Runtime, tenant: str, account_id: int) -> MailAccountRow:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
    assert row is not None
    return row


def _hold_lease(runtime: Runtime, tenant: str, account_id: int) -> None:
    """A live sync run on another machine holds the mailbox (its lease is being renewed)."""
    with runtime.tenant_uow(tenant) as uow:
        uow.session.add(
            MailSyncLeaseRow(
                mail_account_id=account_id,
                holder="worker-host-b:4242:abcdef",
                expires_at=utcnow() + timedelta(seconds=60),
            )
        )
        uow.commit()


def _account_row_html(page: str, account_id: int) -> str:
    start = page.index(f'id="account-{account_id}"')
    return page[start : page.index("</tr>", start)]


def test_the_page_shows_accounts_in_every_state_with_progress_and_polls_while_syncing(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    me = user_id_of(client, rep)
    now = utcnow()
    idle = _account(runtime, "acme", user_id=me, email="idle@acme.example.com")
    running = _account(
        runtime,
        "acme",
        user_id=me,
        email="busy@acme.example.com",
        sync_phase="fetching",
        sync_progress={"mode": "full", "scanned": 40, "stored": 31, "skipped": 9,
                       "total_estimate": 160},
        watch_expiration=now + timedelta(days=6),
        last_sync_at=now,
    )  # fmt: skip
    _hold_lease(runtime, "acme", running)
    failed = _account(
        runtime,
        "acme",
        user_id=me,
        email="failing@acme.example.com",
        sync_phase="error",
        last_error="Gmail answered 503 three times",
    )
    gone = _account(
        runtime,
        "acme",
        user_id=me,
        email="gone@acme.example.com",
        status="disconnected",
        last_error="Google no longer accepts the grant",
        disconnected_at=now,
        purge_after=now + timedelta(days=30),
    )
    someone_else = _account(runtime, "acme", user_id=me + 100, email="other@acme.example.com")

    page = client.get("/setup/email")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Email</a>' in html  # the Setup menu entry
    assert "Connect Gmail" in html
    assert "other@acme.example.com" not in html  # a rep sees only their own mailboxes

    busy = _account_row_html(html, running)
    assert 'data-status="connected"' in busy and "Fetching messages" in busy
    assert 'value="25"' in busy  # 40 of 160 scanned
    assert "This run: 40 scanned · 31 stored · 9 skipped of 160" in busy
    assert "until " in busy and "Sync now" in busy and "Full resync" in busy

    assert "Waiting for the first sync" in _account_row_html(html, idle)
    broken = _account_row_html(html, failed)
    assert 'data-status="error"' in broken and "Gmail answered 503 three times" in broken
    assert "Sync now" in broken  # a failed sync can be retried

    disconnected = _account_row_html(html, gone)
    assert 'data-status="disconnected"' in disconnected
    assert "Google no longer accepts the grant" in disconnected
    assert "Synced mail will be deleted on" in disconnected
    assert "Sync now" not in disconnected and "Disconnect" not in disconnected
    assert f"/setup/email/{gone}/ledger" in disconnected

    assert 'hx-trigger="every 2s"' in html  # one sync is running
    fragment = client.get("/setup/email/accounts", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="mail-accounts"' in fragment.text
    assert "busy@acme.example.com" in fragment.text

    with runtime.tenant_uow("acme") as uow:
        first = uow.session.get(MailAccountRow, idle)
        assert first is not None
        first.last_sync_at, first.sync_phase = now, "done"
        row = uow.session.get(MailAccountRow, running)
        assert row is not None
        row.sync_phase = "done"
        row.sync_progress = {"mode": "full", "scanned": 160, "stored": 150, "skipped": 10,
                             "total_estimate": 160}  # fmt: skip
        lease = uow.session.get(MailSyncLeaseRow, running)
        assert lease is not None
        lease.holder = ""  # the run finished and let go of the mailbox
        uow.commit()
    idle_fragment = client.get("/setup/email/accounts").text
    assert 'hx-trigger="every 15s"' in idle_fragment
    assert "Up to date" in _account_row_html(idle_fragment, running)
    assert 'value="100"' in _account_row_html(idle_fragment, running)

    admin = tenants.member("acme", "admin")
    client.cookies.clear()
    sign_in(client, admin)
    admin_page = client.get("/setup/email").text
    assert "other@acme.example.com" in admin_page  # admins see every mailbox of the tenant
    assert "another user's mailbox" in _account_row_html(admin_page, someone_else)


def test_connect_gmail_redirects_to_the_consent_page_with_five_scopes_and_pkce(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    response = client.post(
        "/setup/email/connect", data={"csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == "https://accounts.google.com"
    query = parse_qs(location.query)
    assert sorted(query["scope"][0].split()) == sorted(SCOPES) and len(SCOPES) == 5
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["access_type"] == ["offline"]
    assert query["redirect_uri"] == [f"{runtime.settings.public_url}/oauth/google/callback"]
    assert query["state"][0]

    account = _account(runtime, "acme", user_id=user_id_of(client, rep), email="new@acme.example")
    landed = client.get(f"/setup/email?connected={account}")
    assert "Connected new@acme.example. The first sync has started." in landed.text
    assert "Connected" not in client.get("/setup/email?connected=99999").text.split("<h2")[0]


def test_sync_full_resync_and_disconnect(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, recorded_jobs: RecordedJobs
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    account = _account(runtime, "acme", user_id=user_id_of(client, rep), email="me@acme.example")
    csrf = _csrf(client)

    synced = client.post(f"/setup/email/{account}/sync", data={"csrf_token": csrf})
    assert synced.status_code == 200 and "Sync queued" in synced.text
    resynced = client.post(f"/setup/email/{account}/sync", data={"csrf_token": csrf, "full": "1"})
    assert "Full resync queued" in resynced.text
    syncs = [kwargs for name, kwargs in recorded_jobs.queued if name == SYNC_TASK]
    assert syncs == [
        {"tenant": "acme", "account_id": account, "full": False},
        {"tenant": "acme", "account_id": account, "full": True},
    ]

    gone = client.post(f"/setup/email/{account}/disconnect", data={"csrf_token": csrf})
    assert gone.status_code == 200 and "Mailbox disconnected" in gone.text
    row = _row(runtime, "acme", account)
    assert row.status == "disconnected" and row.purge_after is not None
    assert row.access_token_enc is None and row.refresh_token_enc is None
    assert 'data-status="disconnected"' in _account_row_html(gone.text, account)

    refused = client.post(f"/setup/email/{account}/sync", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("text/html")
    assert "connect it again" in refused.text


def test_sync_options_are_saved_shown_and_checked(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    account = _account(runtime, "acme", user_id=user_id_of(client, rep), email="me@acme.example")
    csrf = _csrf(client)
    saved = client.post(
        f"/setup/email/{account}/options",
        data={
            "csrf_token": csrf,
            "labels_mode": "chosen",
            "labels": ["INBOX", "SENT"],
            "other_labels": "Label_7, Label_9",
            "lookback_days": "90",
        },
    )
    assert saved.status_code == 200 and "Sync options saved" in saved.text
    assert _row(runtime, "acme", account).settings == {
        "labels": ["INBOX", "SENT", "Label_7", "Label_9"],
        "lookback_days": 90,
    }
    form = saved.text.split(f'id="options-{account}"')[1].split("</form>")[0]
    assert 'value="INBOX" checked' in form and 'value="STARRED">' in form
    assert 'value="Label_7, Label_9"' in form and 'value="90"' in form

    bad = client.post(
        f"/setup/email/{account}/options",
        data={"csrf_token": csrf, "labels_mode": "default", "lookback_days": "0"},
    )
    assert bad.status_code == 422 and "lookback_days must be 1-3650" in bad.text
    assert _row(runtime, "acme", account).settings["lookback_days"] == 90

    back_to_default = client.post(
        f"/setup/email/{account}/options", data={"csrf_token": csrf, "labels_mode": "default"}
    )
    assert back_to_default.status_code == 200
    assert _row(runtime, "acme", account).settings == {"lookback_days": 90}


def test_admins_set_storage_policy_auto_creation_and_the_never_log_list(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, recorded_jobs: RecordedJobs
) -> None:
    admin = tenants.member("acme", "admin")
    sign_in(client, admin)
    csrf = _csrf(client)
    saved = client.post(
        "/setup/email/settings",
        data={"csrf_token": csrf, "storage_policy": "metadata", "contact_autocreate": "sent"},
    )
    assert saved.status_code == 200 and "Mail settings saved" in saved.text
    assert 'name="storage_policy" value="metadata" checked' in saved.text
    with runtime.tenant_uow("acme") as uow:
        stored = mail_settings.get_mail_settings(uow)
    assert (stored.storage_policy, stored.contact_autocreate) == ("metadata", "sent")
    bad = client.post("/setup/email/settings", data={"csrf_token": csrf, "storage_policy": "all"})
    assert bad.status_code == 422 and "storage_policy must be one of" in bad.text

    added = client.post(
        "/setup/email/never-log", data={"csrf_token": csrf, "entry": "@News.Example.com"}
    )
    assert added.status_code == 200 and "Added to the never-log list" in added.text
    assert "<span>news.example.com</span>" in added.text
    invalid = client.post(
        "/setup/email/never-log", data={"csrf_token": csrf, "entry": "not a domain"}
    )
    assert invalid.status_code == 422
    assert "not a domain" in invalid.text and 'value="not a domain"' in invalid.text

    removed = client.post(
        "/setup/email/never-log/remove", data={"csrf_token": csrf, "entry": "news.example.com"}
    )
    assert removed.status_code == 200 and "Removed from the never-log list" in removed.text
    assert "<span>news.example.com</span>" not in removed.text
    backfill = {"tenant": "acme", "addresses": ["@news.example.com"]}
    assert ("inboxcrm.mail.backfill_addresses", backfill) in recorded_jobs.queued
    again = client.post(
        "/setup/email/never-log/remove", data={"csrf_token": csrf, "entry": "news.example.com"}
    )
    assert again.status_code == 404 and again.headers["content-type"].startswith("text/html")

    rep = tenants.member("acme", "rep")
    client.cookies.clear()
    sign_in(client, rep)
    rep_page = client.get("/setup/email").text
    assert 'action="/setup/email/settings"' not in rep_page and "never-log" not in rep_page
    assert "Metadata only" in rep_page  # the policy is shown, read-only


def test_ledger_page_counts_reasons_and_pages(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    account = _account(runtime, "acme", user_id=user_id_of(client, rep), email="me@acme.example")
    with runtime.tenant_uow("acme") as uow:
        rows = [("stored", None)] * 3 + [("pending", None)] * 2 + [("skipped", "no_match")] * 55
        rows += [("skipped", "never_log"), ("skipped", "unparseable:bad header")]
        for i, (outcome, reason) in enumerate(rows):
            uow.session.add(
                MailLedgerRow(
                    mail_account_id=account,
                    provider_message_id=f"msg{i:04d}",
                    provider_thread_id=f"thr{i:04d}",
                    outcome=outcome,
                    reason=reason,
                    labelled=outcome == "stored",
                    updated_at=utcnow(),
                )
            )
        uow.commit()
    page = client.get(f"/setup/email/{account}/ledger")
    assert page.status_code == 200
    text = page.text
    for count, label in ((62, "in scope"), (3, "stored"), (57, "skipped on purpose"),
                         (2, "still to fetch")):  # fmt: skip
        assert f'<span class="num">{count}</span><span class="label">{label}</span>' in text
    assert "No lead, contact or account address in the message" in text
    assert "An address or domain on the never-log list" in text
    assert "The message could not be parsed (bad header)" in text
    assert text.count("<code>msg") == 50 and "<code>msg0005</code>" in text
    assert "Next page" in text
    second = client.get(re.findall(r'href="([^"]*after=\d+)"', text)[0].replace("&amp;", "&"))
    assert second.status_code == 200 and second.text.count("<code>msg") == 7
    assert "<code>msg0061</code>" in second.text and "<code>msg0005</code>" not in second.text
    stored = client.get(f"/setup/email/{account}/ledger?outcome=stored").text
    assert stored.count("<code>msg") == 3 and "labelled" in stored


def test_read_only_users_see_status_without_buttons_and_are_refused(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    viewer = tenants.member("acme", "read-only")
    sign_in(client, viewer)
    account = _account(runtime, "acme", user_id=user_id_of(client, viewer), sync_phase="done")
    page = client.get("/setup/email").text
    row = _account_row_html(page, account)
    assert 'data-status="connected"' in row and "Up to date" in row
    for control in ('id="connect-gmail"', "/sync", "/disconnect", "/options", "Sync now"):
        assert control not in page
    csrf = _csrf(client)
    for path in ("/setup/email/connect", f"/setup/email/{account}/sync",
                 f"/setup/email/{account}/disconnect"):  # fmt: skip
        refused = client.post(path, data={"csrf_token": csrf}, follow_redirects=False)
        assert refused.status_code == 403 and "You cannot do that" in refused.text
    assert _row(runtime, "acme", account).status == "connected"


def test_another_tenants_account_ids_are_a_404_page(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenants.member("globex", "admin")
    foreign = [_account(runtime, "globex", email=f"m{i}@globex.example") for i in range(3)][-1]
    admin = tenants.member("acme", "admin")
    sign_in(client, admin)
    _account(runtime, "acme", email="mine@acme.example")  # acme has account 1 only
    csrf = _csrf(client)
    assert foreign == 3
    checks = [
        client.get(f"/setup/email/{foreign}/ledger"),
        client.post(f"/setup/email/{foreign}/sync", data={"csrf_token": csrf}),
        client.post(f"/setup/email/{foreign}/disconnect", data={"csrf_token": csrf}),
        client.post(
            f"/setup/email/{foreign}/options",
            data={"csrf_token": csrf, "labels_mode": "default", "lookback_days": "30"},
        ),
    ]
    for response in checks:
        assert response.status_code == 404, response.request.url
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
    assert "@globex.example" not in client.get("/setup/email").text
    assert _row(runtime, "globex", foreign).status == "connected"


def test_unknown_paths_are_an_html_page_for_browsers_and_json_for_the_api(
    client: TestClient, tenants: TenantFactory
) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    anonymous = client.get("/no/such/page", headers=browser)
    assert anonymous.status_code == 404
    assert anonymous.headers["content-type"].startswith("text/html")
    assert "Page not found" in anonymous.text and "Sign out" not in anonymous.text
    assert "Content-Security-Policy" in anonymous.headers

    sign_in(client, tenants.member("acme", "rep"))
    signed_in = client.get("/setup/nothing-here", headers=browser)
    assert signed_in.status_code == 404 and "Page not found" in signed_in.text
    assert "Sign out" in signed_in.text  # the layout knows who is signed in

    for path, accept in (
        ("/no/such/page", "application/json"),
        ("/api/v1/nothing", browser["Accept"]),
    ):
        answer = client.get(path, headers={"Accept": accept})
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "not_found"
