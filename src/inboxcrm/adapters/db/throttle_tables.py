"""Control-plane table of the authentication throttle (see ``services.auth_throttle``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.control_tables import ControlBase
from inboxcrm.adapters.db.types import utcnow


class AuthThrottleRow(ControlBase):
    """Recent failed attempts of one throttle key: an account (the submitted email) or a
    client IP, per ``scope``. ``key_hash`` is the SHA-256 of the key, so the table holds no
    email address or IP in clear; ``locked_until`` is set while the key is locked out.
    """

    __tablename__ = "auth_throttles"
    __table_args__ = (UniqueConstraint("scope", "key_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    lockouts: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
