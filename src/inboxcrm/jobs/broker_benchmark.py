"""Measure the embedded broker against an in-process runner (docs/decisions/0002-embedded-jobs.md).

Both run the same registered task function on the same JSON payloads; the task records how long
after its enqueue it started. Two figures per runner: throughput (a burst of ``burst`` tasks, from
the first enqueue to the last start) and enqueue-to-start latency on an idle worker (``probes``
tasks spaced out, p50/p95/max). Run ``python -m inboxcrm.jobs.broker_benchmark [redis://...]``.
"""

from __future__ import annotations

import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inboxcrm.config import Settings
from inboxcrm.jobs.celery_app import create_celery, queue_names
from inboxcrm.jobs.registry import TaskRegistry
from inboxcrm.jobs.worker_thread import worker_thread

PROBE_TASK = "inboxcrm.benchmark.record_start"


@dataclass
class BrokerFigures:
    """What one runner measured."""

    runner: str
    enqueues_per_second: float
    tasks_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float

    def line(self) -> str:
        return (
            f"{self.runner:<32} enqueue {self.enqueues_per_second:>6.0f}/s  "
            f"run {self.tasks_per_second:>6.0f} tasks/s  enqueue->start "
            f"p50 {self.latency_p50_ms:7.1f} ms  p95 {self.latency_p95_ms:7.1f} ms  "
            f"max {self.latency_max_ms:7.1f} ms"
        )


class _Recorder:
    def __init__(self) -> None:
        self.delays: dict[int, float] = {}
        self.expected = 0
        self.done = threading.Event()

    def record_start(self, seq: int, sent_at: float) -> None:
        self.delays[seq] = time.time() - sent_at
        if len(self.delays) >= self.expected:
            self.done.set()

    def expect(self, count: int) -> None:
        self.delays.clear()
        self.expected = count
        self.done.clear()


def _probe_registry(recorder: _Recorder) -> TaskRegistry:
    registry = TaskRegistry()

    @registry.job(PROBE_TASK, time_limit=60)
    def record_start(seq: int, sent_at: float) -> None:
        recorder.record_start(seq, sent_at)

    return registry


def _measure(
    runner: str, send: Callable[[int, float], None], recorder: _Recorder, burst: int, probes: int
) -> BrokerFigures:
    recorder.expect(probes)
    for seq in range(probes):
        send(seq, time.time())
        time.sleep(0.25)
    recorder.done.wait(120)
    latencies = sorted(recorder.delays.values())
    recorder.expect(burst)
    started = time.time()
    for seq in range(burst):
        send(seq, time.time())
    enqueued = time.time() - started
    recorder.done.wait(300)
    elapsed = time.time() - started
    return BrokerFigures(
        runner=runner,
        enqueues_per_second=burst / enqueued,
        tasks_per_second=len(recorder.delays) / elapsed,
        latency_p50_ms=statistics.median(latencies) * 1000,
        latency_p95_ms=latencies[max(0, round(len(latencies) * 0.95) - 1)] * 1000,
        latency_max_ms=latencies[-1] * 1000,
    )


def measure_celery(settings: Settings, runner: str, *, burst: int, probes: int) -> BrokerFigures:
    """The Celery path for ``settings`` (embedded SQLite broker, or Redis), worker in a thread."""
    recorder = _Recorder()
    registry = _probe_registry(recorder)
    prefix = f"bench{time.time_ns()}."
    app = create_celery(settings, key_prefix=prefix, registry=registry)
    task = app.tasks[PROBE_TASK]

    def send(seq: int, sent_at: float) -> None:
        task.apply_async(kwargs={"seq": seq, "sent_at": sent_at})

    try:
        with worker_thread(app, queue_names(registry, key_prefix=prefix)):
            time.sleep(1)
            return _measure(runner, send, recorder, burst, probes)
    finally:
        if settings.broker_url.startswith("redis"):
            import redis

            client = redis.Redis.from_url(settings.broker_url)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


def measure_in_process(settings: Settings, *, burst: int, probes: int) -> BrokerFigures:
    """A thread that runs the same Celery task locally on JSON payloads from a queue.Queue."""
    recorder = _Recorder()
    registry = _probe_registry(recorder)
    app = create_celery(settings, registry=registry)
    inbox: queue.Queue[tuple[str, str] | None] = queue.Queue()

    def run() -> None:
        while (item := inbox.get()) is not None:
            name, payload = item
            app.tasks[name].apply(kwargs=json.loads(payload))

    thread = threading.Thread(target=run, name="in-process-runner", daemon=True)
    thread.start()

    def send(seq: int, sent_at: float) -> None:
        inbox.put((PROBE_TASK, json.dumps({"seq": seq, "sent_at": sent_at})))

    try:
        return _measure("in-process runner (queue.Queue)", send, recorder, burst, probes)
    finally:
        inbox.put(None)
        thread.join(10)


def main(argv: list[str] | None = None) -> None:
    """Print the figures for the embedded broker, the in-process runner and optionally Redis."""
    args = sys.argv[1:] if argv is None else argv
    burst, probes = 500, 40
    with tempfile.TemporaryDirectory() as tmp:
        embedded = Settings(environment="test", data_dir=Path(tmp))
        print(
            measure_celery(
                embedded, "celery, embedded SQLite broker", burst=burst, probes=probes
            ).line()
        )
        print(measure_in_process(embedded, burst=burst, probes=probes).line())
        for url in args:
            redis = Settings(environment="test", data_dir=Path(tmp), broker_url=url)
            print(measure_celery(redis, "celery, Redis broker", burst=burst, probes=probes).line())


if __name__ == "__main__":
    main()
