"""Every UI page renders for a signed-in user; errors are HTML pages; tenants stay apart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.factories import make_contact, make_email_history
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import make_sample_data, page_routes, sign_in, user_id_of

ADMIN_PAGES = {"/setup/users", "/setup/audit-log", "/setup/privacy"}


def test_admin_pages_render_for_an_admin(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    sign_in(client, admin)
    make_sample_data(runtime, "acme", user_id_of(client, admin))
    for route_path in sorted(ADMIN_PAGES):
        response = client.get(route_path)
        assert response.status_code == 200, (route_path, response.status_code)
        assert "Content-Security-Policy" in response.headers


def test_every_page_renders_for_a_signed_in_rep(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    data = make_sample_data(runtime, "acme", user_id_of(client, rep))
    pages = [path for method, path in page_routes() if method == "GET"]
    assert len(pages) >= 15
    for route_path in ADMIN_PAGES:  # a rep is refused the admin pages (checked below as admin)
        assert client.get(route_path).status_code == 403
    for route_path in (p for p in pages if p not in ADMIN_PAGES):
        response = client.get(data.fill(route_path), follow_redirects=False)
        if route_path == "/login":
            assert response.status_code == 303  # already signed in: straight home
            continue
        assert response.status_code == 200, (route_path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        assert "Content-Security-Policy" in response.headers


def test_lists_search_filter_and_page(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    with runtime.tenant_uow("acme") as uow:
        for i in range(30):
            make_contact(uow, first_name="Pat", last_name=f"Member{i:02d}")
        make_contact(uow, first_name="Quinn", last_name="Zed", emails=["quinn@zed.example.com"])
    first = client.get("/contacts")
    assert "Member00" in first.text and "Member29" not in first.text
    assert "Next page" in first.text
    cursor = first.text.split("cursor=")[1].split('"')[0]
    second = client.get(f"/contacts?cursor={cursor}")
    assert "Member29" in second.text and "Member00" not in second.text
    found = client.get("/contacts", params={"q": "zed.example"})
    assert "Quinn Zed" in found.text and "Member" not in found.text
    assert "No contacts match" in client.get("/contacts", params={"q": "nobody-here"}).text
    bad_cursor = client.get("/contacts?cursor=garbage")
    assert bad_cursor.status_code == 422
    assert bad_cursor.headers["content-type"].startswith("text/html")


def test_timeline_pages_newest_first_with_an_htmx_fragment_for_older_items(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["busy@example.org"])
        make_email_history(uow, ("contact", contact.id), 45)
    page = client.get(f"/contacts/{contact.id}")
    assert page.status_code == 200
    # One thread: the 30 newest messages are on the first page, grouped under the newest subject.
    assert "Message 44" in page.text
    assert "snippet 15<" in page.text and "snippet 14<" not in page.text
    older = page.text.split('class="tl-more"')[1]
    more = older.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    fragment = client.get(more, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Message 14" in fragment.text and "snippet 0<" in fragment.text
    assert "snippet 15<" not in fragment.text


def test_errors_on_ui_routes_are_html_pages(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    for path in ("/contacts/999999", "/contacts/not-a-number", "/deals/0/edit", "/leads/99/edit"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
    api = client.get("/api/v1/no-such-thing")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_a_user_never_sees_another_tenants_records(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    tenants.member("acme", "rep")
    make_sample_data(runtime, "acme", 1)
    outsider = tenants.member("globex", "admin")
    sign_in(client, outsider)
    make_sample_data(runtime, "globex", 1)
    with runtime.tenant_uow("acme") as uow:
        secret = make_contact(uow, first_name="Secret", last_name="Person")
    assert client.get(f"/contacts/{secret.id}").status_code == 404
    assert "Secret Person" not in client.get("/contacts", params={"q": "Secret"}).text
    assert "Secret" not in client.get("/").text
