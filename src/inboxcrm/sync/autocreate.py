"""Contact auto-creation from synced mail (a tenant setting, off by default).

Modes: ``off``; ``sent`` (people the mailbox owner wrote to: the To/Cc/Bcc recipients of the
owner's outbound mail); ``sent_and_received`` (also the senders of mail the owner received).

Never created for:

- the account's own addresses and colleagues (the account's own, non free-mail, domain; the
  matcher already leaves those out of a message's counterparts), BCC logging addresses;
- list, bulk and automatic mail (List-Id, List-Unsubscribe, ``Precedence: bulk|list|junk``,
  ``Auto-Submitted`` other than ``no``) — every address of such a message is skipped, since
  group and list addresses are what such mail is sent from and to;
- group-like and no-reply addresses (``noreply@``, ``do-not-reply@``, ``mailer-daemon@``,
  ``postmaster@``, ``bounce@``, ``all@``, ``team@``, ...);
- never-logged addresses and domains, and addresses any record already has.

A created contact gets the display name the message gave the address (split into first and
last name) and the mailbox owner as its owner. The address book of the running sync learns the
new address at once, so the message (and later ones) link to the new contact.

Creation is atomic across concurrent syncs (two colleagues' mailboxes meeting the same new
correspondent at once): the contact's address is written with ``auto_created`` set, and a
partial unique index allows one such row per address. The creator whose insert-if-absent of that
row inserts nothing lost the race: it removes the contact it had just made (in its own, still
open, transaction) and links to the winner's. Addresses people enter on records are outside the
index, so deliberate duplicates of manual contacts stay possible; a manual record that already
has the address is reused, as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import ContactRow, RecordEmailRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.domain.mail_parsing import ParsedMail
from inboxcrm.domain.matching import MatchResult, NeverLogList
from inboxcrm.sync.inserts import insert_if_absent

__all__ = ["AUTOCREATE_MODES", "AutoCreateMode", "ContactAutoCreator", "is_unpersonal_address"]

logger = logging.getLogger(__name__)

AutoCreateMode = Literal["off", "sent", "sent_and_received"]
AUTOCREATE_MODES: tuple[AutoCreateMode, ...] = ("off", "sent", "sent_and_received")

_NO_REPLY_RE = re.compile(
    r"(^|[-_.+])(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|"
    r"bounces?|notifications?|notify|auto[-_.]?reply|unsubscribe)([-_.+]|$)"
)
_GROUP_LOCAL_PARTS = frozenset(
    {
        "all",
        "everyone",
        "team",
        "staff",
        "list",
        "lists",
        "group",
        "groups",
        "announce",
        "announcements",
        "newsletter",
        "news",
        "marketing",
        "info",
        "admin",
        "root",
        "abuse",
        "hostmaster",
        "webmaster",
    }
)


def is_unpersonal_address(address: str) -> bool:
    """True for no-reply, daemon and group-like addresses (never a person to create)."""
    local = address.rsplit("@", 1)[0].lower()
    base = local.split("+", 1)[0]
    return base in _GROUP_LOCAL_PARTS or bool(_NO_REPLY_RE.search(base))


def _split_name(display: str | None, address: str) -> tuple[str, str]:
    text = " ".join((display or "").replace('"', " ").split())
    if not text or "@" in text:
        return address.split("@", 1)[0][:100], ""
    if "," in text:  # "Last, First"
        last, _, first = text.partition(",")
        return first.strip()[:100], last.strip()[:100]
    first, _, last = text.rpartition(" ")
    return ((first or last)[:100], last[:100] if first else "")


class ContactAutoCreator:
    """Creates contacts for one mailbox's sync run. ``records_by_address`` is the run's
    address book (canonical address → record keys) and is extended in place."""

    def __init__(
        self,
        *,
        mode: str,
        records_by_address: MutableMapping[str, frozenset[str]],
        never_log: NeverLogList,
        owner_user_id: int | None,
    ) -> None:
        self.mode = mode if mode in AUTOCREATE_MODES else "off"
        self._book = records_by_address
        self._never_log = never_log
        self._owner = owner_user_id
        self.created = 0
        self._uncommitted: list[tuple[str, frozenset[str] | None]] = []

    def committed(self) -> None:
        """The caller's transaction committed: the contacts made so far exist."""
        self._uncommitted.clear()

    def rolled_back(self) -> None:
        """The caller's transaction rolled back: forget the contacts it would have made."""
        for address, previous in reversed(self._uncommitted):
            if previous is None:
                self._book.pop(address, None)
            else:
                self._book[address] = previous
        self._uncommitted.clear()

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def candidates(self, mail: ParsedMail, result: MatchResult) -> list[str]:
        """Addresses of ``mail`` a contact would be created for (none when disabled)."""
        if self.mode == "off" or mail.is_bulk:
            return []
        counterparts = set(result.counterparts)
        if result.direction == "outbound":
            people = [a for a in mail.recipients if a in counterparts]
        elif self.mode == "sent_and_received":
            sender = mail.sender
            people = [sender] if sender is not None and sender in counterparts else []
        else:
            return []
        return [
            a
            for a in dict.fromkeys(people)
            if a not in self._book
            and not is_unpersonal_address(a)
            and not (self._never_log and self._never_log.blocks(a))
        ]

    def create(
        self, session: Session, addresses: list[str], display_names: Mapping[str, str]
    ) -> dict[str, str]:
        """Create a contact per address (reusing one a record got meanwhile); returns the
        record keys by address. Runs inside the caller's transaction."""
        made: dict[str, str] = {}
        existing = {
            email: f"{kind}:{record_id}"
            for kind, record_id, email in session.execute(
                select(
                    RecordEmailRow.record_kind, RecordEmailRow.record_id, RecordEmailRow.email
                ).where(RecordEmailRow.email.in_(addresses))
            )
        }
        for address in addresses:
            key = existing.get(address) or self._create_contact(
                session, address, display_names.get(address)
            )
            made[address] = key
            self._uncommitted.append((address, self._book.get(address)))
            self._book[address] = frozenset({*self._book.get(address, frozenset()), key})
        if made:
            session.flush()
        return made

    def _create_contact(self, session: Session, address: str, display: str | None) -> str:
        """A new contact for ``address``, or the one a concurrent creator made first."""
        now = utcnow()
        first, last = _split_name(display, address)
        contact = ContactRow(
            first_name=first,
            last_name=last,
            owner_user_id=self._owner,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        session.flush()
        claimed = insert_if_absent(
            session,
            RecordEmailRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "record_kind": "contact",
                    "record_id": contact.id,
                    "email": address,
                    "position": 0,
                    "auto_created": True,
                    "created_at": now,
                }
            ],
            ["email"],
            returning=["id"],
            conflict_where="auto_created",
        )
        if claimed:
            self.created += 1
            return f"contact:{contact.id}"
        # Another sync created the contact for this address first: use theirs.
        session.delete(contact)
        session.flush()
        winner = session.execute(
            select(RecordEmailRow.record_kind, RecordEmailRow.record_id).where(
                RecordEmailRow.email == address, RecordEmailRow.auto_created.is_(True)
            )
        ).one()
        logger.info("contact for a new address was created by a concurrent sync; reusing it")
        return f"{winner.record_kind}:{winner.record_id}"
