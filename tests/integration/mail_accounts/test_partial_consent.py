"""Partial consent: the emulator's consent page lets the user untick permissions; inboxcrm
connects with the features the grant allows, shows what is missing, asks for it later
(incremental authorization), accepts a superset, and degrades a feature (never the sync) when
Google takes a permission away."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from sqlalchemy import select
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import Member, TenantFactory
from tests.integration.mail_accounts.conftest import Consent, GmailConnector
from tests.integration.sync.conftest import customer_mail, emulator_mailbox

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, NotificationRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from inboxcrm.services.mail_sync import sync_account

G = "https://www.googleapis.com/auth/"
EMAIL = "partial@acme-sales.example"


def consent_ticking(gmail: GmailConnector, url: str, email: str, ticked: set[str]) -> Consent:
    """Fill in the consent page, leaving ticked only ``ticked`` of its checkboxes."""
    page = gmail.http.get(url)
    boxes = re.findall(r'type="checkbox" name="granted_scope" value="([^"]+)"', page.text)
    assert boxes, "the consent page offers no checkboxes"
    fixed = re.findall(r'type="hidden" name="granted_scope" value="([^"]+)"', page.text)
    form: list[tuple[str, str]] = list(parse_qsl(urlsplit(url).query))
    form += [("email", email), ("decision", "allow"), ("scope_choice", "1")]
    form += [("granted_scope", s) for s in fixed + [b for b in boxes if b in ticked]]
    answer = gmail.http.post(
        f"{gmail.emulator.url}/o/oauth2/approve",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return Consent(
        callback=f"{location.path}?{location.query}", params=dict(parse_qsl(location.query))
    )


def _account(gmail: GmailConnector, member: Member) -> dict[str, Any]:
    response = gmail.client.get("/api/v1/mail-accounts", headers=member.headers)
    assert response.status_code == 200
    (account,) = response.json()["items"]
    return dict(account)


def test_read_only_consent_connects_with_sync_only_and_shows_what_is_missing(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    rep = tenants.member("acme", "rep")
    consent = consent_ticking(gmail, gmail.authorize(rep), EMAIL, {G + "gmail.readonly"})
    response = gmail.callback(consent)
    assert response.status_code == 200, response.text

    account = _account(gmail, rep)
    assert set(account["scopes"]) == {G + "gmail.readonly", G + "userinfo.email", "openid"}
    assert account["features"] == {"sync": True, "send": False, "labels": False}
    assert account["missing_scopes"] == [G + "gmail.send", G + "gmail.modify"]

    # Syncing works; no label is applied (the grant may not change labels).
    customer = "buyer@client.example"
    from tests.factories import make_contact

    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=[customer])
    emulator.deliver(EMAIL, customer_mail(customer, EMAIL, "Quote"))
    mailbox = emulator_mailbox(emulator, EMAIL)
    report = sync_account(runtime, "acme", account["id"], full=True, mailbox=mailbox)
    assert report.status == "ok" and report.stored == 1, report
    calls = emulator.stats(EMAIL)["calls"]
    assert "gmail.users.messages.batchModify" not in calls
    assert "gmail.users.labels.create" not in calls

    # The page shows the missing permissions and the button to grant them.
    page = gmail.client.get("/setup/email", headers=rep.headers)
    assert page.status_code == 200
    assert "Grant missing permissions" in page.text and "send mail" in page.text


def test_grant_missing_asks_only_for_what_is_missing_and_completes_the_grant(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    first = consent_ticking(gmail, gmail.authorize(rep), EMAIL, {G + "gmail.readonly"})
    assert gmail.callback(first).status_code == 200
    account_id = _account(gmail, rep)["id"]

    answer = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/authorize-missing", headers=rep.headers
    )
    assert answer.status_code == 200, answer.text
    url = gmail.started_by(answer.json()["authorization_url"], rep)
    query = parse_qs(urlsplit(url).query)
    assert query["include_granted_scopes"] == ["true"]
    asked = set(query["scope"][0].split())
    assert asked == {G + "gmail.send", G + "gmail.modify", G + "userinfo.email", "openid"}

    # Google's answer carries the earlier grant too (include_granted_scopes).
    again = consent_ticking(gmail, url, EMAIL, asked)
    assert gmail.callback(again).status_code == 200
    account = _account(gmail, rep)
    assert set(account["scopes"]) == set(SCOPES)
    assert account["missing_scopes"] == [] and all(account["features"].values())
    nothing_left = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/authorize-missing", headers=rep.headers
    )
    assert nothing_left.status_code == 409


def test_a_superset_of_the_requested_scopes_is_accepted(
    gmail: GmailConnector, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    extra = G + "calendar.readonly"
    more = " ".join([*SCOPES, extra])
    response = gmail.callback(gmail.consent(gmail.authorize(rep), EMAIL, scope=more))
    assert response.status_code == 200, response.text
    account = _account(gmail, rep)
    assert set(account["scopes"]) == {*SCOPES, extra}
    assert account["missing_scopes"] == []


def test_a_permission_taken_away_later_degrades_labelling_not_the_sync(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    from tests.factories import make_contact

    rep = tenants.member("acme", "rep")
    account_id = gmail.connect(rep, EMAIL)["account"]["id"]
    customer = "buyer@client.example"
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=[customer])
    emulator.deliver(EMAIL, customer_mail(customer, EMAIL, "Quote"))
    mailbox = emulator_mailbox(emulator, EMAIL)
    # gmail.modify goes away after the consent: reading still works (gmail.readonly).
    assert emulator.remove_scope(EMAIL, G + "gmail.modify") >= 1

    report = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)
    assert report.status == "ok" and report.stored == 1, report
    account = _account(gmail, rep)
    assert account["status"] == "connected"
    assert "labels" in account["notices"] and account["features"]["labels"] is False
    assert G + "gmail.modify" in account["missing_scopes"]
    with runtime.tenant_uow("acme") as uow:
        kinds = list(uow.session.scalars(select(NotificationRow.kind)))
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None and row.status == "connected"
    assert kinds.count("mail_account_degraded") == 1

    # The next run skips labelling without asking Google again, and notifies nobody twice.
    emulator.reset_counters(EMAIL)
    again = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)
    assert again.status == "ok"
    calls = emulator.stats(EMAIL)["calls"]
    assert (
        "gmail.users.messages.batchModify" not in calls and "gmail.users.labels.list" not in calls
    )
