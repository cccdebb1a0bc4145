"""What the fault suite is built from: throwaway servers, worker processes, the clean stored set,
and the figures each scenario reports.

- :class:`ThrowawayRedis` / :class:`ThrowawayPostgres`: a ``redis-server`` or a PostgreSQL
  cluster (``initdb`` + ``pg_ctl`` from /usr/lib/postgresql/*/bin) on a free loopback port in a
  temporary directory, which the scenario may restart; the shared servers on 6379/5432 are never
  touched. Both are stopped at the end of the test.
- :class:`WorkerProcess`: ``inboxcrm worker`` as a child process with the test's settings;
  ``kill()`` sends SIGKILL to it and to every process it forked (the pool), as a crash would.
- :func:`clean_stored_set`: the stored mail of an undisturbed run of the same generated mailbox,
  which every faulted run must equal.
- :class:`FaultFigures`: faults injected, expected, stored, lost, duplicated, and the seconds
  from the end of the fault to convergence; printed, and appended as a JSON line to the file
  named by ``INBOXCRM_FAULT_REPORT`` when set (docs/reliability.md is written from it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow, MailLedgerRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.jobs.embedded import settings_environment
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import StoredMail, stored_mail

T = TypeVar("T")

OWNER = "rep@acme-sales.example"
MAILBOX_SIZE = 5000
MAILBOX_SEED = 7
CUSTOMER_FRACTION = 0.3
CONVERGE_LIMIT = 240.0
"""Seconds a scenario may take to converge before it fails (the target is 120)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str, step: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy (a liveness bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(step)


# -- servers ----------------------------------------------------------------------------------


class ThrowawayRedis:
    """A redis-server of this test only (append-only file on, as production would run it)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="icrm-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=30, what="redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.process = None

    def restart(self, down_seconds: float = 2.0) -> None:
        self.stop()
        time.sleep(down_seconds)  # the outage itself (the fault), not a wait for a result
        self.start()
        self.restarts += 1

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return candidates[-1].parent


class ThrowawayPostgres:
    """A PostgreSQL cluster of this test only, run as the ``postgres`` system user if root."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="icrm-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.restarts = 0
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])

    def _run(self, command: list[str]) -> None:
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=60 "
            "-c fsync=off -c shared_buffers=32MB"
        )
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.dir / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def restart(self, down_seconds: float = 2.0) -> None:
        self.stop()
        time.sleep(down_seconds)  # the outage itself (the fault)
        self.start()
        self.restarts += 1

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- workers ----------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[-1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class WorkerProcess:
    """``inboxcrm worker`` (prefork, one slot) as a child process of the test."""

    def __init__(self, settings: Settings, log_dir: Path, *, beat: bool = False) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.beat = beat
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts = 0

    def start(self) -> None:
        command = [
            sys.executable,
            "-c",
            "from inboxcrm.cli import main; main()",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            *(["--beat"] if self.beat else []),
        ]
        env = {**os.environ, **settings_environment(self.settings), "INBOXCRM_LOG_LEVEL": "INFO"}
        log = (self.log_dir / f"worker-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and every process it forked, at once (a crash, an OOM kill)."""
        if self.process is None:
            return
        victims = [self.process.pid, *_children(self.process.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(30)
        for pid in victims[1:]:
            # The pool processes are the worker's children: reaped by init once it is gone.
            wait_until(lambda p=pid: not Path(f"/proc/{p}").exists() or _zombie(p), timeout=30,
                       what=f"pool process {pid} to die")  # fmt: skip
        self.kills += 1
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def log_tail(self, chars: int = 3000) -> str:
        logs = sorted(self.log_dir.glob("worker-*.log"))
        return logs[-1].read_text(errors="replace")[-chars:] if logs else ""

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


# -- the stored set ---------------------------------------------------------------------------


def generate_mailbox(emulator: EmulatorHandle, size: int = MAILBOX_SIZE) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, size, seed=MAILBOX_SEED, customer_fraction=CUSTOMER_FRACTION)


def clean_stored_set(runtime: Runtime, emulator: EmulatorHandle) -> StoredMail:
    """The stored mail of an undisturbed full sync of this emulator's mailbox (tenant "clean")."""
    from inboxcrm.services.mail_sync import sync_account
    from inboxcrm.services.tenants import create_tenant
    from tests.factories import make_mail_account
    from tests.integration.sync.conftest import add_customer_contacts, emulator_mailbox

    emulator.set_config(fault_rate=0.0, latency_ms=0.0)
    create_tenant(runtime, "clean")
    add_customer_contacts(runtime, "clean", emulator, OWNER)
    with runtime.tenant_uow("clean") as uow:
        account_id = make_mail_account(uow, email=OWNER, status="connected").id
    report = sync_account(
        runtime, "clean", account_id, full=True, mailbox=emulator_mailbox(emulator, OWNER)
    )
    assert report.status == "ok", report
    return stored_mail(runtime, "clean")


def stored_count(runtime: Runtime, tenant: str) -> int:
    with runtime.tenant_uow(tenant) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(EmailMessageRow)) or 0)


def converged(runtime: Runtime, tenant: str, account_id: int, expected: int) -> bool:
    """The sync finished by itself: a full sync completed, nothing pending, all stored."""
    with runtime.tenant_uow(tenant) as uow:
        account = uow.session.get(MailAccountRow, account_id)
        pending = uow.session.scalar(
            select(func.count()).where(
                MailLedgerRow.mail_account_id == account_id, MailLedgerRow.outcome == "pending"
            )
        )
    return (
        account is not None
        and account.last_full_sync_at is not None
        and account.sync_phase == "done"
        and not pending
        and stored_count(runtime, tenant) >= expected
    )


def sync_running(runtime: Runtime, tenant: str, account_id: int) -> bool:
    """A live run holds the mailbox's lease (see ``sync.status``)."""
    from inboxcrm.sync.lease import lease_facts

    with runtime.tenant_uow(tenant) as uow:
        facts = lease_facts(uow.session, [account_id]).get(account_id)
    return facts is not None and facts.held


# -- figures ----------------------------------------------------------------------------------


@dataclass
class FaultFigures:
    scenario: str
    faults_injected: int
    expected: int
    stored: int
    lost: int
    duplicated: int
    seconds_to_converge: float
    detail: str = ""

    def publish(self) -> None:
        line = json.dumps(asdict(self))
        print(f"FAULT-FIGURES {line}")
        target = os.environ.get("INBOXCRM_FAULT_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(line + "\n")


def compare(
    scenario: str,
    faults: int,
    clean: StoredMail,
    runtime: Runtime,
    tenant: str,
    seconds: float,
    detail: str = "",
) -> FaultFigures:
    """Figures of a scenario; asserts the stored set equals the clean one exactly."""
    with runtime.tenant_uow(tenant) as uow:
        rows = list(uow.session.scalars(select(EmailMessageRow.provider_message_id)))
    duplicated = len(rows) - len(set(rows))
    got = stored_mail(runtime, tenant)  # also fails on a duplicate timeline entry
    lost = len(set(clean) - set(got))
    figures = FaultFigures(
        scenario=scenario,
        faults_injected=faults,
        expected=len(clean),
        stored=len(got),
        lost=lost,
        duplicated=duplicated,
        seconds_to_converge=round(seconds, 1),
        detail=detail,
    )
    figures.publish()
    assert lost == 0 and duplicated == 0, figures
    assert got == clean, "the stored set (messages and their timeline links) differs"
    return figures
