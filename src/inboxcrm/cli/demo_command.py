"""``inboxcrm demo``: the whole product on one machine, with a Google emulator as its Gmail.

It starts fresh every time: SQLite databases in a directory of its own (``var/demo``, or
``--dir``; never ``INBOXCRM_DATA_DIR``, which may hold a real deployment's data), the embedded
job worker, the Google API emulator with a generated mailbox, a demo tenant and user, CRM records
for the mailbox's customers, the user's Gmail connected through the real OAuth flow, and new
customer mail arriving every few seconds, which reaches the timelines through push.

The demo marks the directory it creates (``DEMO_MARKER``) and clears, at the next start, only a
directory bearing that mark: a directory that exists without it is refused, never deleted.
Everything it starts (emulator, worker process, web server, mail ticker) is stopped on every
way out: Ctrl-C, a failed set-up (the demo then exits with an error), or a crash.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Annotated, Any

import typer

from inboxcrm.cli import app
from inboxcrm.cli.context import console

DEMO_TENANT = "demo"
DEMO_EMAIL = "alex@northwind-traders.example"
DEMO_PASSWORD = "demo-password"
PUSH_AUDIENCE = "inboxcrm-demo-push"
DEMO_MARKER = ".inboxcrm-demo"
"""The file that marks a directory as the demo's own (so the demo may clear it)."""
DEFAULT_DEMO_DIR = Path("var/demo")


class DemoDirectoryRefused(RuntimeError):
    """The chosen directory exists and is not one the demo created: it is left alone."""


def prepare_demo_directory(path: Path) -> Path:
    """A fresh, empty demo directory at ``path``: created and marked, or cleared if marked.

    Raises :class:`DemoDirectoryRefused` for an existing, non-empty directory without the mark.
    """
    path = path.expanduser().resolve()
    if path.exists():
        marker = path / DEMO_MARKER
        if not path.is_dir() or (any(path.iterdir()) and not marker.is_file()):
            raise DemoDirectoryRefused(
                f"{path} exists and was not created by `inboxcrm demo`; choose another "
                "directory with --dir (nothing was deleted)"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / DEMO_MARKER).write_text("created by `inboxcrm demo`; cleared at its next start\n")
    return path


#: New customer mail of the demo: each subject with a body that is about it.
_NEW_MAIL = (
    ("Question about our renewal",
     "Hi Alex,\n\nour licence renews next month. Can we add three seats at the current price?"
     "\n\nThanks,\n{name}"),
    ("Can we move Thursday's call?",
     "Hello Alex,\n\nsomething came up on Thursday. Would Friday at 10:00 work for you instead?"
     "\n\nBest,\n{name}"),
    ("Invoice for October",
     "Hi,\n\nthe October invoice has no purchase order number on it. Could you re-issue it?"
     "\n\nCheers,\n{name}"),
    ("Feedback on the proposal",
     "Hello Alex,\n\nthe team read the proposal: the scope is right, but we need onboarding "
     "in two phases. Can you adjust the timeline?\n\nBest,\n{name}"),
    ("Quick intro: our new procurement lead",
     "Hi Alex,\n\nfrom next week Maria takes over procurement on our side; please copy her on "
     "the renewal.\n\nThanks,\n{name}"),
    ("Pricing for 50 seats",
     "Hi Alex,\n\nwe are growing. What would 50 seats cost per year, with priority support?"
     "\n\nRegards,\n{name}"),
)  # fmt: skip


def _demo_message(sender: dict[str, Any], rng: random.Random) -> bytes:
    message = EmailMessage()
    message["From"] = f"{sender.get('name') or sender['email']} <{sender['email']}>"
    message["To"] = DEMO_EMAIL
    subject, body = rng.choice(_NEW_MAIL)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender["email"].split("@", 1)[1])
    message.set_content(body.format(name=sender.get("name") or "me"))
    return bytes(message)


class _NewMailTicker(threading.Thread):
    """Delivers a customer's email into the demo mailbox every ``interval`` seconds."""

    def __init__(self, control: Any, customers: list[dict[str, Any]], interval: float) -> None:
        super().__init__(name="demo-new-mail", daemon=True)
        self.control = control
        self.customers = customers
        self.interval = interval
        self.stopping = threading.Event()
        self.rng = random.Random(11)

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            if not self.customers:
                return
            sender = self.rng.choice(self.customers)
            try:
                self.control.deliver(DEMO_EMAIL, _demo_message(sender, self.rng))
            except Exception as exc:  # the emulator is stopping
                console.print(f"[yellow]demo mail not delivered:[/yellow] {exc}")


