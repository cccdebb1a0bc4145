"""A queued job runs on a real worker and does its work: on the embedded broker and on Redis.

The job is the first real one: provisioning a tenant's database. Each test has its own data dir
(so its own SQLite broker file) or, on Redis, its own key prefix, so xdist workers never collide.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.config import Settings
from inboxcrm.jobs.celery_app import create_celery, queue_names
from inboxcrm.jobs.embedded import start_embedded_jobs
from inboxcrm.jobs.queue import CeleryJobQueue, job_queue_for
from inboxcrm.jobs.registry import load_default_registry
from inboxcrm.jobs.tasks import PROVISION_TENANT_DATABASE
from inboxcrm.jobs.worker_runtime import use_worker_runtime
from inboxcrm.jobs.worker_thread import worker_thread


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _tenant_ready(runtime: Runtime, slug: str) -> bool:
    with runtime.control_uow() as uow:
        return bool(
            uow.session.scalar(select(TenantRow.database_ready).where(TenantRow.slug == slug))
        )


def _tenant_database_file(runtime: Runtime, slug: str) -> Path:
    return Path(runtime.tenants.url_for(slug).removeprefix("sqlite:///"))


@pytest.fixture
def embedded_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A control plane on SQLite with tenant 'acme' registered but without a database yet."""
    settings = Settings(environment="test", data_dir=tmp_path / "data")
    runtime = build_runtime(settings)
    runtime.upgrade_control_plane()
    with runtime.control_uow() as uow:
        uow.session.add(TenantRow(slug="acme", name="Acme"))
        uow.commit()
    try:
        yield runtime
    finally:
        runtime.close()


def test_embedded_worker_process_provisions_a_tenant_database(embedded_runtime: Runtime) -> None:
    runtime = embedded_runtime
    database = _tenant_database_file(runtime, "acme")
    assert not database.exists()

    jobs = start_embedded_jobs(runtime.settings, beat=True)
    try:
        # Queued through a unit of work: it reaches the broker only when the commit succeeds.
        queue = job_queue_for(runtime.settings)
        with build_runtime(runtime.settings, jobs=queue).control_uow() as uow:
            uow.enqueue(PROVISION_TENANT_DATABASE, tenant_slug="acme")
            uow.commit()
        _wait_for(lambda: _tenant_ready(runtime, "acme"), "the tenant database to be provisioned")
        assert jobs.running
    finally:
        exit_code = jobs.stop()

    assert database.is_file()
    assert exit_code == 0
    assert (runtime.settings.data_dir / "broker.sqlite3").is_file()


def test_jobs_reach_the_broker_only_after_commit(embedded_runtime: Runtime) -> None:
    settings = embedded_runtime.settings
    app = create_celery(settings)
    runtime = build_runtime(settings, jobs=CeleryJobQueue(app))

    def waiting() -> int:
        with app.connection_for_read() as conn:
            return int(conn.default_channel.queue_declare("default", passive=True).message_count)

    try:
        with runtime.control_uow() as uow:
            uow.enqueue(PROVISION_TENANT_DATABASE, tenant_slug="acme")
            assert waiting() == 0
            uow.rollback()
        assert waiting() == 0
        with runtime.control_uow() as uow:
            uow.enqueue(PROVISION_TENANT_DATABASE, tenant_slug="acme")
            uow.commit()
        assert waiting() == 1
    finally:
        runtime.close()


@pytest.mark.redis
def test_redis_worker_provisions_a_tenant_database(
    embedded_runtime: Runtime, redis_server_url: str
) -> None:
    runtime = embedded_runtime
    settings = runtime.settings.model_copy(update={"broker_url": redis_server_url})
    prefix = f"test-{uuid.uuid4().hex[:12]}."
    app = create_celery(settings, key_prefix=prefix)
    previous = use_worker_runtime(runtime)
    try:
        with worker_thread(app, queue_names(load_default_registry(), key_prefix=prefix)):
            CeleryJobQueue(app).enqueue(PROVISION_TENANT_DATABASE, tenant_slug="acme")
            _wait_for(lambda: _tenant_ready(runtime, "acme"), "the tenant database on Redis")
    finally:
        use_worker_runtime(previous)
        client = redis.Redis.from_url(redis_server_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()

    assert _tenant_database_file(runtime, "acme").is_file()
