"""history.list, watch/stop and Pub/Sub-style push delivery with an OIDC JWT."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import id_token
from googleapiclient.errors import HttpError

from tests.emulator.conftest import USER
from tests.emulator.test_gmail_messages import mime
from tests.fixtures.emulator import EmulatorHandle


def history(gmail: Any, start: str, **kwargs: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    token = None
    while True:
        page = (
            gmail.users()
            .history()
            .list(userId="me", startHistoryId=start, pageToken=token, **kwargs)
            .execute()
        )
        entries += page.get("history", [])
        token = page.get("nextPageToken")
        if not token:
            return entries


def test_history_types_labels_pagination_and_expiry(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    assert gmail.users().history().list(userId="me", startHistoryId=start).execute() == {
        "historyId": start
    }
    ids = [emu.deliver(USER, mime(f"h{i}"))["id"] for i in range(5)]
    gmail.users().messages().modify(
        userId="me", id=ids[0], body={"removeLabelIds": ["UNREAD"]}
    ).execute()
    entries = history(gmail, start, maxResults=2)
    assert len(entries) == 6
    numbers = [int(e["id"]) for e in entries]
    assert numbers == sorted(numbers)
    assert any(b - a > 1 for a, b in itertools.pairwise(numbers))
    added = history(gmail, start, historyTypes=["messageAdded"])
    assert [e["messagesAdded"][0]["message"]["id"] for e in added] == ids
    removed = history(gmail, start, historyTypes=["labelRemoved"])
    assert removed[0]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert removed[0]["labelsRemoved"][0]["message"]["id"] == ids[0]
    assert len(history(gmail, start, labelId="UNREAD")) == 6
    latest = gmail.users().getProfile(userId="me").execute()["historyId"]
    emu.expire_history(USER)
    with pytest.raises(HttpError) as err:
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert err.value.resp.status == 404
    assert b"Requested entity was not found." in err.value.content
    assert (
        gmail.users().history().list(userId="me", startHistoryId=latest).execute()["historyId"]
        == latest
    )
    emu.deliver(USER, mime("after expiry"))
    assert len(history(gmail, latest)) == 1
    assert emu.stats(USER)["units"]["gmail.users.history.list"] % 2 == 0


class PushSink:
    """A local HTTP endpoint recording push requests; answers the queued statuses, then 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str]] = []
        self.statuses: list[int] = []
        self.event = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.received.append((json.loads(body), self.headers.get("Authorization", "")))
                status = sink.statuses.pop(0) if sink.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sink.event.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gmail/push"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        assert len(self.received) >= count, f"only {len(self.received)} push requests arrived"


@pytest.fixture
def sink() -> Iterator[PushSink]:
    server = PushSink()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_watch_push_with_verifiable_jwt_and_retry(
    rep: tuple[EmulatorHandle, Any, Any], sink: PushSink
) -> None:
    emu, _, gmail = rep
    emu.set_config(push_endpoint=sink.url, push_audience="inboxcrm-push", push_min_interval_s=0.2)
    with pytest.raises(HttpError):
        gmail.users().watch(userId="me", body={"topicName": "bad"}).execute()
    watch = (
        gmail.users()
        .watch(userId="me", body={"topicName": "projects/p/topics/gmail", "labelIds": ["INBOX"]})
        .execute()
    )
    assert int(watch["expiration"]) - emu.now_ms() == pytest.approx(7 * 86_400_000, abs=60_000)
    sink.statuses = [500]  # first delivery fails and is retried
    delivered = emu.deliver(USER, mime("push me"))
    sink.wait_for(2)
    for body, auth in sink.received[:2]:
        assert body["subscription"].startswith("projects/emulator/subscriptions/")
        data = json.loads(base64.b64decode(body["message"]["data"]))
        assert data == {"emailAddress": USER, "historyId": int(delivered["historyId"])}
        assert body["message"]["messageId"]
        assert body["message"]["attributes"] == {}
        claims = id_token.verify_token(
            auth.removeprefix("Bearer "), GoogleRequest(), "inboxcrm-push",
            certs_url=emu.url + "/oauth2/v3/certs",
        )  # fmt: skip
        assert claims["iss"] == "https://accounts.google.com"
        assert claims["email_verified"] is True
        assert claims["email"].endswith("gserviceaccount.com")
    assert [d["status"] for d in emu.pushes(USER)][:2] == [500, 204]
    # a change the label filter excludes: no notification
    emu.deliver(USER, mime("sent copy"), ["SENT"])
    gmail.users().stop(userId="me").execute()
    emu.deliver(USER, mime("after stop"))
    time.sleep(0.5)
    assert len(sink.received) == 2
