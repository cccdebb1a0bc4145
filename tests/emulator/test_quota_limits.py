"""The emulator's per-minute, project-wide and per-user concurrency limits."""

from __future__ import annotations

from typing import Any

from googleapiclient.errors import HttpError

from tests.emulator.conftest import gmail_service
from tests.emulator.test_batch_quota_faults import run_batch
from tests.emulator.test_gmail_messages import mime
from tests.fixtures.emulator import EmulatorHandle

USER = "rep@acme.example"
OTHER = "other@acme.example"


def _profile_calls(gmail: Any, count: int) -> list[Exception | None]:
    outcomes: list[Exception | None] = []
    for _ in range(count):
        try:
            gmail.users().getProfile(userId="me").execute()
            outcomes.append(None)
        except HttpError as exc:
            outcomes.append(exc)
    return outcomes


def test_per_minute_limit_refuses_with_retry_after(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    gmail = gmail_service(emulator, emulator.credentials(USER))
    emulator.set_config(quota_units_per_minute=3, quota_minute_s=600)
    outcomes = _profile_calls(gmail, 5)  # getProfile costs 1 unit
    assert outcomes[:3] == [None, None, None]
    refused = outcomes[3]
    assert isinstance(refused, HttpError) and refused.resp.status == 429
    assert b"rateLimitExceeded" in refused.content and b"per minute per user" in refused.content
    assert int(refused.resp["retry-after"]) >= 1
    assert emulator.stats(USER)["rate_limited"]["gmail.users.getProfile"] == 2


def test_project_wide_limit_counts_every_user(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    emulator.create_user(OTHER)
    first = gmail_service(emulator, emulator.credentials(USER))
    second = gmail_service(emulator, emulator.credentials(OTHER))
    emulator.set_config(project_quota_units_per_minute=4, quota_minute_s=600)
    assert _profile_calls(first, 3) == [None, None, None]
    outcomes = _profile_calls(second, 2)
    assert outcomes[0] is None
    refused = outcomes[1]
    assert isinstance(refused, HttpError) and refused.resp.status == 429
    assert b"'Queries per minute'" in refused.content


def test_concurrency_limit_refuses_the_batch_parts_beyond_it(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    gmail = gmail_service(emulator, emulator.credentials(USER))
    ids = [emulator.deliver(USER, mime(f"c{i}"))["id"] for i in range(6)]
    emulator.set_config(max_concurrent_per_user=4)
    messages = gmail.users().messages()
    results = run_batch(emulator, [messages.get(userId="me", id=i, format="minimal") for i in ids])
    answered = [k for k, v in results.items() if not isinstance(v, Exception)]
    refused = [v for v in results.values() if isinstance(v, HttpError)]
    assert sorted(answered) == ["0", "1", "2", "3"]
    assert len(refused) == 2 and all(e.resp.status == 429 for e in refused)
    assert all(b"Too many concurrent requests for user" in e.content for e in refused)
    # The batch is over: its parts no longer count, so the next calls go through.
    assert _profile_calls(gmail, 2) == [None, None]
