"""Background jobs: one task code path on Celery, embedded (SQLite broker) or on Redis.

- ``registry``        the task and periodic-schedule registry (``job``, ``register_periodic``)
- ``tasks``           the tasks themselves; each takes only JSON-safe ids, is idempotent and limited
- ``celery_app``      ``create_celery(settings)``: the Celery application for a deployment
- ``sqlite_broker``   the embedded broker: kombu's SQLAlchemy transport tuned for one SQLite file
- ``queue``           ``JobQueue`` protocol and ``CeleryJobQueue`` (what a unit of work enqueues to)
- ``worker_runtime``  the process-wide Runtime tasks use, built lazily from the environment
- ``embedded``        ``start_embedded_jobs(settings)``: worker + scheduler beside ``serve``
- ``worker_thread``   a solo worker in a thread (benchmarks, tests)
- ``broker_benchmark`` measures the embedded broker against an in-process runner

Nothing here imports Celery at package import time.
"""
