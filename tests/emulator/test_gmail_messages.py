"""Gmail v1 users.messages / labels / threads / settings through google-api-python-client."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.emulator.conftest import USER, gmail_service
from tests.fixtures.emulator import EmulatorHandle

DAY_MS = 86_400_000


def mime(
    subject: str,
    *,
    sender: str = "ann@customer.example",
    to: str = USER,
    cc: str = "",
    body: str = "Hello there",
    extra: str = "",
) -> bytes:
    head = f"From: Ann Customer <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    head += extra
    return (
        head + f"Message-ID: <{abs(hash((subject, sender, body)))}@x.example>\r\n\r\n{body}\r\n"
    ).encode()


MULTIPART = (
    b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@customer.example>\r\n"
    b"To: rep@acme.example\r\nSubject: =?utf-8?b?QW5nZWJvdCBmw7xyIFEz?=\r\n"
    b"Message-ID: <multi-1@customer.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b'--XX\r\nContent-Type: multipart/alternative; boundary="YY"\r\n\r\n'
    b'--YY\r\nContent-Type: text/plain; charset="iso-8859-1"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus M=FCnchen\r\n"
    b'--YY\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
    b"<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n--YY--\r\n"
    b'--XX\r\nContent-Type: application/pdf; name="offer.pdf"\r\n'
    b'Content-Disposition: attachment; filename="offer.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(b"%PDF-1.4 fake pdf bytes" * 20).replace(b"\n", b"\r\n")
    + b"--XX--\r\n"
)


def b64d(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def list_ids(gmail: Any, **kwargs: Any) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = gmail.users().messages().list(userId="me", pageToken=token, **kwargs).execute()
        ids += [m["id"] for m in page.get("messages", [])]
        token = page.get("nextPageToken")
        if not token:
            return ids


def test_profile_labels_and_system_labels(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    emu.deliver(USER, mime("one"))
    profile = gmail.users().getProfile(userId=USER).execute()
    assert profile == {
        "emailAddress": USER,
        "messagesTotal": 1,
        "threadsTotal": 1,
        "historyId": profile["historyId"],
    }
    labels = {
        lbl["id"]: lbl for lbl in gmail.users().labels().list(userId="me").execute()["labels"]
    }
    assert {"INBOX", "SENT", "SPAM", "TRASH", "UNREAD", "CATEGORY_PERSONAL"} <= set(labels)
    assert labels["INBOX"]["type"] == "system"
    inbox = gmail.users().labels().get(userId="me", id="INBOX").execute()
    assert inbox["messagesTotal"] == 1
    assert inbox["messagesUnread"] == 1
    created = (
        gmail.users().labels().create(userId="me", body={"name": "Synced to inboxcrm"}).execute()
    )
    assert created["id"].startswith("Label_")
    assert created["type"] == "user"
    with pytest.raises(HttpError) as err:
        gmail.users().labels().create(userId="me", body={"name": "synced to INBOXCRM"}).execute()
    assert err.value.resp.status == 409
    patched = (
        gmail.users()
        .labels()
        .patch(userId="me", id=created["id"], body={"name": "Synced"})
        .execute()
    )
    assert patched["name"] == "Synced"
    with pytest.raises(HttpError) as err:
        gmail.users().labels().delete(userId="me", id="INBOX").execute()
    assert err.value.resp.status == 400
    gmail.users().labels().delete(userId="me", id=created["id"]).execute()
    with pytest.raises(HttpError) as err:
        gmail.users().labels().get(userId="me", id=created["id"]).execute()
    assert err.value.resp.status == 404
    with pytest.raises(HttpError) as err:
        gmail.users().getProfile(userId="someone.else@acme.example").execute()
    assert err.value.resp.status == 403


def test_list_pagination_newest_first_and_spam_trash(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    now = emu.now_ms()
    delivered = [
        emu.deliver(USER, mime(f"m{i}"), internal_date_ms=now - (10 - i) * DAY_MS)["id"]
        for i in range(7)
    ]
    spam = emu.deliver(USER, mime("spam"), ["SPAM"], internal_date_ms=now)["id"]
    page = gmail.users().messages().list(userId="me", maxResults=3).execute()
    assert [m["id"] for m in page["messages"]] == delivered[::-1][:3]
    assert page["messages"][0]["threadId"]
    assert list_ids(gmail, maxResults=3) == delivered[::-1]
    assert list_ids(gmail, includeSpamTrash=True)[0] == spam
    assert list_ids(gmail, labelIds=["SPAM"]) == [spam]
    assert list_ids(gmail, q="in:anywhere")[0] == spam
    with pytest.raises(HttpError) as err:
        gmail.users().messages().list(userId="me", maxResults=501).execute()
    assert err.value.resp.status == 400
    empty = gmail.users().messages().list(userId="me", q="from:nobody@nowhere.example").execute()
    assert empty == {"resultSizeEstimate": 0}


def test_search_query_operators(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    now = emu.now_ms()
    a = emu.deliver(
        USER, mime("Quote for chairs", sender="a@x.example"), internal_date_ms=now - 40 * DAY_MS
    )["id"]
    b = emu.deliver(
        USER,
        mime("Invoice 7", sender="b@y.example", cc="boss@acme.example"),
        internal_date_ms=now - 2 * DAY_MS,
    )["id"]
    c = emu.deliver(
        USER,
        mime("Lunch?", sender="c@z.example", body="see you at noon"),
        ["INBOX"],
        internal_date_ms=now - DAY_MS,
    )["id"]
    sent = (
        gmail.users()
        .messages()
        .send(
            userId="me",
            body={
                "raw": base64.urlsafe_b64encode(
                    mime("Re: offer", sender=USER, to="a@x.example")
                ).decode()
            },
        )
        .execute()["id"]
    )
    label = gmail.users().labels().create(userId="me", body={"name": "Deals/Open"}).execute()["id"]
    gmail.users().messages().modify(userId="me", id=b, body={"addLabelIds": [label]}).execute()

    def q(query: str) -> set[str]:
        return set(list_ids(gmail, q=query))

    assert q("from:a@x.example") == {a}
    assert q("from:(a@x.example OR b@y.example)") == {a, b}
    assert q("{from:a@x.example from:c@z.example}") == {a, c}
    assert q("from:a@x.example OR from:c@z.example") == {a, c}
    assert q("to:a@x.example") == {sent}
    assert q("cc:boss@acme.example") == {b}
    assert q("from:y.example") == {b}
    assert q('subject:"quote for"') == {a}
    assert q("subject:(invoice)") == {b}
    assert q("-from:a@x.example in:inbox") == {b, c}
    assert q("noon") == {c}
    assert q('"see you"') == {c}
    assert q("is:unread") == {a, b}
    assert q("is:read -in:sent") == {c}
    assert q("in:sent") == {sent}
    assert q("label:deals-open") == {b}
    assert q("newer_than:3d") == {b, c, sent}
    assert q("older_than:30d") == {a}
    # Dates in queries are Pacific-time days (as in Gmail): UTC-8 is close enough days away.
    pacific = 8 * 3600 * 1000

    def day(ms: int) -> str:
        return time.strftime("%Y/%m/%d", time.gmtime((ms - pacific) / 1000))

    assert q(f"after:{day(now - 10 * DAY_MS)} before:{day(now - DAY_MS)}") == {b}
    assert q("(from:a@x.example OR from:b@y.example) subject:invoice") == {b}


def test_get_formats_payload_and_attachment(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    msg_id = emu.deliver(USER, MULTIPART)["id"]
    messages = gmail.users().messages()
    full = messages.get(userId="me", id=msg_id).execute()
    payload = full["payload"]
    assert payload["partId"] == ""
    assert payload["mimeType"] == "multipart/mixed"
    headers = {h["name"]: h["value"] for h in payload["headers"]}
    assert headers["Subject"] == "Angebot für Q3"
    assert headers["From"] == "Jürgen Müller <jm@customer.example>"
    alternative, attachment = payload["parts"]
    assert alternative["partId"] == "0"
    plain, html = alternative["parts"]
    assert plain["partId"] == "0.0"
    assert b64d(plain["body"]["data"]).decode("iso-8859-1").startswith("Grüße aus München")
    assert plain["body"]["size"] == len(b64d(plain["body"]["data"]))
    assert html["mimeType"] == "text/html"
    assert attachment["filename"] == "offer.pdf"
    assert "data" not in attachment["body"]
    assert attachment["body"]["size"] == 460
    body = (
        messages.attachments()
        .get(userId="me", messageId=msg_id, id=attachment["body"]["attachmentId"])
        .execute()
    )
    assert b64d(body["data"]) == b"%PDF-1.4 fake pdf bytes" * 20
    assert full["snippet"].startswith("Grüße aus München")
    assert int(full["internalDate"]) > 0
    assert full["labelIds"] == ["INBOX", "UNREAD"]
    meta = messages.get(
        userId="me", id=msg_id, format="metadata", metadataHeaders=["Subject", "From"]
    ).execute()
    assert [h["name"] for h in meta["payload"]["headers"]] == ["From", "Subject"]
    minimal = messages.get(userId="me", id=msg_id, format="minimal").execute()
    assert "payload" not in minimal
    assert minimal["sizeEstimate"] == len(MULTIPART)
    raw = messages.get(userId="me", id=msg_id, format="raw").execute()
    assert b64d(raw["raw"]) == MULTIPART
    with pytest.raises(HttpError) as err:
        messages.get(userId="me", id="deadbeef").execute()
    assert err.value.resp.status == 404
    fetched = emu.fetched(USER)
    assert fetched["messages"][msg_id] == ["attachment", "full", "metadata", "minimal", "raw"]
    assert fetched["body_fetched"] == [msg_id]


def test_generated_message_full_payload_matches_its_raw_bytes(
    rep: tuple[EmulatorHandle, Any, Any],
) -> None:
    emu, _, gmail = rep
    emu.generate(USER, 120, seed=5)
    for msg_id in list_ids(gmail, maxResults=500)[:60]:
        full = gmail.users().messages().get(userId="me", id=msg_id).execute()
        raw = b64d(
            gmail.users().messages().get(userId="me", id=msg_id, format="raw").execute()["raw"]
        )
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [p for p in parsed.walk() if not p.is_multipart()]

        def leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
            return [leaf for child in node.get("parts", []) for leaf in leaves(child)] or [node]

        api_leaves = leaves(full["payload"])
        assert [p.get_content_type() for p in parts] == [leaf["mimeType"] for leaf in api_leaves]
        for part, leaf in zip(parts, api_leaves, strict=True):
            content = part.get_payload(decode=True)
            assert leaf["body"]["size"] == len(content)
            if "data" in leaf["body"]:
                assert b64d(leaf["body"]["data"]) == content
            else:
                assert leaf["filename"] == part.get_filename()
        assert str(parsed["Subject"]) == next(
            h["value"] for h in full["payload"]["headers"] if h["name"] == "Subject"
        )


def test_send_threading_and_from_rewrite(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER, "Rita Rep", aliases=["sales@acme.example"])
    emulator.create_user("colleague@acme.example")
    gmail = gmail_service(emulator, emulator.credentials(USER))
    first = emulator.deliver(
        USER, mime("Pricing question", extra="Message-ID: <q1@customer.example>\r\n")
    )
    messages = gmail.users().messages()

    def send(raw: bytes, thread_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw).decode()}
        if thread_id:
            body["threadId"] = thread_id
        return dict(messages.send(userId="me", body=body).execute())

    reply_headers = "In-Reply-To: <q1@customer.example>\r\nReferences: <q1@customer.example>\r\n"
    reply = send(
        mime("Re: Pricing question", sender=USER, to="ann@customer.example", extra=reply_headers),
        first["threadId"],
    )
    assert reply["threadId"] == first["threadId"]
    assert reply["labelIds"] == ["SENT"]
    other_subject = send(
        mime("Something else", sender=USER, to="ann@customer.example", extra=reply_headers),
        first["threadId"],
    )
    assert other_subject["threadId"] != first["threadId"]
    no_refs = send(
        mime("Re: Pricing question", sender=USER, to="ann@customer.example"), first["threadId"]
    )
    assert no_refs["threadId"] != first["threadId"]
    no_thread_id = send(
        mime("Re: Pricing question", sender=USER, to="ann@customer.example", extra=reply_headers)
    )
    assert no_thread_id["threadId"] != first["threadId"]

    forged = send(mime("Hi", sender="ceo@elsewhere.example", to="colleague@acme.example"))
    raw = b64d(messages.get(userId="me", id=forged["id"], format="raw").execute()["raw"])
    parsed = email.message_from_bytes(raw)
    assert parsed["From"] == "Rita Rep <rep@acme.example>"
    assert parsed["Message-ID"]
    alias = send(mime("Hi", sender="sales@acme.example", to="x@y.example"))
    raw = b64d(messages.get(userId="me", id=alias["id"], format="raw").execute()["raw"])
    assert "sales@acme.example" in email.message_from_bytes(raw)["From"]
    assert emulator.user("colleague@acme.example")["messagesTotal"] == 1  # local delivery
    with pytest.raises(HttpError) as err:
        messages.send(
            userId="me",
            body={"raw": base64.urlsafe_b64encode(b"Subject: x\r\n\r\nno rcpt").decode()},
        ).execute()
    assert err.value.resp.status == 400
    with pytest.raises(HttpError) as err:
        messages.send(userId="me", body={}).execute()
    assert err.value.resp.status == 400
    send_as = gmail.users().settings().sendAs().list(userId="me").execute()["sendAs"]
    assert [s["sendAsEmail"] for s in send_as] == [USER, "sales@acme.example"]
    assert send_as[0]["isPrimary"] is True
    threads = gmail.users().threads()
    thread = threads.get(userId="me", id=first["threadId"], format="metadata").execute()
    assert [m["id"] for m in thread["messages"]] == [first["id"], reply["id"]]
    listed = threads.list(userId="me", q="subject:pricing").execute()["threads"]
    assert first["threadId"] in [t["id"] for t in listed]
    assert len(listed) == len({t["id"] for t in listed})


def test_insert_import_modify_batch_modify_trash_delete(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    scopes = ["https://mail.google.com/"]
    gmail = gmail_service(emulator, emulator.credentials(USER, scopes))
    messages = gmail.users().messages()
    raw = base64.urlsafe_b64encode(
        mime("imported", extra="Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n")
    ).decode()
    imported = messages.import_(userId="me", body={"raw": raw, "labelIds": ["INBOX"]}).execute()
    got = messages.get(userId="me", id=imported["id"], format="minimal").execute()
    assert got["internalDate"] == "1704103200000"
    inserted = messages.insert(userId="me", body={"raw": raw}).execute()
    assert (
        "labelIds" not in messages.get(userId="me", id=inserted["id"], format="minimal").execute()
    )
    modified = messages.modify(
        userId="me",
        id=imported["id"],
        body={"addLabelIds": ["STARRED"], "removeLabelIds": ["INBOX"]},
    ).execute()
    assert modified["labelIds"] == ["STARRED"]
    with pytest.raises(HttpError) as err:
        messages.modify(
            userId="me", id=imported["id"], body={"addLabelIds": ["Label_404"]}
        ).execute()
    assert err.value.resp.status == 400
    messages.batchModify(
        userId="me",
        body={"ids": [imported["id"], inserted["id"], "0000ffff"], "addLabelIds": ["IMPORTANT"]},
    ).execute()
    for msg_id in (imported["id"], inserted["id"]):
        assert (
            "IMPORTANT"
            in messages.get(userId="me", id=msg_id, format="minimal").execute()["labelIds"]
        )
    with pytest.raises(HttpError) as err:
        messages.batchModify(
            userId="me", body={"ids": [str(i) for i in range(1001)], "addLabelIds": ["STARRED"]}
        ).execute()
    assert err.value.resp.status == 400
    assert "TRASH" in messages.trash(userId="me", id=inserted["id"]).execute()["labelIds"]
    assert "TRASH" not in messages.untrash(userId="me", id=inserted["id"]).execute().get(
        "labelIds", []
    )
    messages.delete(userId="me", id=inserted["id"]).execute()
    with pytest.raises(HttpError) as err:
        messages.get(userId="me", id=inserted["id"]).execute()
    assert err.value.resp.status == 404
    stats = emulator.stats(USER)
    assert stats["units"]["gmail.users.messages.batchModify"] == 100  # 2 calls
    assert stats["units"]["gmail.users.messages.import"] == 25
    assert stats["units"]["gmail.users.messages.delete"] == 10


def test_scopes_are_enforced(emulator: EmulatorHandle) -> None:
    emulator.create_user(USER)
    emulator.deliver(USER, mime("x"))
    readonly = gmail_service(
        emulator, emulator.credentials(USER, ["https://www.googleapis.com/auth/gmail.readonly"])
    )
    msg_id = readonly.users().messages().list(userId="me").execute()["messages"][0]["id"]
    with pytest.raises(HttpError) as err:
        readonly.users().messages().modify(
            userId="me", id=msg_id, body={"addLabelIds": ["STARRED"]}
        ).execute()
    assert err.value.resp.status == 403
    assert b"insufficient authentication scopes" in err.value.content
    metadata = gmail_service(
        emulator, emulator.credentials(USER, ["https://www.googleapis.com/auth/gmail.metadata"])
    )
    metadata.users().messages().get(userId="me", id=msg_id, format="metadata").execute()
    with pytest.raises(HttpError) as err:
        metadata.users().messages().get(userId="me", id=msg_id, format="full").execute()
    assert err.value.resp.status == 403