def _wait_until_up(url: str, seconds: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the web server did not come up at {url}")


def _connect_gmail(public_url: str, token: str, session_id: str) -> None:
    """Connect the demo user's Gmail through the real OAuth flow (the emulator auto-consents).

    The flow starts with the API token; like every connect flow it must finish in a browser
    signed in as that user, so the callback carries the demo user's session cookie.
    """
    import httpx

    from inboxcrm.web.deps import SESSION_COOKIE

    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(
        public_url + "/api/v1/mail-accounts/gmail/authorize", headers=headers, timeout=30
    )
    response.raise_for_status()
    url = response.json()["authorization_url"]
    # Consent (auto) at the emulator → redirect to /oauth/google/callback → tokens stored.
    with httpx.Client(follow_redirects=False, timeout=60) as browser:
        hop = browser.get(url)
        for _ in range(5):
            if hop.status_code not in (301, 302, 303, 307) or "location" not in hop.headers:
                break
            location = hop.headers["location"]
            headers = {"Accept": "application/json"}
            if location.startswith(public_url + "/"):
                headers["Cookie"] = f"{SESSION_COOKIE}={session_id}"
            hop = browser.get(location, headers=headers)
            if location.startswith(public_url + "/oauth/google/callback"):
                break
    if hop.status_code >= 400:
        raise RuntimeError(
            f"connecting the demo Gmail failed: HTTP {hop.status_code} {hop.text[:200]}"
        )
    accounts = httpx.get(public_url + "/api/v1/mail-accounts", headers=headers, timeout=30).json()
    if not accounts.get("items"):
        raise RuntimeError("connecting the demo Gmail stored no account")


@app.command("demo")
def demo(
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web UI.")] = 8000,
    messages: Annotated[int, typer.Option(help="Size of the generated demo mailbox.")] = 1500,
    new_mail_every: Annotated[
        float, typer.Option(help="Seconds between new demo emails (0 = none).")
    ] = 8.0,
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", help="The demo's own data directory (created, and cleared at each start)."
        ),
    ] = DEFAULT_DEMO_DIR,
) -> None:
    """Run the demo: embedded mode, Google emulator, demo tenant with Gmail connected."""
    from inboxcrm.logging_setup import configure_logging

    try:
        data_dir = prepare_demo_directory(directory)
    except DemoDirectoryRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(os.environ.get("INBOXCRM_LOG_LEVEL", "WARNING"))
    with ExitStack() as stack:
        failed = _run_demo(stack, data_dir, host, port, messages, new_mail_every)
    if failed:
        console.print(f"[red]demo set-up failed:[/red] {failed}")
        raise typer.Exit(1)


def _run_demo(
    stack: ExitStack, data_dir: Path, host: str, port: int, messages: int, new_mail_every: float
) -> str | None:
    """Start everything, registering each stop on ``stack`` as soon as it started.

    Returns why the set-up failed, or None after a normal stop (Ctrl-C).
    """
    import uvicorn

    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.domain.roles import Role
    from inboxcrm.emulator import EmulatorConfig, start_emulator
    from inboxcrm.jobs.embedded import start_embedded_jobs
    from inboxcrm.logging_setup import uvicorn_log_config
    from inboxcrm.services.demo_data import seed_demo_records
    from inboxcrm.services.identity import (
        Principal,
        create_api_token,
        create_session,
        create_user,
    )
    from inboxcrm.services.tenants import create_tenant, get_tenant
    from inboxcrm.web.app import create_app

    public_url = f"http://{host}:{port}"
    console.print(f"starting the Google API emulator with {messages} generated messages ...")
    emulator = start_emulator(
        EmulatorConfig(
            generate=messages,
            seed=7,
            auto_consent=DEMO_EMAIL,
            push_endpoint=public_url + "/hooks/gmail/push",
            push_audience=PUSH_AUDIENCE,
        )
    )
    stack.callback(emulator.stop)
    settings = Settings(
        data_dir=data_dir,
        database_url="",
        tenant_database_url="",
        broker_url="",
        google_api_base=emulator.url,
        google_oauth_base="",
        public_url=public_url,
        host=host,
        port=port,
        push_audience=PUSH_AUDIENCE,
        push_jwks_url=emulator.url + "/oauth2/v3/certs",
        poll_interval_seconds=60,
        quota_units_per_second=250.0,
    )
    runtime = build_runtime(settings)
    stack.callback(runtime.close)
    runtime.upgrade_control_plane()
    create_tenant(runtime, DEMO_TENANT, "Northwind Traders (demo)")
    user = create_user(
        runtime,
        tenant_slug=DEMO_TENANT,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        role="owner",
        display_name="Alex Demo",
    )
    tenant = get_tenant(runtime, DEMO_TENANT)
    principal = Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=Role.OWNER,
        via="token",
        mail_integration=True,
    )
    people = emulator.control.correspondents(DEMO_EMAIL)
    with runtime.tenant_uow(DEMO_TENANT) as uow:
        seeded = seed_demo_records(uow, principal, people)
    customers = [p for p in people if p.get("customer")]
    token = create_api_token(runtime, tenant_slug=DEMO_TENANT, email=DEMO_EMAIL, name="demo")
    session_id, _ = create_session(
        runtime, user.id, tenant.id, ip="127.0.0.1", user_agent="inboxcrm demo set-up"
    )

    jobs = start_embedded_jobs(settings)
    stack.callback(jobs.stop)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime),
            host=host,
            port=port,
            log_level="warning",
            log_config=uvicorn_log_config("WARNING"),
        )
    )
    ticker = _NewMailTicker(emulator.control, customers, new_mail_every)
    stack.callback(ticker.stopping.set)
    failure: list[str] = []

    def after_start() -> None:
        try:
            _wait_until_up(public_url)
            _connect_gmail(public_url, token, session_id)
        except Exception as exc:
            failure.append(str(exc) or type(exc).__name__)
            server.should_exit = True  # a half-started demo is no demo: stop it all
            return
        console.print(
            "\n[bold green]inboxcrm demo is running[/bold green]\n"
            f"  open      {public_url}\n"
            f"  log in    {DEMO_EMAIL}\n"
            f"  password  {DEMO_PASSWORD}\n"
            f"  API token {token}\n"
            f"  data      {seeded.accounts} accounts, {seeded.contacts} contacts, "
            f"{seeded.leads} leads, {seeded.deals} deals; Gmail connected, first sync running\n"
            f"  emulator  {emulator.url} (Google APIs; new customer mail every "
            f"{new_mail_every:g} s)\n"
            f"  files     {data_dir}\n"
            "  stop      Ctrl-C (the demo starts fresh next time)\n"
        )
        if new_mail_every > 0:
            ticker.start()

    threading.Thread(target=after_start, name="demo-setup", daemon=True).start()
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot listen (port taken)
        failure.append(f"the web server could not start on {host}:{port} (exit code {exc.code})")
    return failure[0] if failure else None
