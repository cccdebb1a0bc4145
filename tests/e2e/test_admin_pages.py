"""The admin pages in Chromium: invite a user, change their role, see both in the audit log,
request an export and download it."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.export import build_export
from tests.e2e.browser_steps import errors_in, sign_in
from tests.factories import make_contact, make_email_message
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser


def _open_setup(page: Any, label: str) -> None:
    page.click("details.menu > summary")
    page.click(f"details.menu .menu-items >> text={label}")


def test_admin_invites_changes_a_role_audits_and_exports(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    page_console: list[str],
    tmp_path: Path,
) -> None:
    admin = tenants.member("acme", "admin")
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["ann@customer.example"])
        make_email_message(uow, link_to=[("contact", contact.id)])
    page = browser_page
    sign_in(page, live_server, admin)

    _open_setup(page, "Users")
    page.wait_for_url(f"{live_server}/setup/users")
    page.fill("#invite-form input[name=email]", "newbie@acme.example.com")
    page.fill("#invite-form input[name=display_name]", "New Bie")
    page.select_option("#invite-form select[name=role]", "rep")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector("text=newbie@acme.example.com was added as rep.")
    assert page.is_visible("#generated-password")

    row = page.locator('tr[data-email="newbie@acme.example.com"]')
    row.locator("select[name=role]").select_option("manager")
    row.locator("button:has-text('Change role')").click()
    page.wait_for_selector("text=The role was changed.")
    changed = page.locator('tr[data-email="newbie@acme.example.com"] select[name=role]')
    assert changed.input_value() == "manager"

    _open_setup(page, "Audit log")
    page.wait_for_url(f"{live_server}/setup/audit-log")
    actions = page.locator("tr.audit-entry").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions[:2] == ["user.role_change", "user.invite"]
    page.fill("#audit-filters input[name=action]", "user.*")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(f"{live_server}/setup/audit-log?*")
    filtered = page.locator("tr.audit-entry").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )
    assert filtered == ["user.role_change", "user.invite"]

    _open_setup(page, "Privacy")
    page.wait_for_url(f"{live_server}/setup/privacy")
    page.fill("#export-form input[name=record]", f"contact:{contact.id}")
    page.click("#export-form button[type=submit]")
    page.wait_for_selector("text=The export was requested")
    name, kwargs = recorded_jobs.queued[-1]
    assert name == "inboxcrm.privacy.build_export"
    build_export(runtime, str(kwargs["tenant"]), int(kwargs["export_id"]))  # as the worker does

    page.reload()
    with page.expect_download() as download_info:
        page.click("a.download-export")
    target = tmp_path / "export.zip"
    download_info.value.save_as(str(target))
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["export.json", "mail.mbox"]
        assert b"ann@customer.example" in archive.read("export.json")
    assert errors_in(page_console) == []
