"""Embedded jobs: the worker and the scheduler beside ``inboxcrm serve`` / ``inboxcrm demo``.

``start_embedded_jobs(settings)`` starts ``inboxcrm worker --beat`` as a child process on the
embedded SQLite broker and returns a handle whose ``stop()`` shuts it down cleanly. A child process
rather than a thread: jobs such as a full mailbox sync are CPU-heavy and must not take the web
server's interpreter lock, and a prefork pool enforces task time limits (threads cannot). The child
gets the parent's exact settings through ``INBOXCRM_*`` variables and dies with its parent.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping

from pydantic import SecretStr

from inboxcrm.config import Settings

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables that make ``Settings()`` equal to it."""
    env: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        alias = field.validation_alias
        key = alias if isinstance(alias, str) else f"INBOXCRM_{name.upper()}"
        env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedJobs:
    """Handle on the embedded worker process (with its scheduler)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """Warm shutdown (running tasks finish), a kill after ``timeout`` s; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("embedded worker did not stop within %.0f s; killing it", timeout)
                self.process.kill()
                self.process.wait()
        logger.info("embedded jobs stopped (exit code %s)", self.process.returncode)
        return self.process.returncode


def start_embedded_jobs(
    settings: Settings,
    *,
    concurrency: int = 1,
    beat: bool = True,
    extra_env: Mapping[str, str] | None = None,
) -> EmbeddedJobs:
    """Start the embedded worker (and scheduler unless ``beat=False``) for ``settings``."""
    command = [
        sys.executable,
        "-c",
        "from inboxcrm.cli import main; main()",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
    ]
    if beat:
        command.append("--beat")
    env = {**os.environ, **settings_environment(settings), **(extra_env or {})}
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    logger.info("embedded jobs started (worker pid %s, beat %s)", process.pid, beat)
    return EmbeddedJobs(process)
