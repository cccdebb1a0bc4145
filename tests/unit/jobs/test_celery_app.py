"""The Celery application a deployment gets: broker, serialisation, limits, routes and schedule.

Building the app performs no I/O; nothing here talks to a broker.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from inboxcrm.config import Settings
from inboxcrm.jobs.celery_app import broker_url_for, create_celery, queue_names
from inboxcrm.jobs.queue import CeleryJobQueue, UnknownTask
from inboxcrm.jobs.registry import TaskRegistry
from inboxcrm.jobs.sqlite_broker import Transport
from inboxcrm.jobs.tasks import PROVISION_TENANT_DATABASE


def _settings(tmp_path: Path, **overrides: str) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, **overrides)


def _registry() -> TaskRegistry:
    registry = TaskRegistry()

    @registry.job("inboxcrm.sample", time_limit=90, queue="sync")
    def sample(account_id: int) -> None:
        del account_id

    registry.register_periodic("sample-every-minute", 60, "inboxcrm.sample", account_id=1)
    return registry


def test_embedded_mode_uses_the_sqlite_broker_in_the_data_dir(tmp_path: Path) -> None:
    app = create_celery(_settings(tmp_path))

    assert app.conf.broker_url == f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    assert app.conf.broker_transport is Transport
    assert PROVISION_TENANT_DATABASE in app.tasks


def test_a_sqla_broker_url_keeps_the_tuned_transport(tmp_path: Path) -> None:
    settings = _settings(tmp_path, broker_url="sqla+sqlite:////srv/broker.db")
    assert broker_url_for(settings) == "sqlite:////srv/broker.db"
    assert create_celery(settings).conf.broker_transport is Transport


def test_messages_are_json_only_acknowledged_late_and_prefetched_one_at_a_time(
    tmp_path: Path,
) -> None:
    conf = create_celery(_settings(tmp_path)).conf

    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit > conf.task_soft_time_limit > 0


def test_tasks_carry_their_limits_and_routes_and_the_schedule_comes_from_the_registry(
    tmp_path: Path,
) -> None:
    app = create_celery(_settings(tmp_path), key_prefix="t1.", registry=_registry())

    task = app.tasks["inboxcrm.sample"]
    assert (task.time_limit, task.soft_time_limit) == (90, 81)
    assert app.conf.task_routes["inboxcrm.sample"] == {"queue": "t1.sync"}
    assert app.conf.task_default_queue == "t1.default"
    assert app.conf.beat_schedule["sample-every-minute"] == {
        "task": "inboxcrm.sample",
        "schedule": timedelta(seconds=60),
        "kwargs": {"account_id": 1},
    }
    assert queue_names(_registry(), key_prefix="t1.") == ["t1.default", "t1.sync"]


def test_redis_broker_isolates_keys_and_hands_back_a_dead_workers_task_promptly(
    tmp_path: Path,
) -> None:
    from inboxcrm.jobs import redis_broker

    app = create_celery(
        _settings(tmp_path, broker_url="redis://127.0.0.1:6379/0"), key_prefix="t2."
    )
    options = app.conf.broker_transport_options

    assert options["global_keyprefix"] == "t2."
    # Live workers re-stamp what they hold, so the timeout can be short (not an hour).
    assert app.conf.broker_transport is redis_broker.Transport
    assert options["visibility_timeout"] <= 120
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert app.conf.broker_connection_max_retries is None


def test_apps_do_not_share_tasks(tmp_path: Path) -> None:
    create_celery(_settings(tmp_path), registry=_registry())
    other = create_celery(_settings(tmp_path))

    assert "inboxcrm.sample" not in other.tasks


def test_the_queue_refuses_unknown_tasks_and_non_json_arguments(tmp_path: Path) -> None:
    jobs = CeleryJobQueue(create_celery(_settings(tmp_path)))

    with pytest.raises(UnknownTask):
        jobs.enqueue("inboxcrm.no_such_task", tenant_slug="acme")
    with pytest.raises(TypeError, match="JSON-safe"):
        jobs.enqueue(PROVISION_TENANT_DATABASE, tenant_slug=object())  # type: ignore[arg-type]
    assert not (tmp_path / "broker.sqlite3").exists()
