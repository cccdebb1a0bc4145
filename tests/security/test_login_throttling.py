"""Defect 4: sign-ins, API tokens and OAuth states are throttled with backoff and lockout.

Before the fix 50 wrong passwords in 53 s were all answered 401 and the right one worked at
once. Now, per submitted account: 5 free failures, then a lock of 30 s, doubling after each
further failure once a lock expires (up to 15 min); per client IP a looser bound; a locked key
gets 429 with ``Retry-After`` before its secret is looked at, and unknown accounts are
answered exactly like known ones. Lock expiry is simulated by moving ``locked_until`` in the
database, never by waiting.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from inboxcrm.adapters.db.throttle_tables import AuthThrottleRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.auth_throttle import POLICIES
from tests.fixtures.web import Member, TenantFactory
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.ui.ui_session import login_form_token

FREE = POLICIES["account"].free_failures


def _login(client: TestClient, email: str, password: str) -> tuple[int, str, str | None]:
    token = login_form_token(client)
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return answer.status_code, answer.text, answer.headers.get("retry-after")


def _expire_locks(runtime: Runtime) -> None:
    with runtime.control_uow() as uow:
        uow.session.execute(
            update(AuthThrottleRow)
            .where(AuthThrottleRow.locked_until.is_not(None))
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()


def _lock_seconds(runtime: Runtime, scope: str) -> list[float]:
    with runtime.control_uow() as uow:
        rows = list(
            uow.session.scalars(select(AuthThrottleRow).where(AuthThrottleRow.scope == scope))
        )
    now = utcnow()
    return [(r.locked_until - now).total_seconds() for r in rows if r.locked_until is not None]


@pytest.fixture
def rep(tenants: TenantFactory) -> Member:
    return tenants.member("acme", "rep")


def test_wrong_passwords_lock_the_account_and_the_right_one_waits(
    client: TestClient, runtime: Runtime, rep: Member, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(FREE):
        assert _login(client, rep.email, "wrong-password")[0] == 401
    with caplog.at_level(logging.WARNING, logger="inboxcrm.services.auth_throttle"):
        assert _login(client, rep.email, "wrong-password")[0] == 401  # this one locks
    assert any("auth lockout" in r.getMessage() for r in caplog.records)
    assert rep.email not in caplog.text  # the log names the key's hash, never the address
    lockouts = audit_entries(runtime, None, "auth.lockout")  # the control plane's audit log
    assert [(e.outcome, e.target.split(":")[0]) for e in lockouts if e.target] == [
        ("denied", "account")
    ]
    assert all(rep.email not in str(e.details) + str(e.target) for e in lockouts)

    status, page, retry_after = _login(client, rep.email, rep.password)
    assert status == 429 and retry_after is not None and 1 <= int(retry_after) <= 30
    assert "Too many sign-in attempts" in page
    assert 25 <= max(_lock_seconds(runtime, "account")) <= 30

    _expire_locks(runtime)
    assert _login(client, rep.email, rep.password)[0] == 303  # lock over: the right one works
    assert _lock_seconds(runtime, "account") == []  # and success cleared the account's count


def test_backoff_doubles_after_each_further_failure(
    client: TestClient, runtime: Runtime, rep: Member
) -> None:
    for _ in range(FREE + 1):
        _login(client, rep.email, "wrong-password")
    locks = [max(_lock_seconds(runtime, "account"))]
    for _ in range(3):
        _expire_locks(runtime)
        assert _login(client, rep.email, "wrong-password")[0] == 401
        locks.append(max(_lock_seconds(runtime, "account")))
    assert [round(s / 30) for s in locks] == [1, 2, 4, 8]
    assert _login(client, rep.email, rep.password)[0] == 429


def test_unknown_and_known_accounts_get_the_same_answers(
    client: TestClient, runtime: Runtime, rep: Member
) -> None:
    ghost = "nobody-here@acme.example.com"
    known = [_login(client, rep.email, "wrong-password")[0] for _ in range(FREE + 2)]
    unknown = [_login(client, ghost, "wrong-password")[0] for _ in range(FREE + 2)]
    assert known == unknown == [401] * (FREE + 1) + [429]
    known_page = _login(client, rep.email, "x")[1].replace(rep.email, "EMAIL")
    unknown_page = _login(client, ghost, "x")[1].replace(ghost, "EMAIL")

    def shape(page: str) -> str:
        return re.sub(r"\d+ seconds", "N seconds", page.split("csrf_token")[0])

    assert shape(known_page) == shape(unknown_page)


def test_many_accounts_from_one_ip_lock_the_ip(
    client: TestClient, runtime: Runtime, rep: Member
) -> None:
    ip_free = POLICIES["login_ip"].free_failures
    for n in range(ip_free + 1):  # a different account each time: no account lock
        assert _login(client, f"spray{n}@acme.example.com", "wrong-password")[0] == 401
    status, _, retry_after = _login(client, rep.email, rep.password)
    assert status == 429 and retry_after is not None


def test_wrong_api_tokens_lock_the_ip_with_retry_after(
    client: TestClient, runtime: Runtime, rep: Member
) -> None:
    free = POLICIES["token_ip"].free_failures
    for n in range(free):
        bad = {"Authorization": f"Bearer icrm_guess{n:04d}"}
        assert client.get("/api/v1/me", headers=bad).status_code == 401
    locked = client.get("/api/v1/me", headers={"Authorization": "Bearer icrm_guess-last"})
    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert locked.json()["code"] == "too_many_attempts"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    again = client.get("/api/v1/me", headers={"Authorization": "Bearer icrm_guess-again"})
    assert again.status_code == 429  # refused before the token is even looked up


def test_guessed_oauth_states_lock_the_ip(client: TestClient, runtime: Runtime) -> None:
    free = POLICIES["oauth_ip"].free_failures
    json = {"Accept": "application/json"}
    for n in range(free):
        answer = client.get(f"/oauth/google/callback?state=guess{n}&code=c", headers=json)
        assert answer.status_code == 400
    locked = client.get("/oauth/google/callback?state=guess-last&code=c", headers=json)
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) >= 1
    page = client.get("/oauth/google/callback?state=another&code=c")
    assert page.status_code == 429 and "Retry-After" in page.headers
