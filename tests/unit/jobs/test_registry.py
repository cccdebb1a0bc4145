"""The task registry: names, limits, periodic schedules and JSON-safe arguments."""

from __future__ import annotations

import pytest

from inboxcrm.jobs.registry import DEFAULT_QUEUE, TaskRegistry, ensure_json_safe


def _noop(tenant_slug: str) -> None:
    del tenant_slug


def test_a_task_is_registered_with_a_soft_limit_below_its_hard_limit() -> None:
    registry = TaskRegistry()
    registry.job("inboxcrm.sample", time_limit=120, queue="sync")(_noop)

    spec = registry.tasks()["inboxcrm.sample"]
    assert spec.func is _noop
    assert spec.queue == "sync"
    assert spec.time_limit == 120
    assert 0 < spec.soft_time_limit < spec.time_limit
    assert registry.queues() == sorted([DEFAULT_QUEUE, "sync"])


@pytest.mark.parametrize("name", ["sample", "Inboxcrm.Sample", "inboxcrm..x", "inboxcrm.x-y"])
def test_task_names_must_be_dotted_lower_case(name: str) -> None:
    with pytest.raises(ValueError, match="dotted"):
        TaskRegistry().job(name)


def test_every_task_has_a_time_limit() -> None:
    with pytest.raises(ValueError, match="time limit"):
        TaskRegistry().job("inboxcrm.sample", time_limit=0)


def test_a_name_cannot_be_taken_by_a_second_function() -> None:
    registry = TaskRegistry()
    registry.job("inboxcrm.sample")(_noop)

    def other(tenant_slug: str) -> None:
        del tenant_slug

    with pytest.raises(ValueError, match="already taken"):
        registry.job("inboxcrm.sample")(other)


def test_periodic_jobs_need_a_registered_task_and_json_safe_arguments() -> None:
    registry = TaskRegistry()
    registry.register_periodic("poll-mailboxes", 600, "inboxcrm.sample", tenant_slug="acme")
    with pytest.raises(ValueError, match=r"unknown tasks: poll-mailboxes -> inboxcrm\.sample"):
        registry.check()

    registry.job("inboxcrm.sample")(_noop)
    registry.check()
    job = registry.periodic()["poll-mailboxes"]
    assert (job.task_name, job.seconds, dict(job.kwargs)) == (
        "inboxcrm.sample",
        600.0,
        {"tenant_slug": "acme"},
    )

    with pytest.raises(TypeError, match="JSON-safe"):
        registry.register_periodic("bad", 60, "inboxcrm.sample", when=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        registry.register_periodic("never", 0, "inboxcrm.sample")


@pytest.mark.parametrize(
    "kwargs", [{"at": float("nan")}, {"ids": {1, 2}}, {"blob": b"bytes"}, {"obj": object()}]
)
def test_only_json_values_may_be_job_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="JSON-safe"):
        ensure_json_safe(kwargs)


def test_ids_lists_and_mappings_are_json_safe() -> None:
    ensure_json_safe({"tenant_slug": "acme", "account_id": 7, "ids": [1, 2], "opts": {"a": None}})
