"""Load ``.eml`` directories and mbox files into a mailbox (Google Takeout labels understood)."""

from __future__ import annotations

import logging
import mailbox as std_mailbox
from pathlib import Path
from typing import TYPE_CHECKING

from inboxcrm.emulator.mime_payload import parse_addresses, parse_message

if TYPE_CHECKING:
    from inboxcrm.emulator.state import EmulatorState

logger = logging.getLogger(__name__)

_TAKEOUT = {
    "inbox": "INBOX", "sent": "SENT", "spam": "SPAM", "trash": "TRASH", "unread": "UNREAD",
    "important": "IMPORTANT", "starred": "STARRED", "drafts": "DRAFT", "draft": "DRAFT",
    "opened": "", "archived": "", "category personal": "CATEGORY_PERSONAL",
    "category social": "CATEGORY_SOCIAL", "category promotions": "CATEGORY_PROMOTIONS",
    "category updates": "CATEGORY_UPDATES", "category forums": "CATEGORY_FORUMS",
}  # fmt: skip


def _labels_for(state: EmulatorState, owner: str, raw: bytes) -> list[str]:
    msg = parse_message(raw)
    takeout = msg.get("X-Gmail-Labels")
    mailbox = state.mailbox(owner)
    if takeout:
        labels: list[str] = []
        for name in (n.strip() for n in str(takeout).split(",")):
            if not name:
                continue
            system = _TAKEOUT.get(name.lower())
            if system is not None:
                if system:
                    labels.append(system)
                continue
            with state.lock:
                label = mailbox.label_by_name(name) or mailbox.create_label({"name": name})
            labels.append(label.id)
        return labels
    senders = parse_addresses([str(v) for v in msg.get_all("From") or []])
    own = {owner, *mailbox.aliases}
    return ["SENT"] if senders and senders[0][1] in own else ["INBOX"]


def load_path(state: EmulatorState, owner: str, path: str) -> int:
    """Load one directory of .eml files or one mbox/.eml file; returns the messages added."""
    target = Path(path)
    blobs: list[bytes] = []
    if target.is_dir():
        for file in sorted(target.rglob("*")):
            if file.is_file() and file.suffix.lower() in (".eml", ".msg", ".txt", ""):
                blobs.append(file.read_bytes())
    elif target.is_file():
        head = target.read_bytes()[:5]
        if head.startswith(b"From "):
            box = std_mailbox.mbox(str(target), create=False)
            try:
                blobs.extend(box.get_bytes(key) for key in box.iterkeys())
            finally:
                box.close()
        else:
            blobs.append(target.read_bytes())
    else:
        raise FileNotFoundError(path)
    added = 0
    for raw in blobs:
        try:
            labels = _labels_for(state, owner, raw)
            state.deliver(owner, raw, labels=labels, date_from_header=True)
            added += 1
        except Exception:
            logger.warning("skipped an unreadable message in %s", path, exc_info=True)
    logger.info("loaded %d messages from %s", added, path)
    return added
