"""Batch endpoint, per-user quota, fault injection and the fetch counters."""

from __future__ import annotations

import time
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from tests.emulator.conftest import HTTP, USER
from tests.emulator.test_gmail_messages import mime
from tests.fixtures.emulator import EmulatorHandle


def run_batch(
    emu: EmulatorHandle, requests: list[Any], uri: str = "/batch/gmail/v1"
) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def callback(request_id: str, response: Any, exception: Exception | None) -> None:
        results[request_id] = exception if exception is not None else response

    batch = BatchHttpRequest(callback=callback, batch_uri=emu.url + uri)
    for index, request in enumerate(requests):
        batch.add(request, request_id=str(index))
    batch.execute()
    return results


def test_batch_mixed_results_in_order_on_both_paths(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    ids = [emu.deliver(USER, mime(f"b{i}"))["id"] for i in range(3)]
    messages = gmail.users().messages()
    for uri in ("/batch/gmail/v1", "/batch"):
        results = run_batch(
            emu,
            [
                messages.get(userId="me", id=ids[0], format="metadata"),
                messages.get(userId="me", id="0badc0de"),
                messages.modify(userId="me", id=ids[1], body={"addLabelIds": ["STARRED"]}),
                gmail.users().labels().list(userId="me"),
            ],
            uri,
        )
        assert results["0"]["id"] == ids[0]
        assert isinstance(results["1"], HttpError)
        assert results["1"].resp.status == 404
        assert results["2"]["labelIds"][-1] == "STARRED"
        assert "labels" in results["3"]
    stats = emu.stats(USER)
    assert stats["calls"]["gmail.users.messages.get"] == 4
    assert stats["units"]["gmail.users.messages.modify"] == 10


def test_batch_limits_and_bare_lf(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, creds, _ = rep
    msg_id = emu.deliver(USER, mime("lf"))["id"]
    part = (
        "--b\nContent-Type: application/http\nContent-ID: <x+{n}>\n\n"
        "GET /gmail/v1/users/me/messages/{id}?format=minimal HTTP/1.1\n"
        "Authorization: Bearer {token}\n\n"
    )
    body = "".join(part.format(n=n, id=msg_id, token=creds.token) for n in range(2)) + "--b--\n"
    response = HTTP.post(
        emu.url + "/batch/gmail/v1",
        content=body,
        headers={"Content-Type": "multipart/mixed; boundary=b"},
    )
    assert response.status_code == 200
    assert response.text.count("HTTP/1.1 200 OK") == 2
    assert "Content-ID: <response-x+0>" in response.text
    assert response.text.index("response-x+0") < response.text.index("response-x+1")
    too_many = (
        "".join(part.format(n=n, id=msg_id, token=creds.token) for n in range(101)) + "--b--\n"
    )
    response = HTTP.post(
        emu.url + "/batch",
        content=too_many,
        headers={"Content-Type": "multipart/mixed; boundary=b"},
    )
    assert response.status_code == 400


def test_quota_429_direct_and_inside_a_200_batch(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    ids = [emu.deliver(USER, mime(f"q{i}"))["id"] for i in range(4)]
    emu.set_config(quota_units_per_s=0.2, quota_window_s=60)  # 12 units per minute
    messages = gmail.users().messages()
    results = run_batch(emu, [messages.get(userId="me", id=i, format="minimal") for i in ids])
    assert [isinstance(results[str(i)], HttpError) for i in range(4)] == [False, False, True, True]
    assert results["2"].resp.status == 429
    assert b"rateLimitExceeded" in results["2"].content
    gmail.users().getProfile(userId="me").execute()  # 1 unit still fits
    with pytest.raises(HttpError) as err:
        messages.list(userId="me").execute()
    assert err.value.resp.status == 429
    emu.set_config(quota_error_status=403)
    with pytest.raises(HttpError) as err:
        messages.list(userId="me").execute()
    assert err.value.resp.status == 403
    assert b"userRateLimitExceeded" in err.value.content
    stats = emu.stats(USER)
    assert stats["total_units"] == 11
    assert stats["rate_limited"]["gmail.users.messages.get"] == 2
    emu.reset_counters()
    assert emu.stats(USER)["total_units"] == 0
    gmail.users().messages().list(userId="me").execute()  # meter reset too


def test_fault_injection_statuses_drops_and_latency(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, creds, gmail = rep
    emu.set_config(fault_rate=1.0, fault_statuses=[503], fault_seed=7)
    with pytest.raises(HttpError) as err:
        gmail.users().getProfile(userId="me").execute()
    assert err.value.resp.status == 503
    emu.set_config(fault_rate=0.5, fault_statuses=[500])
    outcomes = []
    for _ in range(30):
        try:
            gmail.users().getProfile(userId="me").execute()
            outcomes.append(200)
        except HttpError as exc:
            outcomes.append(exc.resp.status)
    assert set(outcomes) == {200, 500}
    assert gmail.users().getProfile(userId="me").execute(num_retries=20)["emailAddress"] == USER
    emu.set_config(fault_rate=0.0, drop_rate=1.0)
    raw = httplib2.Http(timeout=5)
    with pytest.raises((httplib2.HttpLib2Error, ConnectionError, OSError)):
        raw.request(
            emu.url + "/gmail/v1/users/me/profile",
            headers={"Authorization": f"Bearer {creds.token}"},
        )
    emu.set_config(drop_rate=0.0, latency_ms=30)
    gmail.users().getProfile(userId="me").execute()
    assert emu.stats(USER)["faults"]["gmail.users.getProfile"] >= 2


def test_fetched_counters_distinguish_body_fetches(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    matched = emu.deliver(USER, mime("customer mail", sender="buyer@customer.example"))["id"]
    other = emu.deliver(USER, mime("newsletter", sender="news@shop.example"))["id"]
    messages = gmail.users().messages()
    found = messages.list(userId="me", q="from:buyer@customer.example").execute()["messages"]
    assert [m["id"] for m in found] == [matched]
    run_batch(
        emu,
        [
            messages.get(userId="me", id=matched, format="raw"),
            messages.get(userId="me", id=other, format="metadata"),
        ],
    )
    fetched = emu.fetched(USER)
    assert fetched["body_fetched"] == [matched]
    assert fetched["messages"][other] == ["metadata"]
    emu.reset_counters(USER)
    assert emu.fetched(USER)["messages"] == {}


@pytest.mark.parametrize("parallel", [False, True])
def test_batch_latency_adds_up_per_part_unless_parts_run_in_parallel(
    rep: tuple[EmulatorHandle, Any, Any], monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """With ``batch_parts_parallel`` a batch of five waits its slowest part once; without, each
    part waits its own latency in turn (the sleeps are recorded, not timed)."""
    import inboxcrm.emulator.api_pipeline as pipeline
    import inboxcrm.emulator.batch as batch_module

    emu, _, gmail = rep
    ids = [emu.deliver(USER, mime(f"lat{i}"))["id"] for i in range(5)]
    latency_s = 0.0173  # distinctive: no other sleep of the process waits exactly this long
    waited: list[float] = []
    real_sleep = time.sleep

    def recording_sleep(seconds: float) -> None:
        if abs(seconds - latency_s) < 1e-9:
            waited.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(pipeline.time, "sleep", recording_sleep)
    monkeypatch.setattr(batch_module.time, "sleep", recording_sleep)
    emu.set_config(latency_ms=latency_s * 1000, batch_parts_parallel=parallel)
    try:
        messages = gmail.users().messages()
        results = run_batch(emu, [messages.get(userId="me", id=i, format="minimal") for i in ids])
    finally:
        emu.set_config(latency_ms=0.0, batch_parts_parallel=False)
    assert sorted(r["id"] for r in results.values()) == sorted(ids)
    assert len(waited) == (1 if parallel else 5)
