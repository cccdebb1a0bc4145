"""Tracking pixel and click throughput: requests/s and p99 latency on loopback.

The application (``create_app``, the same layers as ``inboxcrm serve``) runs under uvicorn in a
child process on a SQLite runtime with one tracked, sent message; the benchmark process drives
it with keep-alive HTTP/1.1 connections written and read over plain asyncio streams (a client
that costs far less per request than the server, so the server is what is measured). Hits are
recorded by the server's buffer as in production.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from inboxcrm.benchmarks.results import BenchResult

TENANT = "tracking-bench"
CONNECTIONS = 32
SECONDS = 5.0
TARGET_RPS = 2000.0


@dataclass(frozen=True)
class _Run:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu_seconds: float = 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _prepare(data_dir: str) -> tuple[str, str]:
    """A tenant with one sent, tracked message; returns (pixel path, click path)."""
    from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
    from inboxcrm.adapters.db.tenant_tables import ContactRow, MailAccountRow
    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.services.tenants import create_tenant
    from inboxcrm.services.tracking_links import TrackingSigner

    settings = Settings(environment="test", data_dir=data_dir)
    runtime = build_runtime(settings, jobs=_NoJobs())
    runtime.upgrade_control_plane()
    create_tenant(runtime, TENANT)
    with runtime.tenant_uow(TENANT) as uow:
        account = MailAccountRow(user_id=1, provider="gmail", email="rep@bench.example")
        contact = ContactRow(first_name="Bench", last_name="Contact")
        uow.session.add_all([account, contact])
        uow.session.flush()
        row = OutboundMessageRow(
            mail_account_id=account.id,
            sender_user_id=1,
            record_kind="contact",
            record_id=contact.id,
            status="sent",
            from_address=account.email,
            to_addresses=["customer@bench.example"],
            subject="Bench",
            message_id_header="<bench@bench.example>",
            track=True,
        )
        uow.session.add(row)
        uow.commit()
        outbound_id = row.id
    runtime.close()
    signer = TrackingSigner(settings.secret_key.get_secret_value())
    issued = int(time.time()) - 3600
    pixel = signer.open_token(TENANT, outbound_id, "customer@bench.example", issued)
    click = signer.click_token(
        TENANT, outbound_id, "customer@bench.example", issued, 0, "https://docs.example/offer"
    )
    return f"/t/o/{pixel}", f"/t/c/{click}"


class _NoJobs:
    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        return None


def _serve(data_dir: str, sock: socket.socket) -> None:  # pragma: no cover - child process
    import uvicorn

    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.logging_setup import configure_logging
    from inboxcrm.web.app import create_app

    configure_logging("WARNING")
    runtime = build_runtime(Settings(environment="test", data_dir=data_dir), jobs=_NoJobs())
    config = uvicorn.Config(
        create_app(runtime), log_level="warning", access_log=False, ws="none", lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[sock])


async def _connection(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while done == 0 or time.perf_counter() < deadline:  # at least one answer each
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 302")):
                errors[0] += 1
            done += 1
    finally:
        writer.close()
    return done


async def _drive(port: int, path: str, seconds: float, connections: int) -> _Run:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(
            _connection(port, request, started + seconds, latencies, errors)
            for _ in range(connections)
        )
    )
    return _Run(sum(counts), time.perf_counter() - started, latencies, errors[0])


def _wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the benchmark server did not start")


def _result(name: str, run: _Run) -> list[BenchResult]:
    rps = run.requests / run.seconds
    p99 = statistics.quantiles(run.latencies_ms, n=100)[98] if len(run.latencies_ms) > 100 else 0
    note = (
        f"{run.requests:,} requests, {CONNECTIONS} keep-alive connections, {run.seconds:.1f} s, "
        f"machine load average {os.getloadavg()[0]:.1f}"
    )
    if run.errors:
        note += f", {run.errors} unexpected answers"
    results = [
        BenchResult(
            f"tracking {name}, requests/s", rps, "req/s", ">= 2,000", rps >= TARGET_RPS, note
        ),
        BenchResult(
            f"tracking {name}, p99 latency", p99, "ms", "n/a", None, f"{CONNECTIONS} clients"
        ),
    ]
    if run.server_cpu_seconds > 0:
        per_core = run.requests / run.server_cpu_seconds
        results.append(
            BenchResult(
                f"tracking {name}, requests per server CPU-second",
                per_core,
                "req/s/core",
                ">= 2,000",
                per_core >= TARGET_RPS,
                "what one core sustains, whatever else loads the machine",
            )
        )
    return results


def _drive_in_own_loop(port: int, path: str, seconds: float, connections: int) -> _Run:
    """:func:`_drive` on an event loop of its own thread, so the bench also runs where the
    calling thread already has a running loop (a test process that used a browser, say)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(_drive(port, path, seconds, connections))).result()


def _measured(pid: int, port: int, path: str, seconds: float) -> _Run:
    before = _cpu_seconds(pid)
    run = _drive_in_own_loop(port, path, seconds, CONNECTIONS)
    cpu = _cpu_seconds(pid) - before
    return _Run(run.requests, run.seconds, run.latencies_ms, run.errors, cpu)


def tracking_results(seconds: float = SECONDS) -> list[BenchResult]:
    """Pixel and click requests/s and p99 against a server in a child process."""
    with tempfile.TemporaryDirectory() as data_dir:
        pixel, click = _prepare(data_dir)
        # IPPROTO_TCP, as uvicorn's own listening socket has it: asyncio then sets TCP_NODELAY
        # on each connection (a pixel's header and body are two writes; without NODELAY each
        # answer waits ~40 ms for the client's delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        port = sock.getsockname()[1]
        context = multiprocessing.get_context("fork")
        server = context.Process(target=_serve, args=(data_dir, sock), daemon=True)
        server.start()
        try:
            _wait_until_up(port)
            _drive_in_own_loop(port, pixel, 1.0, 4)  # warm up
            assert server.pid is not None
            results = _result("pixel /t/o/", _measured(server.pid, port, pixel, seconds))
            results += _result("click /t/c/", _measured(server.pid, port, click, seconds))
        finally:
            server.terminate()
            server.join(timeout=30)
            sock.close()
    return results
