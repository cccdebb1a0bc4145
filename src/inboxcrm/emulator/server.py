"""The HTTP server: stdlib ``ThreadingHTTPServer`` (one thread per connection, keep-alive), which
also lets fault injection close a socket without answering."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inboxcrm.emulator.api_pipeline import ApiRegistry
from inboxcrm.emulator.batch import BatchRoutes
from inboxcrm.emulator.config import EmulatorConfig
from inboxcrm.emulator.control_client import EmulatorControl
from inboxcrm.emulator.control_routes import ControlRoutes
from inboxcrm.emulator.gmail_routes import GmailRoutes
from inboxcrm.emulator.http_core import Request, Response, Router
from inboxcrm.emulator.mail_import import load_path
from inboxcrm.emulator.people_calendar import PeopleCalendarRoutes
from inboxcrm.emulator.state import EmulatorState

logger = logging.getLogger(__name__)


def build_router(state: EmulatorState) -> Router:
    router = Router()
    state.oauth_routes.register(router)
    api = ApiRegistry(state, router)
    GmailRoutes(state).register(api)
    people = PeopleCalendarRoutes(state)
    people.register(api)
    BatchRoutes(router, state.concurrency).register(router)
    ControlRoutes(state, people).register(router)
    return router


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    router: Router


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write; flushed after each request
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request.build(
            self.command, self.path, dict(self.headers.items()), body, f"http://{host}"
        )
        try:
            response = self.server.router.dispatch(request)
        except Exception:
            logger.exception("emulator error on %s %s", self.command, request.path)
            payload = {
                "error": {
                    "code": 500,
                    "message": "Internal error encountered.",
                    "errors": [
                        {
                            "message": "Internal error encountered.",
                            "domain": "global",
                            "reason": "backendError",
                        }
                    ],
                    "status": "INTERNAL",
                }
            }
            response = Response(
                500, json.dumps(payload).encode(), [("Content-Type", "application/json")]
            )
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class RunningEmulator:
    """A started emulator: ``url``, ``control`` (control API client) and ``stop()``.

    Also a context manager that stops the emulator on exit.
    """

    def __init__(self, config: EmulatorConfig, state: EmulatorState, server: _Server) -> None:
        self.config = config
        self._state = state
        self._server = server
        host, port = server.server_address[:2]
        shown = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        self.host = str(shown)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="emulator-http", daemon=True
        )
        self._thread.start()
        self._control: EmulatorControl | None = None
        self._stopped = False

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._state.push.stop()
        if self._control is not None:
            self._control.close()
        if self.config.state_file:
            self._state.save(self.config.state_file)

    def wait(self) -> None:
        """Block until the server stops (used by the CLI)."""
        self._thread.join()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig | None = None) -> RunningEmulator:
    """Start an emulator in background threads and return once it accepts connections."""
    config = config or EmulatorConfig()
    state = EmulatorState(config)
    if config.state_file:
        state.load(config.state_file)
    owner = config.mailbox_owner()
    if config.mailboxes or config.generate or config.user or config.auto_consent:
        state.ensure_user(owner)
    for path in config.mailboxes:
        load_path(state, owner, path)
    if config.generate:
        state.generate(owner, config.generate, config.seed, config.customer_fraction)
    server = _Server((config.host, config.port), _Handler, bind_and_activate=True)
    server.router = build_router(state)
    state.push.start()
    running = RunningEmulator(config, state, server)
    logger.info("Google API emulator listening on %s", running.url)
    return running
