"""Pages stay usable with JavaScript off: the navigation is open, Setup → Email shows every
section, and a deal moves with the card's list and its Move button."""

from __future__ import annotations

from typing import Any

import pytest

from inboxcrm.adapters.db.tenant_tables import DealRow
from inboxcrm.bootstrap import Runtime
from tests.e2e.browser_steps import sign_in
from tests.e2e.layout_checks import PHONE
from tests.e2e.showcase_data import seed_showcase
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser


def test_the_main_pages_work_without_javascript(
    live_server: str, chromium_browser: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    showcase = seed_showcase(runtime)
    context = chromium_browser.new_context(viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, live_server, rep)
        assert page.locator("nav.mainnav a", has_text="Contacts").is_visible()  # no menu to open

        page.goto(live_server + "/setup/email")
        for section in ("mailboxes", "sync", "sharing", "privacy", "tracking"):
            assert page.locator(f"#section-{section}").is_visible(), section

        page.goto(live_server + "/deals")
        card = page.locator(f"#deal-{showcase.deal_id}")
        card.locator("select[name=stage]").select_option("closing")
        card.locator("button:has-text('Move')").click()
        page.wait_for_url(live_server + "/deals?status=open")
        assert page.locator(f"section.column[data-stage=closing] #deal-{showcase.deal_id}").count()
        with runtime.tenant_uow("acme") as uow:
            deal = uow.session.get(DealRow, showcase.deal_id)
            assert deal is not None and deal.stage == "closing"

        page.goto(f"{live_server}/contacts/{showcase.contact_id}")
        assert page.locator("figure.chart svg rect.bar").count() >= 24  # charts need no script
    finally:
        context.close()
