"""Generated and loaded mailboxes, persistence, and the ``inboxcrm emulator`` command."""

from __future__ import annotations

import mailbox
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.conftest import HTTP, USER, gmail_service
from tests.emulator.test_gmail_messages import MULTIPART, list_ids, mime


def test_generator_is_seeded_with_customer_fraction(emulator_factory: Any) -> None:
    one = emulator_factory(user=USER, generate=400, seed=11)
    two = emulator_factory(user=USER, generate=400, seed=11)
    other = emulator_factory(user=USER, generate=400, seed=12)
    people = one.correspondents(USER)
    assert people == two.correspondents(USER)
    assert people != other.correspondents(USER)
    persons = [p for p in people if p["kind"] not in ("list", "newsletter")]
    customers = [p for p in people if p["customer"]]
    assert 0.15 <= len(customers) / len(people) <= 0.25
    customer_domains = {
        p["email"].split("@")[1] for p in customers if p["kind"] == "customer-domain"
    }
    assert {p["kind"] for p in customers} == {"customer-domain", "free-mail"}
    assert len(persons) > len(customers)
    assert not [
        p for p in people if not p["customer"] and p["email"].split("@")[1] in customer_domains
    ]
    gmail = gmail_service(one, one.credentials(USER))
    profile = gmail.users().getProfile(userId="me").execute()
    assert profile["messagesTotal"] == 400
    assert 1 < profile["threadsTotal"] < 400
    sent = list_ids(gmail, q="in:sent", maxResults=500)
    inbox = list_ids(gmail, q="in:inbox", maxResults=500)
    assert sent and inbox
    spam_trash = set(list_ids(gmail, q="in:anywhere", maxResults=500)) - set(
        list_ids(gmail, maxResults=500)
    )
    assert spam_trash  # a few Spam/Trash messages exist
    customer = customers[0]["email"]
    assert list_ids(gmail, q=f"from:{customer} OR to:{customer}")
    dates = [
        int(
            gmail.users()
            .messages()
            .get(userId="me", id=i, format="minimal")
            .execute()["internalDate"]
        )
        for i in inbox[:: max(1, len(inbox) // 20)]
    ]
    assert dates == sorted(dates, reverse=True)
    assert max(dates) - min(dates) > 90 * 86_400_000


def test_load_eml_directory_and_mbox_with_odd_input(tmp_path: Path, emulator_factory: Any) -> None:
    eml_dir = tmp_path / "eml"
    eml_dir.mkdir()
    (eml_dir / "a.eml").write_bytes(
        mime("from a file", extra="Date: Tue, 02 Jan 2024 09:00:00 +0000\r\n")
    )
    (eml_dir / "b.eml").write_bytes(MULTIPART)
    (eml_dir / "broken.eml").write_bytes(b"\x00\xff garbage without headers \r\n\r\n\x80")
    box = mailbox.mbox(tmp_path / "takeout.mbox")
    message = mailbox.mboxMessage(mime("from an mbox", sender=USER, to="x@y.example"))
    message["X-Gmail-Labels"] = "Sent,Important,Customers/VIP"
    box.add(message)
    box.flush()
    box.close()
    emu = emulator_factory(user=USER, mailboxes=(str(eml_dir), str(tmp_path / "takeout.mbox")))
    gmail = gmail_service(emu, emu.credentials(USER))
    assert gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 4
    dated = list_ids(gmail, q='subject:"from a file"')
    got = gmail.users().messages().get(userId="me", id=dated[0], format="minimal").execute()
    assert got["internalDate"] == "1704186000000"
    mbox_msg = list_ids(gmail, q="label:customers-vip")
    labels = (
        gmail.users()
        .messages()
        .get(userId="me", id=mbox_msg[0], format="minimal")
        .execute()["labelIds"]
    )
    assert "SENT" in labels
    assert "IMPORTANT" in labels


def test_state_file_round_trip(tmp_path: Path, emulator_factory: Any) -> None:
    state = str(tmp_path / "emu.state")
    first = emulator_factory(user=USER, state_file=state)
    first.deliver(USER, mime("persisted"))
    creds = first.credentials(USER)
    first.running.stop()
    second = emulator_factory(state_file=state)
    assert second.user(USER)["messagesTotal"] == 1
    gmail = gmail_service(second, creds)
    assert gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 1


@pytest.mark.slow
def test_cli_starts_and_prints_its_url(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from inboxcrm.cli import main; main()",
        "emulator",
        "--port",
        "0",
        "--generate",
        "50",
        "--auto-consent",
        USER,
        "--quota-units-per-s",
        "250",
        "--quota-units-per-minute",
        "6000",
        "--project-quota-units-per-minute",
        "1200000",
        "--max-concurrent-per-user",
        "10",
        "--client",
        "cid:secret",
        "--latency-ms",
        "1",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        health = HTTP.get(url + "/_emulator/health").json()
        assert health == {"status": "ok", "users": 1}
        config = HTTP.get(url + "/_emulator/config").json()
        assert config["quota_units_per_s"] == 250
        assert config["quota_units_per_minute"] == 6000
        assert config["project_quota_units_per_minute"] == 1_200_000
        assert config["max_concurrent_per_user"] == 10
        assert config["auto_consent"] == USER
        assert HTTP.get(url + f"/_emulator/users/{USER}").json()["messagesTotal"] == 50
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
