"""``format=full`` fetches rebuild a message without its attachments' bytes: parsing it gives
the same headers, bodies and attachment metadata as the raw message, plus Gmail's attachment
id; the attachment's content stays fetchable on demand."""

from __future__ import annotations

from inboxcrm.domain.mail_parsing import parse_message
from inboxcrm.providers.gmail.client import GmailMailbox
from tests.emulator.test_gmail_messages import MULTIPART
from tests.fixtures.emulator import EmulatorHandle

USER = "rep@acme.example"


def test_full_format_parses_like_raw_without_the_attachment_bytes(
    emulator: EmulatorHandle,
) -> None:
    emulator.create_user(USER)
    msg_id = emulator.deliver(USER, MULTIPART)["id"]
    mailbox = GmailMailbox(emulator.credentials(USER), api_base=emulator.url)
    (raw,) = mailbox.fetch_messages([msg_id], fmt="raw")
    (full,) = mailbox.fetch_messages([msg_id], fmt="full")
    assert raw.raw is not None and full.raw is not None
    assert b"%PDF" not in full.raw and len(full.raw) < len(raw.raw)

    from_raw = parse_message(raw.raw)
    from_full = parse_message(full.raw)
    assert from_full.subject == from_raw.subject == "Angebot für Q3"
    assert from_full.from_addresses == from_raw.from_addresses
    assert from_full.display_names == from_raw.display_names
    assert from_full.to == from_raw.to and from_full.message_id == from_raw.message_id
    assert from_full.text_body == from_raw.text_body
    assert from_full.html_body == from_raw.html_body
    (a_raw,) = from_raw.attachments
    (a_full,) = from_full.attachments
    assert (a_full.filename, a_full.mime_type, a_full.size) == (
        a_raw.filename,
        a_raw.mime_type,
        a_raw.size,
    )
    assert a_raw.provider_id is None and a_full.provider_id
    content = mailbox.get_attachment(msg_id, a_full.provider_id)
    assert content == b"%PDF-1.4 fake pdf bytes" * 20
    assert emulator.fetched(USER)["messages"][msg_id] == ["attachment", "full", "raw"]
