"""The task registry: every background task and every periodic schedule, declared once.

Tasks are plain functions registered under a stable dotted name with ``@job(...)``; the Celery
application registers each of them (``celery_app.create_celery``), so the same functions run on the
embedded broker, on Redis, or directly in a test. A task takes only JSON-safe ids, is idempotent
(running it twice leaves the same state as once) and has a time limit.

Periodic work is declared with ``register_periodic(name, seconds, task_name, **kwargs)`` by the
module that owns the task; the scheduler (``inboxcrm beat`` or the embedded one) reads them all.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeAlias, TypeVar

from inboxcrm.domain.errors import ProviderTransientError

logger = logging.getLogger(__name__)

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | Sequence["JsonValue"] | Mapping[str, "JsonValue"]

DEFAULT_QUEUE = "default"
DEFAULT_TIME_LIMIT = 300
"""Seconds a task may run before it is stopped (hard limit); the soft limit is a bit earlier."""

TASK_MODULES = (
    "inboxcrm.jobs.tasks",
    "inboxcrm.jobs.account_tasks",
    "inboxcrm.jobs.mail_tasks",
    "inboxcrm.jobs.privacy_tasks",
    "inboxcrm.jobs.calendar_tasks",
    "inboxcrm.jobs.contact_tasks",
)
"""Modules whose import registers tasks with the default registry. Add new task modules here."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

F = TypeVar("F", bound=Callable[..., None])


@dataclass(frozen=True)
class TaskSpec:
    """One registered task: its name, function, queue and limits."""

    name: str
    func: Callable[..., None]
    queue: str
    time_limit: int
    soft_time_limit: int
    retry_on: tuple[type[BaseException], ...]
    max_retries: int


@dataclass(frozen=True)
class PeriodicJob:
    """A task the scheduler queues every ``seconds`` with fixed JSON-safe ``kwargs``."""

    name: str
    task_name: str
    seconds: float
    kwargs: Mapping[str, JsonValue] = field(default_factory=dict)


def ensure_json_safe(kwargs: Mapping[str, object]) -> None:
    """Raise TypeError unless ``kwargs`` survive a strict JSON round trip (ids, not objects)."""
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job arguments must be JSON-safe values such as ids: {exc}") from exc


class TaskRegistry:
    """Registered tasks and periodic schedules. The package uses one default instance."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskSpec] = {}
        self._periodic: dict[str, PeriodicJob] = {}

    def job(
        self,
        name: str,
        *,
        queue: str = DEFAULT_QUEUE,
        time_limit: int = DEFAULT_TIME_LIMIT,
        retry_on: tuple[type[BaseException], ...] = (ProviderTransientError,),
        max_retries: int = 5,
    ) -> Callable[[F], F]:
        """Decorator: register the function as task ``name`` (a dotted, lower-case name)."""
        if not _NAME_RE.match(name):
            raise ValueError(f"task name {name!r} must be dotted lower-case, e.g. 'inboxcrm.x'")
        if time_limit < 1:
            raise ValueError("a task needs a time limit of at least one second")

        def register(func: F) -> F:
            existing = self._tasks.get(name)
            if existing is not None and existing.func.__qualname__ != func.__qualname__:
                raise ValueError(f"task name {name!r} is already taken by {existing.func!r}")
            self._tasks[name] = TaskSpec(
                name=name,
                func=func,
                queue=queue,
                time_limit=time_limit,
                soft_time_limit=max(1, time_limit - max(1, time_limit // 10)),
                retry_on=retry_on,
                max_retries=max_retries,
            )
            return func

        return register

    def register_periodic(
        self, name: str, seconds: float, task_name: str, /, **kwargs: JsonValue
    ) -> None:
        """Queue ``task_name(**kwargs)`` every ``seconds``; the same ``name`` again replaces it."""
        if seconds <= 0:
            raise ValueError("a periodic job needs a positive interval")
        ensure_json_safe(kwargs)
        self._periodic[name] = PeriodicJob(name, task_name, float(seconds), dict(kwargs))

    def tasks(self) -> Mapping[str, TaskSpec]:
        return MappingProxyType(self._tasks)

    def periodic(self) -> Mapping[str, PeriodicJob]:
        return MappingProxyType(self._periodic)

    def queues(self) -> list[str]:
        """Every queue some task is routed to (the default queue always among them)."""
        return sorted({DEFAULT_QUEUE} | {spec.queue for spec in self._tasks.values()})

    def check(self) -> None:
        """Raise ValueError if a periodic job names a task that is not registered."""
        missing = sorted(
            f"{p.name} -> {p.task_name}"
            for p in self._periodic.values()
            if p.task_name not in self._tasks
        )
        if missing:
            raise ValueError(f"periodic jobs name unknown tasks: {', '.join(missing)}")


default_registry = TaskRegistry()
job = default_registry.job
register_periodic = default_registry.register_periodic


def load_default_registry() -> TaskRegistry:
    """Import every task module (registering their tasks) and return the default registry."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    default_registry.check()
    return default_registry
