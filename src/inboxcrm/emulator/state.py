"""All state of one emulator instance and the operations shared by the API and control routes.

One re-entrant lock (``state.lock``) guards the mailboxes; handlers hold it only while touching
the index, never while rendering message bytes or sleeping for injected latency.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from pathlib import Path
from typing import Any

from inboxcrm.emulator.clock import EmulatorClock
from inboxcrm.emulator.config import EmulatorConfig, RuntimeSettings
from inboxcrm.emulator.generator import build_tree, generate_messages
from inboxcrm.emulator.ingest import build_record, header_date_ms
from inboxcrm.emulator.mail_store import Mailbox, MessageRecord
from inboxcrm.emulator.oauth import Grant, OAuthRoutes, OAuthStore
from inboxcrm.emulator.people_calendar import AccountData
from inboxcrm.emulator.push import PushDispatcher
from inboxcrm.emulator.quota import ConcurrencyMeter, FaultInjector, QuotaMeter, UsageStats
from inboxcrm.emulator.signing import SigningKey

logger = logging.getLogger(__name__)

STATE_FORMAT = 1


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock = EmulatorClock()
        self.settings = RuntimeSettings.from_config(config)
        self.key = SigningKey()
        self.users: dict[str, Mailbox] = {}
        self.accounts: dict[str, AccountData] = {}
        self.oauth = OAuthStore(clients=dict(config.clients))
        self.meter = QuotaMeter()
        self.concurrency = ConcurrencyMeter()
        self.faults = FaultInjector(config.fault_seed)
        self.stats = UsageStats()
        self.push = PushDispatcher(self)
        self.oauth_routes = OAuthRoutes(self)

    # -- users -----------------------------------------------------------------------------
    def ensure_user(self, email: str, name: str = "", aliases: list[str] | None = None) -> Mailbox:
        email = email.strip().lower()
        with self.lock:
            mailbox = self.users.get(email)
            if mailbox is None:
                mailbox = Mailbox(email, name or _name_from_email(email))
                mailbox.on_change = self.push.on_change
                mailbox.now_s = self.clock.now
                self.users[email] = mailbox
            elif name:
                mailbox.name = name
            if aliases:
                for alias in aliases:
                    if alias.lower() not in mailbox.aliases:
                        mailbox.aliases.append(alias.lower())
            return mailbox

    def mailbox(self, email: str) -> Mailbox:
        with self.lock:
            mailbox = self.users.get(email.lower())
        if mailbox is None:
            return self.ensure_user(email)
        return mailbox

    def account(self, email: str) -> AccountData:
        with self.lock:
            return self.accounts.setdefault(email.lower(), AccountData())

    # -- mail ------------------------------------------------------------------------------
    def deliver(
        self,
        email: str,
        raw: bytes,
        *,
        labels: list[str] | None = None,
        internal_date: int | None = None,
        thread_id: str | None = None,
        date_from_header: bool = False,
    ) -> MessageRecord:
        """Add a message as received (threads by References + subject); records history."""
        mailbox = self.mailbox(email)
        if internal_date is None and date_from_header:
            internal_date = header_date_ms(raw)
        with self.lock:
            wanted = labels if labels is not None else ["INBOX", "UNREAD"]
            mailbox.check_labels(wanted)
            rec = build_record(
                mailbox,
                raw,
                labels=wanted,
                internal_date=internal_date,
                now_ms=self.clock.now_ms(),
                thread_id=thread_id,
                strict_thread=False,
            )
            mailbox.add(rec)
            return rec

    def generate(
        self,
        email: str,
        count: int,
        seed: int,
        customer_fraction: float,
        huge: int | None = None,
    ) -> int:
        mailbox = self.mailbox(email)
        with self.lock:
            first = not mailbox.messages
            return generate_messages(
                mailbox,
                count,
                seed=seed,
                customer_fraction=customer_fraction,
                now_ms=self.clock.now_ms(),
                record_history=not first,
                huge=huge,
            )

    def raw_bytes(self, mailbox: Mailbox, rec: MessageRecord) -> bytes:
        if rec.raw is not None:
            return rec.raw
        return build_tree(rec, mailbox).serialize()

    def revoke_user_tokens(self, email: str) -> int:
        return self.oauth.revoke_user(email.lower())

    def grants_of(self, email: str) -> list[Grant]:
        with self.oauth.lock:
            return [g for g in self.oauth.grants.values() if g.email == email.lower()]

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str) -> None:
        with self.lock, self.oauth.lock:
            snapshot: dict[str, Any] = {
                "format": STATE_FORMAT,
                "clock_offset": self.clock.offset,
                "key": self.key.to_pem(),
                "users": self.users,
                "accounts": {
                    k: (v.contacts, v.events, v.seq, v.sync_floor_ms)
                    for k, v in self.accounts.items()
                },
                "oauth": (
                    self.oauth.grants,
                    self.oauth.access,
                    self.oauth.refresh,
                    self.oauth.clients,
                ),
                "settings": self.settings.to_json(),
            }
            hooks = {email: mb.on_change for email, mb in self.users.items()}
            for mailbox in self.users.values():
                mailbox.on_change = None
                mailbox.now_s = time.time
            try:
                data = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                for email, mailbox in self.users.items():
                    mailbox.on_change = hooks[email]
                    mailbox.now_s = self.clock.now
        tmp = Path(path + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        logger.info("emulator state saved to %s", path)

    def load(self, path: str) -> bool:
        """Load a state file written by :meth:`save` (a local, trusted file)."""
        file = Path(path)
        if not file.exists():
            return False
        snapshot = pickle.loads(file.read_bytes())  # noqa: S301 - the emulator's own state file
        if not isinstance(snapshot, dict) or snapshot.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not an emulator state file")
        with self.lock, self.oauth.lock:
            self.clock = EmulatorClock(float(snapshot["clock_offset"]))
            self.key = SigningKey.from_pem(snapshot["key"])
            self.users = snapshot["users"]
            for mailbox in self.users.values():
                mailbox.on_change = self.push.on_change
                mailbox.now_s = self.clock.now
            for email, (contacts, events, seq, floor) in snapshot["accounts"].items():
                account = AccountData(
                    contacts=contacts, events=events, seq=seq, sync_floor_ms=floor
                )
                self.accounts[email] = account
            grants, access, refresh, clients = snapshot["oauth"]
            self.oauth.grants, self.oauth.access, self.oauth.refresh = grants, access, refresh
            self.oauth.clients.update(clients)
            self.settings.update(snapshot["settings"])
        logger.info("emulator state loaded from %s", path)
        return True


def _name_from_email(email: str) -> str:
    local = email.split("@")[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)
