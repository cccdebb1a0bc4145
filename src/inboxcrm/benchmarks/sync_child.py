"""One measured full sync, run as its own process so its peak RSS is the worker's alone.

``python -m inboxcrm.benchmarks.sync_child EMULATOR_URL MAILBOX DATA_DIR [QUOTA [PER_MINUTE
[LIMIT]]]`` creates a tenant on SQLite, a contact per customer correspondent of the emulated
mailbox, connects the mailbox through the OAuth flow, runs one full sync and prints a JSON line of
measurements. ``QUOTA`` (units/s; 0 or absent: unlimited) is the rate of the worker's per-mailbox
quota gate; ``LIMIT`` (``1``, the default, or ``0``) whether to measure the local limit after the
sync (only the processing-rate benchmark compares with it: it fetches the stored messages again,
which under a quota costs as long as the sync itself).

The processing rate is counted in CPU-seconds of this process (``resource.getrusage``: user +
system time of every thread, the fetch-ahead thread included), so other load on the machine
does not distort it. Beside it, in the same run, the *local limit* of the corpus: the stored
messages' raw bytes parsed by the standard library (``email`` with ``policy.compat32``) and the
same number of rows written with ``sqlite3`` ``executemany`` (one statement per batch of 50,
one commit per batch), also in CPU-seconds.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import sys
import time
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailLedgerRow
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


def reset_peak_rss() -> bool:
    """Start counting peak RSS afresh (Linux: ``5`` to ``/proc/self/clear_refs`` resets
    ``VmHWM``), so the peak measured is the sync's own, not the set-up's."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak RSS since the last reset (``VmHWM``), else since the process started."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit_row(index: int, raw: bytes, parser: BytesParser) -> tuple[object, ...]:
    message = parser.parsebytes(raw)
    text = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode("utf-8", "replace")
                break
    try:
        sent = parsedate_to_datetime(str(message.get("date", ""))).isoformat()
    except (TypeError, ValueError):
        sent = ""
    senders = getaddresses([str(v) for v in message.get_all("from", [])])
    recipients = getaddresses([str(v) for v in message.get_all("to", [])])
    return (
        index,
        str(index),
        str(message.get("message-id", "")),
        senders[0][1] if senders else "",
        json.dumps([a for _, a in recipients]),
        str(message.get("subject", "")),
        sent,
        text,
    )


def local_limit_rate(raws: list[bytes], directory: str, batch: int = 50, run: int = 0) -> float:
    """Messages per CPU-second of stdlib ``compat32`` parsing plus ``sqlite3`` executemany of
    one row per message and one ledger row (one statement per table per batch, a commit per
    batch): what storing the corpus costs at the least in Python on this machine."""
    path = os.path.join(directory, f"local-limit-{run}.sqlite3")
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, provider_id TEXT UNIQUE, message_id TEXT,"
        " sender TEXT, recipients TEXT, subject TEXT, sent_at TEXT, body TEXT)"
    )
    db.execute("CREATE TABLE ledger (provider_id TEXT PRIMARY KEY, outcome TEXT)")
    parser = BytesParser(policy=policy.compat32)
    started = cpu_seconds()
    for start in range(0, len(raws), batch):
        rows = [
            _limit_row(start + i, raw, parser) for i, raw in enumerate(raws[start : start + batch])
        ]
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO ledger VALUES (?, 'stored')", [(row[1],) for row in rows])
        db.commit()
    elapsed = cpu_seconds() - started
    db.close()
    return len(raws) / elapsed if elapsed > 0 else 0.0


def run(
    emulator_url: str,
    mailbox_email: str,
    data_dir: str,
    quota_units_per_s: float = 0.0,
    quota_units_per_minute: float = 0.0,
    measure_limit: bool = True,
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
    rss_before = peak_rss_mb()
    reset = reset_peak_rss()

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    report = sync_account(runtime, TENANT, account_id, full=True)
    cpu = cpu_seconds() - cpu_started
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    stats = control.stats(mailbox_email)
    units = int(stats["total_units"])
    rate_limited = int(sum(stats["rate_limited"].values()))
    peak_mb = peak_rss_mb()
    listing_units = sum(v for k, v in stats["units"].items() if k.endswith("messages.list"))
    fetched = control.fetched(mailbox_email)
    with runtime.tenant_uow(TENANT) as uow:
        stored = int(uow.session.scalar(select(func.count(EmailMessageRow.id))) or 0)
        per_thread = uow.session.execute(
            select(MailLedgerRow.provider_thread_id, func.count())
            .where(MailLedgerRow.reason.is_(None) | (MailLedgerRow.reason != "vanished"))
            .group_by(MailLedgerRow.provider_thread_id)
        ).all()
        in_ledger = set(uow.session.scalars(select(MailLedgerRow.provider_message_id)))
        ids = list(uow.session.scalars(select(EmailMessageRow.provider_message_id).limit(5000)))
    # The thread-aware minimum: listing, then each thread for min(10, 5 x its messages).
    minimum_units = listing_units + sum(min(10, 5 * int(n)) for _, n in per_thread)
    # Bodies of mail outside the sync's scope (never listed, never stored): fetched on their
    # own (raw), or brought by a thread fetched whole (full).
    formats = fetched["messages"]
    outside = [i for i in fetched["body_fetched"] if i not in in_ledger]
    alone = [i for i in outside if "raw" in formats.get(i, ())]
    del in_ledger
    raws: list[bytes] = []
    if measure_limit:
        mailbox = open_mailbox(runtime, TENANT, account_id)
        raws = [m.raw for m in mailbox.fetch_messages(ids, fmt="raw") if m.raw is not None]
    runtime.close()
    # Best of three: the least disturbed measurement of the same work.
    limit = max(local_limit_rate(raws, data_dir, run=i) for i in range(3)) if raws else 0.0
    return {
        "status": report.status,
        "stored": stored,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "load_average": max(load_before, load_after),
        "local_limit_per_s": limit,
        "units": units,
        "listing_units": listing_units,
        "thread_minimum_units": minimum_units,
        "threads": len(per_thread),
        "out_of_scope_bodies": len(outside),
        "out_of_scope_bodies_alone": len(alone),
        "rate_limited": rate_limited,
        "peak_rss_mb": peak_mb,
        "peak_rss_of_sync_only": reset,
        "setup_rss_mb": rss_before,
        "stdlib_parse_per_s": stdlib_parse_rate(raws) if raws else 0.0,
    }


if __name__ == "__main__":
    quota = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    per_minute = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    limit_wanted = sys.argv[6] != "0" if len(sys.argv) > 6 else True
    print(json.dumps(run(sys.argv[1], sys.argv[2], sys.argv[3], quota, per_minute, limit_wanted)))
