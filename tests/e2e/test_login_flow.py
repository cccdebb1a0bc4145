"""Signing in and out through the real login form in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser_steps import csp_errors_in
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser


def test_login_form_signs_in_returns_to_the_page_and_signs_out(
    live_server: str, browser_page: Any, tenants: TenantFactory, page_console: list[str]
) -> None:
    rep = tenants.member("acme", "rep")
    page = browser_page
    page.goto(live_server + "/contacts")
    assert page.url.startswith(live_server + "/login?next=")

    page.fill("input[name=email]", rep.email)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "Wrong email, password or workspace" in page.inner_text(".alert")

    page.fill("input[name=password]", rep.password)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/contacts")
    assert rep.email in page.inner_text("header")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["icrm_session"]["httpOnly"] is True
    assert cookies["icrm_session"]["sameSite"] == "Lax"

    page.click("text=Sign out")
    page.wait_for_url(live_server + "/login")
    page.goto(live_server + "/contacts")
    assert page.url.startswith(live_server + "/login")
    # The failed attempt is a 401 response, which the console reports; nothing else may fail.
    assert csp_errors_in(page_console) == []
