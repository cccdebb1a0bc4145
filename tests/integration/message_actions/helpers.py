"""Helpers of the message-action tests: the mailbox's labels, the stored emails of the contact."""

from __future__ import annotations

from typing import Any

from tests.integration.sending.conftest import OWNER, Mailroom
from tests.integration.sync.conftest import emulator_mailbox


def mailbox_labels(room: Mailroom) -> dict[str, list[str]]:
    """Every message of the owner's emulated mailbox (spam and trash too) with its labels."""
    mailbox = emulator_mailbox(room.emulator, OWNER)
    found: dict[str, list[str]] = {}
    for ref in mailbox.iter_message_ids(include_spam_trash=True):
        data = (
            mailbox._users.messages()
            .get(userId="me", id=ref.id, format="minimal")
            .execute(http=mailbox._http)
        )
        found[ref.id] = sorted(data.get("labelIds") or [])
    return found


def emails(room: Mailroom) -> list[dict[str, Any]]:
    return [item for item in room.timeline() if item["kind"] == "email"]


def email_by_gmail_id(room: Mailroom, gmail_id: str) -> dict[str, Any]:
    for item in emails(room):
        if item["provider_message_id"] == gmail_id:
            return item
    raise AssertionError(f"no timeline email {gmail_id}")
