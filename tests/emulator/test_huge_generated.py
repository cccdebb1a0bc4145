"""Generated mailboxes: large ones carry a few 20-40 MB messages, small ones none (so small test
mailboxes stay fast); ``larger:`` finds them by size."""

from __future__ import annotations

from typing import Any

from inboxcrm.emulator.generator import huge_default
from tests.emulator.conftest import USER
from tests.fixtures.emulator import EmulatorHandle


def test_only_large_mailboxes_get_huge_messages_by_default() -> None:
    assert huge_default(200) == 0 and huge_default(4999) == 0
    assert huge_default(10_000) == 2 and huge_default(100_000) == 5


def test_huge_messages_are_customer_mail_of_20_to_40_mb(
    rep: tuple[EmulatorHandle, Any, Any],
) -> None:
    emu, _, gmail = rep
    emu.generate(USER, 300, seed=3, customer_fraction=0.3, huge=2)
    messages = gmail.users().messages()
    big = messages.list(userId="me", q="larger:20M", includeSpamTrash=True).execute()
    ids = [m["id"] for m in big.get("messages", [])]
    assert len(ids) == 2
    customers = {c["email"] for c in emu.correspondents(USER) if c["customer"]}
    for msg_id in ids:
        meta = messages.get(userId="me", id=msg_id, format="full").execute()
        assert 20_000_000 <= meta["sizeEstimate"] <= 60_000_000
        headers = {h["name"].lower(): h["value"] for h in meta["payload"]["headers"]}
        assert any(c in headers.get("from", "") + headers.get("to", "") for c in customers)
        (attachment,) = [p for p in meta["payload"]["parts"] if p.get("filename")]
        assert 20_000_000 <= attachment["body"]["size"] <= 40_000_000
        assert "data" not in attachment["body"] and attachment["body"]["attachmentId"]
    small = messages.list(userId="me", q="smaller:20M", includeSpamTrash=True).execute()
    assert not set(ids) & {m["id"] for m in small.get("messages", [])}
