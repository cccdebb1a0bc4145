"""Sorted, numbered list pages; the global search; the unread count; the mail-per-week chart
counted under the sharing rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sharing import MailViewer
from inboxcrm.services.mail_volume import weekly_mail_volume
from inboxcrm.services.notifications import notify
from tests.factories import (
    make_account,
    make_contact,
    make_email_message,
    make_lead,
    make_mail_account,
    make_thread,
)
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in, user_id_of


def _names(html: str) -> list[str]:
    return re.findall(r'<a class="strong" href="/contacts/\d+">([^<]+)</a>', html)


def test_lists_sort_by_a_column_both_ways_and_page_by_number(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    sign_in(client, tenants.member("acme", "rep"))
    with runtime.tenant_uow("acme") as uow:
        for i, last in enumerate(["Young", "adams", "Zimmer", "Baker"] * 8):
            make_contact(uow, first_name=f"P{i:02d}", last_name=last)
    ascending = client.get("/contacts", params={"sort": "name", "order": "asc"}).text
    names = _names(ascending)
    assert len(names) == 25 and names[0].endswith("adams")  # case-insensitive
    assert names[8].endswith("Baker") and names[-2].endswith("Young")
    assert "Page 1 of 2 · 32 contacts" in ascending and 'aria-sort="ascending"' in ascending
    second = client.get("/contacts", params={"sort": "name", "order": "asc", "page": 2}).text
    assert _names(second)[-1].endswith("Zimmer") and len(_names(second)) == 7
    descending = _names(client.get("/contacts?sort=name&order=desc").text)
    assert descending[0].endswith("Zimmer")
    filtered = client.get("/contacts", params={"sort": "updated", "q": "baker"}).text
    assert {n.split()[-1] for n in _names(filtered)} == {"Baker"}
    assert client.get("/contacts?sort=bogus").status_code == 200  # unknown sorts fall back
    beyond = client.get("/contacts?sort=name&page=99").text
    assert "Page 2 of 2" in beyond


def test_global_search_finds_records_by_name_email_and_company(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    sign_in(client, tenants.member("acme", "rep"))
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow, name="Wayne Enterprises", domain="wayne.example")
        make_contact(uow, first_name="Bruce", last_name="W", account_id=account.id)
        make_lead(uow, first_name="Selina", last_name="Kyle", emails=["cat@wayne.example"])
        make_contact(uow, first_name="Clark", last_name="Kent")
    html = client.get("/search", params={"q": "wayne"}).text
    assert "Wayne Enterprises" in html and "Bruce W" in html and "Selina Kyle" in html
    assert "Clark Kent" not in html
    assert 'value="wayne"' in html  # the top bar's box keeps the query
    assert "Nothing matches" in client.get("/search", params={"q": "<script>"}).text
    assert "&lt;script&gt;" in client.get("/search", params={"q": "<script>"}).text


def test_the_top_bar_shows_the_unread_count(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    assert "unread-count" not in client.get("/").text
    with runtime.tenant_uow("acme") as uow:
        for n in range(3):
            notify(uow, user_id_of(client, rep), "sync_done", f"Sync {n} finished")
        uow.commit()
    html = client.get("/").text
    assert re.search(r'class="count unread-count"[^>]*>3<', html)


def test_mail_per_week_counts_only_mail_the_viewer_may_see(runtime: Runtime) -> None:
    from inboxcrm.services.tenants import create_tenant

    create_tenant(runtime, "acme")
    now = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["c@example.org"])
        mine = make_mail_account(uow, user_id=1, email="me@acme.example")
        theirs = make_mail_account(uow, user_id=2, email="them@acme.example", sharing="private")
        key = ("contact", contact.id)
        for box, direction, when in (
            (mine, "inbound", now - timedelta(days=1)),
            (mine, "outbound", now - timedelta(days=2)),
            (mine, "inbound", now - timedelta(days=8)),
            (theirs, "inbound", now - timedelta(days=1)),  # private to user 2
            (mine, "inbound", now - timedelta(weeks=20)),  # before the window
        ):
            thread = make_thread(uow, box)
            make_email_message(uow, thread=thread, link_to=[key], direction=direction, sent_at=when)
        weeks = weekly_mail_volume(uow, "contact", contact.id, MailViewer(user_id=1), now=now)
        other = weekly_mail_volume(uow, "contact", contact.id, MailViewer(user_id=2), now=now)
    assert len(weeks) == 12 and weeks[-1].week.isoformat() == "2026-03-16"
    assert (weeks[-1].received, weeks[-1].sent) == (1, 1)
    assert (weeks[-2].received, weeks[-2].sent) == (1, 0)
    assert sum(w.received + w.sent for w in weeks) == 3
    assert (other[-1].received, other[-1].sent) == (2, 1)  # user 2 sees own + shared mail


def test_the_time_zone_preference_takes_only_known_zones(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    csrf = sign_in(client, rep)
    saved = client.post("/preferences", data={"time_zone": "Asia/Tokyo", "csrf_token": csrf})
    assert saved.status_code == 200 and "Preferences saved" in saved.text
    assert '<option value="Asia/Tokyo" selected>' in saved.text
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "x" * 80):
        refused = client.post("/preferences", data={"time_zone": bad, "csrf_token": csrf})
        assert refused.status_code == 422 and "Choose a time zone from the list" in refused.text
    page = client.get("/preferences").text
    assert '<option value="Asia/Tokyo" selected>' in page  # the bad posts changed nothing
    reset = client.post("/preferences", data={"time_zone": "", "csrf_token": csrf})
    assert '<option value="" selected>' in reset.text
