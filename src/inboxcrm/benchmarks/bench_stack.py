"""A running deployment for end-to-end benchmarks, made of the real commands in child processes.

:class:`Stack` starts ``inboxcrm emulator`` (the Google API emulator), ``inboxcrm serve`` (the web
app; embedded jobs or not) and any number of ``inboxcrm worker`` processes, all configured
through ``INBOXCRM_*`` environment variables as an operator would, and stops every process it
started (by its own pid) on the way out. The benchmark process itself only drives the emulator's
control API and reads the HTTP API, so the figures are those of the deployment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

import inboxcrm

_ENTRY = "from inboxcrm.cli import main; main()"
_START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(settings: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOXCRM_")}
    source_root = str(Path(inboxcrm.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [source_root, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    env.update({f"INBOXCRM_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def wait_until(probe: Any, *, seconds: float, what: str, interval: float = 0.1) -> Any:
    """Call ``probe`` until it returns something truthy; RuntimeError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = probe()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


class Stack:
    """Child processes of one benchmark run; :meth:`stop` ends each of them."""

    def __init__(self, settings: dict[str, Any], log_dir: Path) -> None:
        self.settings = dict(settings)
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, **extra: Any) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, *args],
            env=_environment({**self.settings, **extra}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def start_emulator(self, port: int, *args: str) -> str:
        url = f"http://127.0.0.1:{port}"
        self.start("emulator", "emulator", "--port", str(port), *args)
        wait_until(
            lambda: httpx.get(url + "/_emulator/config", timeout=2).status_code == 200,
            seconds=_START_SECONDS,
            what="the emulator",
        )
        return url

    def start_web(self, port: int, *, embedded_jobs: bool) -> str:
        url = f"http://127.0.0.1:{port}"
        flag = "--embedded-jobs" if embedded_jobs else "--no-embedded-jobs"
        self.start("web", "serve", "--host", "127.0.0.1", "--port", str(port), flag)
        wait_until(
            lambda: httpx.get(url + "/healthz", timeout=2).status_code == 200,
            seconds=_START_SECONDS,
            what="the web server",
        )
        return url

    def start_workers(self, processes: int, concurrency: int, pool: str = "prefork") -> None:
        for n in range(processes):
            self.start(f"worker{n}", "worker", "--concurrency", str(concurrency), "--pool", pool)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the processes one at a time, the last started first.

        Workers and the web server finish their work against an emulator that still answers;
        signalling every process at once made their graceful shutdowns wait on one another
        (about 6 s per stack instead of 2).
        """
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()


@contextmanager
def running_stack(settings: dict[str, Any], log_dir: Path) -> Iterator[Stack]:
    stack = Stack(settings, log_dir)
    try:
        yield stack
    finally:
        stack.stop()


def connect_gmail(web: httpx.Client, token: str, session_id: str, email: str) -> int:
    """Connect mailbox ``email`` through the real OAuth flow; returns the mail account's id.

    ``web`` is a client of the app (``base_url`` set; a TestClient will do). The flow starts
    with the user's API token, the emulator's consent form is filled in for ``email`` (as a
    person would), and the callback is followed with the user's session cookie, as every
    connect flow ends in a browser signed in as that user.
    """
    from urllib.parse import parse_qsl, urlsplit

    from inboxcrm.web.deps import SESSION_COOKIE

    response = web.post(
        "/api/v1/mail-accounts/gmail/authorize", headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    authorization_url = response.json()["authorization_url"]
    parts = urlsplit(authorization_url)
    emulator_url = f"{parts.scheme}://{parts.netloc}"
    form = {**dict(parse_qsl(parts.query)), "email": email, "decision": "allow"}
    with httpx.Client(follow_redirects=False, timeout=60) as browser:
        answer = browser.post(emulator_url + "/o/oauth2/approve", data=form)
    if answer.status_code != 302:
        raise RuntimeError(f"consent for {email} failed: HTTP {answer.status_code}")
    callback = urlsplit(answer.headers["location"])
    web.cookies.clear()
    reply = web.get(
        f"{callback.path}?{callback.query}",
        headers={"Accept": "application/json", "Cookie": f"{SESSION_COOKIE}={session_id}"},
        follow_redirects=False,
    )
    if reply.status_code != 200:
        raise RuntimeError(f"connecting {email} failed: HTTP {reply.status_code}")
    return int(reply.json()["account"]["id"])
