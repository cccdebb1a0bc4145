"""Open/click tracking end to end: a tracked message carries a pixel and rewritten links, the
endpoints answer without the tenant database, human events reach the counters and the record's
timeline, proxies and scanners are labelled and not counted."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient

from inboxcrm.services.tracking_links import TrackingSigner
from inboxcrm.web.tracking_routes import PIXEL_GIF
from tests.integration.sending.conftest import Mailroom

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def _tracked(mailroom: Mailroom) -> tuple[dict[str, Any], str, list[str]]:
    sent = mailroom.send(
        track=True,
        subject="Unser Angebot",
        body_text="Das Angebot: https://docs.example/angebot?id=7&x=ü. Fragen? https://help.example/",
    ).json()
    assert sent["status"] == "sent" and sent["track"] is True
    raw = mailroom.raw_of(sent["provider_message_id"])
    html = raw.get_body(preferencelist=("html",))
    text = raw.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    pixels = re.findall(r'src="http://crm\.test\.example(/t/o/[^"]+)"', html.get_content())
    assert len(pixels) == 1
    clicks = re.findall(r'href="http://crm\.test\.example(/t/c/[^"]+)"', html.get_content())
    assert len(clicks) == 2
    assert 'href="https://docs.example' not in html.get_content()
    assert "https://docs.example" not in text.get_content()
    assert text.get_content().count("http://crm.test.example/t/c/") == 2
    return sent, pixels[0], clicks


def _flush(client: TestClient) -> None:
    client.app.state.tracking_recorder.flush()  # type: ignore[attr-defined]


def _message(mailroom: Mailroom, message_id: int) -> dict[str, Any]:
    response = mailroom.client.get(
        f"/api/v1/messages/{message_id}", headers=mailroom.member.headers
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_pixel_and_links_of_a_tracked_message(mailroom: Mailroom) -> None:
    sent, pixel, clicks = _tracked(mailroom)
    client = mailroom.client
    opened = client.get(pixel, headers={"User-Agent": CHROME})
    assert opened.status_code == 200 and opened.content == PIXEL_GIF
    assert opened.headers["content-type"] == "image/gif"
    assert "no-store" in opened.headers["cache-control"]
    client.get(pixel, headers={"User-Agent": PROXY})
    followed = client.get(clicks[0], headers={"User-Agent": CHROME}, follow_redirects=False)
    assert followed.status_code == 302
    assert followed.headers["location"] == "https://docs.example/angebot?id=7&x=%C3%BC"
    head = client.head(clicks[1], headers={"User-Agent": CHROME}, follow_redirects=False)
    assert head.status_code == 302
    _flush(client)

    message = _message(mailroom, sent["id"])
    assert message["opens"] == 1 and message["tracking"]["proxy_opens"] == 1
    # Clicked seconds after sending (and a HEAD): what link scanners do on delivery.
    assert message["clicks"] == 0 and message["tracking"]["scanner_clicks"] == 2
    opened_items = [i for i in mailroom.timeline() if i["kind"] == "email_opened"]
    assert len(opened_items) == 1
    assert opened_items[0]["summary"] == "Opened by joerg@kunde.example: Unser Angebot"


def test_a_human_click_counts_once_per_minute_and_lands_on_the_timeline(
    mailroom: Mailroom,
) -> None:
    sent, _, _ = _tracked(mailroom)
    signer: TrackingSigner = mailroom.runtime.extras["tracking_signer"]
    an_hour_ago = int(time.time()) - 3600
    token = signer.click_token(
        "acme", sent["id"], "joerg@kunde.example", an_hour_ago, 0, "https://docs.example/a"
    )
    for _ in range(3):
        response = mailroom.client.get(
            f"/t/c/{token}", headers={"User-Agent": CHROME}, follow_redirects=False
        )
        assert response.headers["location"] == "https://docs.example/a"
    _flush(mailroom.client)
    message = _message(mailroom, sent["id"])
    # Three clicks within a second: one event (two only if a minute boundary fell between).
    assert message["clicks"] in (1, 2)
    clicked = [i for i in mailroom.timeline() if i["kind"] == "email_clicked"]
    assert len(clicked) == message["clicks"]
    assert "https://docs.example/a" in clicked[0]["summary"]


def test_tokens_for_unknown_messages_or_unsent_ones_record_nothing(mailroom: Mailroom) -> None:
    signer: TrackingSigner = mailroom.runtime.extras["tracking_signer"]
    old = int(time.time()) - 3600
    unknown = signer.open_token("acme", 999_999, "joerg@kunde.example", old)
    gone_tenant = signer.open_token("no-such-tenant", 1, "joerg@kunde.example", old)
    for token in (unknown, gone_tenant, "garbage", ""):
        response = mailroom.client.get(f"/t/o/{token}", headers={"User-Agent": CHROME})
        assert response.status_code == 200 and response.content == PIXEL_GIF
    _flush(mailroom.client)
    assert [i for i in mailroom.timeline() if i["kind"] == "email_opened"] == []


def test_untracked_messages_have_no_pixel_or_rewritten_links(mailroom: Mailroom) -> None:
    sent = mailroom.send(body_text="See https://docs.example/x").json()
    assert sent["track"] is False
    raw = mailroom.raw_of(sent["provider_message_id"])
    assert raw.get_body(preferencelist=("html",)) is None
    text = raw.get_body(preferencelist=("plain",))
    assert text is not None and "https://docs.example/x" in text.get_content()
    assert "/t/" not in raw.as_string()


def test_the_tracking_default_is_off_and_follows_the_users_setting(mailroom: Mailroom) -> None:
    assert mailroom.send().json()["track"] is False
    from inboxcrm.services.identity import resolve_api_token
    from inboxcrm.services.sending import set_sending_default

    principal = resolve_api_token(mailroom.runtime, mailroom.member.token)
    assert principal is not None
    with mailroom.runtime.tenant_uow("acme") as uow:
        set_sending_default(uow, principal, track=True)
    assert mailroom.send().json()["track"] is True
    assert mailroom.send(track=False).json()["track"] is False


def test_the_endpoints_answer_without_waiting_for_the_database(mailroom: Mailroom) -> None:
    import threading

    sent, pixel, clicks = _tracked(mailroom)
    recorder = mailroom.client.app.state.tracking_recorder  # type: ignore[attr-defined]
    release = threading.Event()
    writes: list[int] = []
    real_write = recorder._write

    def blocked_write(tenant: str, hits: list[Any]) -> None:
        release.wait(timeout=60)  # the tenant database "hangs"
        writes.append(len(hits))
        real_write(tenant, hits)

    recorder._write = blocked_write
    try:
        for _ in range(3):
            assert mailroom.client.get(pixel, headers={"User-Agent": CHROME}).status_code == 200
            answer = mailroom.client.get(clicks[0], follow_redirects=False)
            assert answer.status_code == 302
        assert writes == []
    finally:
        release.set()
        recorder._write = real_write
    _flush(mailroom.client)
    assert _message(mailroom, sent["id"])["opens"] >= 1
