"""The broker (Redis) and the database (PostgreSQL) restarted in the middle of a full sync, each a
throwaway server of the test. Nobody steps in afterwards: the worker reconnects and carries on,
failed writes are recorded once the database is back, and the periodic poll (the worker runs
the scheduler too) resumes whatever stopped. The stored set equals a clean run's.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.jobs.celery_app import create_celery
from inboxcrm.jobs.queue import CeleryJobQueue
from tests.faults.harness import (
    CONVERGE_LIMIT,
    OWNER,
    ThrowawayPostgres,
    ThrowawayRedis,
    WorkerProcess,
    clean_stored_set,
    compare,
    converged,
    generate_mailbox,
    stored_count,
    wait_until,
)
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import add_customer_contacts, customer_mail, stored_mail

SYNC_TASK = "inboxcrm.mail.sync_account"


def _start_full_sync(
    runtime: Runtime,
    settings: Settings,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    size: int,
) -> tuple[int, dict[str, tuple[tuple[str, str], ...]]]:
    generate_mailbox(emulator, size)
    clean = clean_stored_set(runtime, emulator)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    emulator.set_config(latency_ms=40.0)
    CeleryJobQueue(create_celery(settings)).enqueue(
        SYNC_TASK, tenant="acme", account_id=account_id, full=True
    )
    return account_id, clean


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_redis_restart_mid_sync_leaves_the_worker_running_and_the_sync_completes(
    runtime: Runtime,
    settings: Settings,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    tmp_path: Path,
    redis: ThrowawayRedis,
) -> None:
    """Regression (defect 1): the worker died or lost its running sync at a broker restart."""
    on_redis = settings.model_copy(update={"broker_url": redis.url, "redis_url": redis.url})
    account_id, clean = _start_full_sync(runtime, on_redis, emulator, tenants, gmail, 5000)
    worker = WorkerProcess(on_redis, tmp_path)
    try:
        worker.start()
        wait_until(lambda: stored_count(runtime, "acme") > 0, timeout=CONVERGE_LIMIT,
                   what="the first stored batch")  # fmt: skip
        redis.restart(down_seconds=3.0)
        fault_ended = time.monotonic()
        assert worker.alive, worker.log_tail()
        emulator.set_config(latency_ms=0.0)
        wait_until(
            lambda: converged(runtime, "acme", account_id, len(clean)),
            timeout=CONVERGE_LIMIT,
            what="the sync to complete after the Redis restart",
        )
        seconds = time.monotonic() - fault_ended
        compare(
            "Redis restart mid-sync (Celery + Redis)",
            1,
            clean,
            runtime,
            "acme",
            seconds,
            detail="the worker kept running; a sync queued after the restart ran too",
        )
        # The worker still consumes: a sync queued after the restart runs too.
        customer = next(c["email"] for c in emulator.correspondents(OWNER) if c["customer"])
        new = emulator.deliver(OWNER, customer_mail(customer, OWNER, "After the restart"))["id"]
        CeleryJobQueue(create_celery(on_redis)).enqueue(
            SYNC_TASK, tenant="acme", account_id=account_id, full=False
        )
        wait_until(lambda: new in stored_mail(runtime, "acme"), timeout=CONVERGE_LIMIT,
                   what="the sync queued after the restart")  # fmt: skip
        assert worker.alive and "Unrecoverable" not in worker.logs(), worker.log_tail()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log_tail()}") from exc
    finally:
        worker.stop()


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """For the PostgreSQL scenario: control plane and tenant databases on a throwaway server."""
    if "postgres" not in request.fixturenames:
        return settings
    server: ThrowawayPostgres = request.getfixturevalue("postgres")
    base = server.url.rsplit("/", 1)[0]
    return settings.model_copy(
        update={
            "database_url": f"{base}/postgres",
            "tenant_database_url": base + "/icrm_{tenant}",
            "poll_interval_seconds": 600,
        }
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_postgresql_restart_mid_sync_converges_by_itself(
    postgres: ThrowawayPostgres,
    runtime: Runtime,
    settings: Settings,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    tmp_path: Path,
) -> None:
    assert settings.tenant_database_url.startswith("postgresql")
    account_id, clean = _start_full_sync(runtime, settings, emulator, tenants, gmail, 5000)
    worker = WorkerProcess(settings, tmp_path, beat=True)  # the embedded broker, with polls
    try:
        worker.start()
        wait_until(lambda: stored_count(runtime, "acme") > 0, timeout=CONVERGE_LIMIT,
                   what="the first stored batch")  # fmt: skip
        postgres.restart(down_seconds=3.0)
        fault_ended = time.monotonic()
        emulator.set_config(latency_ms=0.0)
        wait_until(
            lambda: _converged_quietly(runtime, account_id, len(clean)),
            timeout=CONVERGE_LIMIT,
            what="convergence after the PostgreSQL restart",
        )
        seconds = time.monotonic() - fault_ended
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log_tail()}") from exc
    finally:
        worker.stop()
    compare("PostgreSQL restart mid-sync", 1, clean, runtime, "acme", seconds)


def _converged_quietly(runtime: Runtime, account_id: int, expected: int) -> bool:
    try:
        return converged(runtime, "acme", account_id, expected)
    except Exception:  # the server is still coming back
        return False
