"""One measured full sync, run as its own process so its peak RSS is the worker's alone.

``python -m inboxcrm.benchmarks.sync_child EMULATOR_URL MAILBOX DATA_DIR [QUOTA]`` creates a
tenant on SQLite, a contact per customer correspondent of the emulated mailbox, connects the
mailbox through the OAuth flow, runs one full sync and prints a JSON line of measurements.
``QUOTA`` (units/s; 0 or absent: unlimited) is the rate of the worker's per-mailbox quota gate.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow
from inboxcrm.bootstrap import build_runtime
from inboxcrm.config import Settings
from inboxcrm.domain.roles import Role
from inboxcrm.emulator import EmulatorControl
from inboxcrm.services.identity import Principal, create_user
from inboxcrm.services.mail_accounts import open_mailbox
from inboxcrm.services.mail_connect import complete_gmail_authorization, start_gmail_authorization
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.records import ContactCreate, create_contact
from inboxcrm.services.tenants import create_tenant

TENANT = "bench"


class _DiscardJobs:
    """Set-up queues a first sync and back-fills; the bench runs the sync itself instead."""

    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        return None


def stdlib_parse_rate(raws: list[bytes]) -> float:
    """Messages/s of the standard library parsing and decoding every part of each message."""
    parser = BytesParser(policy=policy.default)
    started = time.perf_counter()
    for raw in raws:
        message = parser.parsebytes(raw)
        for part in message.walk():
            if not part.is_multipart():
                part.get_payload(decode=True)
    elapsed = time.perf_counter() - started
    return len(raws) / elapsed if elapsed > 0 else 0.0


def run(
    emulator_url: str,
    mailbox_email: str,
    data_dir: str,
    quota_units_per_s: float = 0.0,
    quota_units_per_minute: float = 0.0,
) -> dict[str, Any]:
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url="",
        tenant_database_url="",
        google_api_base=emulator_url,
        google_oauth_base="",
        redis_url="",
        quota_units_per_second=quota_units_per_s or 1e9,
        quota_units_per_minute=quota_units_per_minute,
        sync_lookback_days=3650,
    )
    runtime = build_runtime(settings, jobs=_DiscardJobs())
    runtime.upgrade_control_plane()
    create_tenant(runtime, TENANT)
    user = create_user(
        runtime, tenant_slug=TENANT, email=mailbox_email, password="bench-password", role="owner"
    )
    principal = Principal(
        user.id, user.email, "", 1, TENANT, Role.OWNER, "token", mail_integration=True
    )
    control = EmulatorControl(emulator_url)
    customers = [c["email"] for c in control.correspondents(mailbox_email) if c["customer"]]
    with runtime.tenant_uow(TENANT) as uow:
        for address in customers:
            create_contact(uow, principal, ContactCreate(last_name=address, emails=[address]))
    consent = httpx.get(start_gmail_authorization(runtime, principal), follow_redirects=False)
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    browser = Principal(
        user.id, user.email, "", 1, TENANT, Role.OWNER, "session", mail_integration=True
    )
    connected = complete_gmail_authorization(
        runtime, state=query["state"][0], code=query["code"][0], session_principal=browser
    )
    account_id = connected.account.id
    control.reset_counters(mailbox_email)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    started = time.perf_counter()
    report = sync_account(runtime, TENANT, account_id, full=True)
    elapsed = time.perf_counter() - started

    stats = control.stats(mailbox_email)
    units = int(stats["total_units"])
    rate_limited = int(sum(stats["rate_limited"].values()))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with runtime.tenant_uow(TENANT) as uow:
        stored = int(uow.session.scalar(select(func.count(EmailMessageRow.id))) or 0)
        ids = list(uow.session.scalars(select(EmailMessageRow.provider_message_id).limit(2000)))
    mailbox = open_mailbox(runtime, TENANT, account_id)
    raws = [m.raw for m in mailbox.fetch_messages(ids, fmt="raw") if m.raw is not None]
    runtime.close()
    return {
        "status": report.status,
        "stored": stored,
        "seconds": elapsed,
        "units": units,
        "rate_limited": rate_limited,
        "peak_rss_mb": peak_kib / 1024,
        "setup_rss_mb": rss_before / 1024,
        "stdlib_parse_per_s": stdlib_parse_rate(raws),
    }


if __name__ == "__main__":
    quota = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    per_minute = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    print(json.dumps(run(sys.argv[1], sys.argv[2], sys.argv[3], quota, per_minute)))
