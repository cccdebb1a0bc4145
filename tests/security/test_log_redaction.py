"""Defect 7: query strings of sensitive routes never reach a log line, uvicorn's access log
included.

Before the fix the OAuth callback's ``code=`` and ``state=`` appeared in full in the access
log lines of ``inboxcrm serve``. Here a real uvicorn server runs with the logging configuration
``serve`` and ``demo`` pass it, and its access log is read back.
"""

from __future__ import annotations

import io
import logging
import logging.config
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.logging_setup import RedactingFilter, redact
from inboxcrm.web.app import create_app

CODE = "4/0AcanaryOAuthCodeZZ9"
STATE = "canaryStateValueQQ7"
TRACKING = "canaryTrackingTokenXX5"


@pytest.fixture
def access_log(runtime: Runtime) -> Iterator[tuple[str, io.StringIO]]:
    """A uvicorn server on a free port with inboxcrm's uvicorn log config; its log stream."""
    import uvicorn

    from inboxcrm.logging_setup import uvicorn_log_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime),
        log_config=uvicorn_log_config("INFO"),
        access_log=True,
        ws="none",
        lifespan="off",
    )
    stream = io.StringIO()
    for name in ("uvicorn.access", "uvicorn"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", stream
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_access_log_lines_hide_oauth_codes_and_tracking_tokens(
    access_log: tuple[str, io.StringIO],
) -> None:
    base, stream = access_log
    with httpx.Client(base_url=base, timeout=15) as http:
        http.get(f"/oauth/google/callback?state={STATE}&code={CODE}&scope=email")
        http.get(f"/oauth/google/callback?error=access_denied&state={STATE}")
        http.get(f"/t/o/{TRACKING}")
        http.get(f"/t/c/{TRACKING}?u=https%3A%2F%2Fexample.com")
        http.get("/healthz?probe=visible")
    deadline = time.monotonic() + 10
    while stream.getvalue().count("HTTP/1.1") < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    text = stream.getvalue()
    assert text.count("HTTP/1.1") >= 5, text
    for secret in (CODE, STATE, TRACKING, "4/0Acanary", "access_denied"):
        assert secret not in text, text
    assert "/oauth/google/callback?[redacted]" in text
    assert "/t/o/[redacted]" in text and "/t/c/[redacted]" in text
    assert "/healthz?probe=visible" in text  # other routes keep their query: the log stays useful


def test_every_other_log_line_is_redacted_too() -> None:
    line = (
        f"HTTP Request: GET https://crm.example/oauth/google/callback?code={CODE}&state={STATE}"
        f' "HTTP/1.1 303 See Other"; pixel /t/o/{TRACKING}.gif'
    )
    cleaned = redact(line)
    assert CODE not in cleaned and STATE not in cleaned and TRACKING not in cleaned
    assert "https://crm.example/oauth/google/callback?[redacted]" in cleaned

    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "%s", (line,), None)
    assert RedactingFilter().filter(record)
    assert CODE not in record.getMessage() and TRACKING not in record.getMessage()
