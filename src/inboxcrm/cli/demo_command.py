"""``inboxcrm demo``: the whole product on one machine, with a Google emulator as its Gmail.

It starts fresh every time: SQLite databases under ``var/demo`` (or INBOXCRM_DATA_DIR), the
embedded job worker, the Google API emulator with a generated mailbox, a demo tenant and user,
CRM records for the mailbox's customers, the user's Gmail connected through the real OAuth flow,
and new customer mail arriving every few seconds, which reaches the timelines through push.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
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

_SUBJECTS = (
    "Question about our renewal",
    "Can we move Thursday's call?",
    "Invoice for October",
    "Feedback on the proposal",
    "Quick intro: our new procurement lead",
    "Re: pricing for 50 seats",
)
_BODIES = (
    "Hi Alex,\n\nCould you send over the updated quote? We would like to decide this week."
    "\n\nThanks,\n{name}",
    "Hello Alex,\n\nThe team reviewed the proposal and has two questions on onboarding."
    "\n\nBest,\n{name}",
    "Hi,\n\nJust checking in on the status of our request. Any news?\n\nCheers,\n{name}",
)


def _demo_message(sender: dict[str, Any], rng: random.Random) -> bytes:
    message = EmailMessage()
    message["From"] = f"{sender.get('name') or sender['email']} <{sender['email']}>"
    message["To"] = DEMO_EMAIL
    message["Subject"] = rng.choice(_SUBJECTS)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender["email"].split("@", 1)[1])
    message.set_content(rng.choice(_BODIES).format(name=sender.get("name") or "me"))
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
) -> None:
    """Run the demo: embedded mode, Google emulator, demo tenant with Gmail connected."""
    import uvicorn

    from inboxcrm.bootstrap import build_runtime
    from inboxcrm.config import Settings
    from inboxcrm.domain.roles import Role
    from inboxcrm.emulator import EmulatorConfig, start_emulator
    from inboxcrm.jobs.embedded import start_embedded_jobs
    from inboxcrm.logging_setup import configure_logging, uvicorn_log_config
    from inboxcrm.services.demo_data import seed_demo_records
    from inboxcrm.services.identity import (
        Principal,
        create_api_token,
        create_session,
        create_user,
    )
    from inboxcrm.services.tenants import create_tenant, get_tenant
    from inboxcrm.web.app import create_app

    data_dir = Path(os.environ.get("INBOXCRM_DATA_DIR", "var/demo")).resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    public_url = f"http://{host}:{port}"
    configure_logging(os.environ.get("INBOXCRM_LOG_LEVEL", "WARNING"))

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

    def after_start() -> None:
        try:
            _wait_until_up(public_url)
            _connect_gmail(public_url, token, session_id)
        except Exception as exc:
            console.print(f"[red]demo set-up failed:[/red] {exc}")
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
            "  stop      Ctrl-C (the demo starts fresh next time)\n"
        )
        if new_mail_every > 0:
            ticker.start()

    threading.Thread(target=after_start, name="demo-setup", daemon=True).start()
    try:
        server.run()
    finally:
        ticker.stopping.set()
        jobs.stop()
        emulator.stop()
        runtime.close()
