"""A mailbox with 20-40 MB messages syncs in a worker process whose peak RSS stays under 300 MB:
large messages are fetched alone without their attachments' bytes (format=full), which are
recorded as metadata with Gmail's attachment id (content on demand)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailAttachmentRow, EmailMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.jobs.embedded import settings_environment
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import add_customer_contacts

OWNER = "rep@huge-sales.example"
PEAK_RSS_LIMIT_MB = 300

# Runs the command as its child and reports that child's peak RSS (KiB on Linux).
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_mailbox_with_40_mb_messages_syncs_under_300_mb_peak_rss(
    runtime: Runtime, emulator: EmulatorHandle, tenants: TenantFactory, gmail: GmailConnector
) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 200, seed=7, customer_fraction=0.3, huge=4)
    mailbox_ids = {r["id"] for r in _list(emulator, "larger:20000000")}
    assert len(mailbox_ids) == 4  # each 20-40 MB, all with customers
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    env = {**os.environ, **settings_environment(runtime.settings)}
    sync = [sys.executable, "-c", "from inboxcrm.cli import main; main()", "sync", "--tenant"]
    sync += ["acme", str(account_id), "--full"]

    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *sync],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    returncode, peak_kib = (int(x) for x in done.stdout.split()[-2:])
    assert returncode == 0, done.stderr[-3000:]
    assert peak_kib / 1024 < PEAK_RSS_LIMIT_MB, f"peak RSS {peak_kib / 1024:.0f} MB"

    with runtime.tenant_uow("acme") as uow:
        stored = set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))
        big = uow.session.execute(
            select(EmailAttachmentRow.size, EmailAttachmentRow.provider_attachment_id).where(
                EmailAttachmentRow.size >= 20_000_000
            )
        ).all()
    assert mailbox_ids <= stored
    assert len(big) == 4 and all(attachment_id for _, attachment_id in big)
    fetched = emulator.fetched(OWNER)["messages"]
    assert all(fetched[i] == ["full"] for i in mailbox_ids), {i: fetched[i] for i in mailbox_ids}


def _list(emulator: EmulatorHandle, query: str) -> list[dict[str, str]]:
    import httpx

    from inboxcrm.emulator.control_client import shared_ssl_context

    token = emulator.authorize(OWNER)["access_token"]
    with httpx.Client(verify=shared_ssl_context(), timeout=60) as http:
        answer = http.get(
            f"{emulator.url}/gmail/v1/users/me/messages",
            params={"q": query, "maxResults": 500},
            headers={"Authorization": f"Bearer {token}"},
        )
    answer.raise_for_status()
    return list(answer.json().get("messages", []))
