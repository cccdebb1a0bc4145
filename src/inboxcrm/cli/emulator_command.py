"""``inboxcrm emulator``: run the local Google API emulator (see inboxcrm.emulator)."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxcrm.cli import app


@app.command("emulator")
def emulator(
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    mailbox: Annotated[
        list[str] | None,
        typer.Option(help="Directory of .eml files or an mbox file to load (repeatable)."),
    ] = None,
    generate: Annotated[int, typer.Option(help="Generate N messages into the user's mailbox.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the mailbox generator and faults.")] = 0,
    customer_fraction: Annotated[
        float, typer.Option(help="Fraction of generated correspondents that are customers.")
    ] = 0.2,
    auto_consent: Annotated[
        str | None, typer.Option(help="Approve every OAuth consent as this account.")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Mailbox owner for --mailbox/--generate.")
    ] = None,
    quota_units_per_s: Annotated[
        float | None, typer.Option(help="Per-user quota (Google units/s); unlimited if unset.")
    ] = None,
    quota_units_per_minute: Annotated[
        float | None, typer.Option(help="Per-user quota (Google units/minute); unlimited if unset.")
    ] = None,
    project_quota_units_per_minute: Annotated[
        float | None,
        typer.Option(help="Project-wide quota over all users (units/minute); unlimited if unset."),
    ] = None,
    max_concurrent_per_user: Annotated[
        int | None,
        typer.Option(help="Calls of one user processed at once (batch parts count one by one)."),
    ] = None,
    fault_rate: Annotated[
        float, typer.Option(help="Share of API calls answered 429/500/503.")
    ] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency per API call (ms).")] = 0.0,
    push_endpoint: Annotated[
        str | None, typer.Option(help="URL receiving Pub/Sub push requests of every topic.")
    ] = None,
    push_audience: Annotated[
        str | None, typer.Option(help="Audience of the push JWT (default: the endpoint URL).")
    ] = None,
    client: Annotated[
        list[str] | None,
        typer.Option(help="Registered OAuth client ID:SECRET (repeatable); any if none."),
    ] = None,
    state: Annotated[
        str | None, typer.Option(help="State file: loaded at start, saved at stop.")
    ] = None,
    access_token_ttl: Annotated[int, typer.Option(help="Access-token lifetime (s).")] = 3599,
) -> None:
    """Run the local Google API emulator (OAuth, Gmail, People, Calendar) until interrupted."""
    import logging
    import signal

    from inboxcrm.emulator import EmulatorConfig, start_emulator

    clients: list[tuple[str, str]] = []
    for item in client or []:
        client_id, sep, secret = item.partition(":")
        if not sep or not client_id:
            raise typer.BadParameter(f"--client expects ID:SECRET, got {item!r}")
        clients.append((client_id, secret))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = EmulatorConfig(
        host=host,
        port=port,
        mailboxes=tuple(mailbox or ()),
        generate=generate,
        seed=seed,
        customer_fraction=customer_fraction,
        auto_consent=auto_consent,
        user=user,
        quota_units_per_s=quota_units_per_s,
        quota_units_per_minute=quota_units_per_minute,
        project_quota_units_per_minute=project_quota_units_per_minute,
        max_concurrent_per_user=max_concurrent_per_user,
        fault_rate=fault_rate,
        latency_ms=latency_ms,
        push_endpoint=push_endpoint,
        push_audience=push_audience,
        clients=tuple(clients),
        state_file=state,
        access_token_ttl_s=access_token_ttl,
        fault_seed=seed if fault_rate else None,
    )
    running = start_emulator(config)
    typer.echo(running.url, color=False)

    def _stop(signum: int, frame: object) -> None:
        running.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    running.wait()
