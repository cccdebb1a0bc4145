"""Secrets canaries: unique passwords, tokens and a mail body pushed through success and error
paths, then every place a secret could leak is scanned for them. Expected hits: zero.

Scanned: the production log output (``configure_logging`` at DEBUG, the very handler and
filters ``inboxcrm serve`` installs, so the redaction filter is part of what is tested), every
Celery message published (``before_task_publish``: body and headers), the Celery results, and
every key of the Redis database the broker, result backend and quota buckets use.

The canaries: the user's password (right and wrong), the API token (valid and a forged one),
the Google access and refresh tokens the emulator issued, an OAuth code and state sent to the
callback, a bearer JWT sent to the push hook, and a marker inside a customer email's body that
the Celery worker syncs from the emulator into the tenant database (where it belongs).
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.signals import before_task_publish
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.logging_setup import configure_logging
from inboxcrm.services.identity import create_api_token, create_user
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import Member
from tests.integration.mail_accounts.conftest import (
    GmailConnector,
    account_row,
    plaintext_tokens,
)
from tests.integration.sync.conftest import (
    celery_runtime,
    celery_worker,
    customer_mail,
    unique_prefix,
    wait_for,
)
from tests.integration.ui.ui_session import login_form_token

pytestmark = [pytest.mark.redis]
OWNER = "canary.rep@canary-sales.example"
CUSTOMER = "buyer@canary-customer.example"


@pytest.fixture
def key_prefix() -> str:
    return unique_prefix()


@pytest.fixture
def settings(settings: Settings, redis_server_url: str) -> Settings:
    return settings.model_copy(
        update={
            "broker_url": redis_server_url,
            "result_backend_url": redis_server_url,
            "redis_url": redis_server_url,
            "quota_units_per_second": 2000.0,
            "sync_lookback_days": 3650,
        }
    )


@pytest.fixture
def runtime(settings: Settings, key_prefix: str) -> Iterator[Runtime]:
    rt = celery_runtime(settings, key_prefix)
    try:
        yield rt
    finally:
        rt.close()


class ProductionLog:
    """The process's log output as ``inboxcrm serve`` configures it, at DEBUG, into a buffer.

    A Celery worker starting up reconfigures the root logger, so :meth:`install` is called
    again once it runs.
    """

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def install(self) -> None:
        configure_logging("DEBUG")
        root = logging.getLogger()
        handler = next(h for h in root.handlers if getattr(h, "_inboxcrm", False))
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(self.stream)

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def production_log() -> Iterator[ProductionLog]:
    root = logging.getLogger()
    before_level = root.level
    log = ProductionLog()
    log.install()
    try:
        yield log
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_inboxcrm", False):
                root.removeHandler(handler)
        root.setLevel(before_level)


@pytest.fixture
def published() -> Iterator[list[str]]:
    """Every Celery message published meanwhile (headers and body, as text)."""
    seen: list[str] = []

    def record(body: Any = None, headers: Any = None, **_: Any) -> None:
        seen.append(repr(headers) + repr(body))

    before_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        before_task_publish.disconnect(record)


def _redis_dump(url: str) -> bytes:
    client = redis.Redis.from_url(url)
    chunks: list[bytes] = []
    try:
        for n, key in enumerate(client.scan_iter(count=500)):
            if n > 200_000:
                break
            kind = client.type(key)
            if kind == b"string":
                chunks.append(client.get(key) or b"")
            elif kind == b"list":
                chunks.extend(client.lrange(key, 0, -1))
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    chunks.extend((field, value))
            elif kind == b"set":
                chunks.extend(client.smembers(key))
            elif kind == b"zset":
                chunks.extend(client.zrange(key, 0, -1))
            chunks.append(key)
    finally:
        client.close()
    return b"\n".join(chunks)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_no_canary_reaches_logs_celery_or_redis(
    runtime: Runtime,
    settings: Settings,
    key_prefix: str,
    emulator: EmulatorHandle,
    client: TestClient,
    gmail: GmailConnector,
    redis_server_url: str,
    production_log: ProductionLog,
    published: list[str],
) -> None:
    tag = uuid.uuid4().hex[:12]
    password = f"CanaryPass-{tag}-ok"
    wrong_password = f"CanaryPass-{tag}-wrong"
    body_marker = f"canarybody{tag}"
    forged_token = f"icrm_canaryforged{tag}"
    oauth_code = f"4/canarycode{tag}"
    oauth_state = f"canarystate{tag}"
    push_jwt = f"eyJcanaryjwt{tag}.e30.sig"

    create_tenant(runtime, "acme")
    create_user(runtime, tenant_slug="acme", email=OWNER, password=password, role="rep")
    token = create_api_token(runtime, tenant_slug="acme", email=OWNER)
    member = Member(tenant="acme", email=OWNER, role="rep", token=token, password=password)
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, last_name="Buyer", emails=[CUSTOMER])
    emulator.create_user(OWNER)
    emulator.deliver(
        OWNER, customer_mail(CUSTOMER, OWNER, "Canary order", body=f"Order {body_marker} now")
    )

    with celery_worker(settings, runtime, key_prefix):
        production_log.install()
        # Success paths: sign in with the password, use the token, connect Gmail (the first
        # full sync runs on the Celery worker and stores the body).
        form = login_form_token(client)
        signed_in = client.post(
            "/login",
            data={"email": OWNER, "password": password, "csrf_token": form},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        client.cookies.clear()
        assert client.get("/api/v1/me", headers=member.headers).status_code == 200
        account_id = gmail.connect(member, OWNER)["account"]["id"]

        def stored() -> bool:
            with runtime.tenant_uow("acme") as uow:
                bodies = uow.session.scalars(select(EmailMessageRow.body_text))
                return any(body_marker in (b or "") for b in bodies)

        wait_for(stored, what="the canary mail synced by the worker")
        assert client.post(f"/api/v1/mail-accounts/{account_id}/sync", headers=member.headers)
        # Error paths.
        form = login_form_token(client)
        client.post("/login", data={"email": OWNER, "password": wrong_password, "csrf_token": form})
        assert (
            client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {forged_token}"}
            ).status_code
            == 401
        )
        client.get(f"/oauth/google/callback?state={oauth_state}&code={oauth_code}")
        client.post(
            "/hooks/gmail/push",
            content=b"{}",
            headers={"Authorization": f"Bearer {push_jwt}", "Content-Type": "application/json"},
        )
        client.post(
            "/api/v1/notes",
            json={"record_kind": "contact", "record_id": 99999, "body": body_marker},
            headers=member.headers,
        )
        client.post(
            "/api/v1/contacts", json={"last_name": body_marker * 80}, headers=member.headers
        )

    access, refresh = plaintext_tokens(runtime, account_row(runtime, "acme", account_id))
    assert access and refresh
    canaries = {
        "password": password,
        "wrong password": wrong_password,
        "api token": token,
        "forged api token": forged_token,
        "google access token": access,
        "google refresh token": refresh,
        "oauth code": oauth_code,
        "oauth state": oauth_state,
        "push jwt": push_jwt,
        "mail body": body_marker,
    }
    logs = production_log.text()
    messages = "\n".join(published)
    cache = _redis_dump(redis_server_url)
    assert len(logs) > 1000 and "mail account" in logs  # the log really was captured
    assert any("sync_account" in m for m in published), published[:3]  # and Celery messages
    found = {
        (name, where)
        for name, value in canaries.items()
        for where, text in (("logs", logs), ("celery messages", messages))
        if value in text
    } | {(name, "redis") for name, value in canaries.items() if value.encode() in cache}
    print(f"\nsecrets canaries: {len(canaries)} canaries, {len(found)} found")
    assert found == set()
