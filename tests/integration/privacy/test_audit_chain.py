"""The audit chain: any changed, inserted or deleted row is named by ``verify``; the application
cannot UPDATE or DELETE audit rows (triggers), on SQLite and PostgreSQL.

The tampering is done the way an attacker with database access would: with the triggers switched
off inside a transaction that the test rolls back after verifying, so one chain of 120 entries
serves 100 independent tamperings.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.audit_triggers import (
    audit_trigger_statements,
    drop_audit_trigger_statements,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import ChainReport, entry_hash, record_event, verify_chain
from inboxcrm.services.tenants import create_tenant
from tests.integration.privacy.conftest import CliInvoker

ENTRIES = 120
TAMPERINGS = 100


@dataclass
class _OnConnection:
    """What verify_chain needs of a unit of work, on a connection the test controls."""

    session: Session
    tenant: str | None


def _fill(runtime: Runtime, slug: str) -> None:
    with runtime.tenant_uow(slug) as uow:
        for i in range(ENTRIES):
            record_event(
                uow,
                action=random.choice(["record.delete", "auth.login", "export.request"]),
                actor_user_id=i % 7 + 1,
                target=f"contact:{i}",
                outcome="success" if i % 5 else "failure",
                ip=f"10.0.0.{i % 250}",
                details={"n": i, "tags": ["a", "b"]},
            )
        uow.commit()


@contextmanager
def _untriggered(runtime: Runtime, slug: str) -> Iterator[Connection]:
    """A connection in a transaction with the audit triggers off; rolled back at the end."""
    engine = runtime.tenants.engine(slug)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            # A write first, so that SQLite's driver opens the transaction before the DDL.
            conn.execute(text("DELETE FROM audit_log WHERE 1 = 0"))
            for statement in drop_audit_trigger_statements(conn.dialect.name):
                if not statement.startswith("DROP FUNCTION"):
                    conn.execute(text(statement))
            yield conn
        finally:
            transaction.rollback()


def _verify_on(conn: Connection) -> ChainReport:
    with Session(bind=conn) as session:
        return verify_chain(_OnConnection(session, "t"))  # type: ignore[arg-type]


def _row(conn: Connection, seq: int) -> dict[str, Any]:
    row = conn.execute(text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).mappings().one()
    return dict(row)


def _forged_copy(conn: Connection, seq: int) -> dict[str, Any]:
    """A new row claiming position ``seq``, correctly hashed onto the entry before it."""
    original = _row(conn, seq)
    with Session(bind=conn) as session:
        from inboxcrm.adapters.db.privacy_tables import AuditLogRow

        real = session.get(AuditLogRow, original["id"])
        assert real is not None
        values = {
            "seq": seq,
            "occurred_at": real.occurred_at,
            "action": "record.restore",
            "actor_user_id": 99,
            "actor_kind": "user",
            "target": "contact:forged",
            "outcome": "success",
            "ip": None,
            "details": {},
            "prev_hash": real.prev_hash,
        }
        session.add(AuditLogRow(**values, entry_hash=entry_hash(**values)))
        session.flush()
    return values


def _tamper(conn: Connection, mode: str, seq: int) -> None:
    if mode == "change":
        conn.execute(
            text("UPDATE audit_log SET outcome = 'denied', target = 'x' WHERE seq = :s"),
            {"s": seq},
        )
    elif mode == "delete":
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": seq})
    else:
        _forged_copy(conn, seq)


def test_verify_names_each_tampered_entry(runtime: Runtime) -> None:
    create_tenant(runtime, "chain")
    _fill(runtime, "chain")
    with runtime.tenant_uow("chain") as uow:
        intact = verify_chain(uow)
    assert intact.ok and intact.count == ENTRIES

    rng = random.Random(20261201)
    modes = ["change", "insert", "delete"]
    for _ in range(TAMPERINGS):
        seq = rng.randint(1, ENTRIES)
        mode = rng.choice(modes)
        with _untriggered(runtime, "chain") as conn:
            _tamper(conn, mode, seq)
            report = _verify_on(conn)
        assert not report.ok, (mode, seq)
        assert report.seq == seq, (mode, seq, report.problem)
        assert f"#{seq}" in (report.problem or "")

    with runtime.tenant_uow("chain") as uow:  # every tampering was rolled back
        assert verify_chain(uow).ok


def test_head_catches_an_appended_or_removed_last_entry(runtime: Runtime) -> None:
    create_tenant(runtime, "chain")
    _fill(runtime, "chain")
    with _untriggered(runtime, "chain") as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": ENTRIES})
        report = _verify_on(conn)
    assert not report.ok and report.seq == ENTRIES and "missing" in (report.problem or "")

    with _untriggered(runtime, "chain") as conn:
        last = _row(conn, ENTRIES)
        values = {
            "seq": ENTRIES + 1,
            "occurred_at": None,
            "action": "record.restore",
            "actor_user_id": None,
            "actor_kind": "system",
            "target": None,
            "outcome": "success",
            "ip": None,
            "details": {},
            "prev_hash": last["entry_hash"],
        }
        from inboxcrm.adapters.db.privacy_tables import AuditLogRow
        from inboxcrm.adapters.db.types import utcnow

        values["occurred_at"] = utcnow()
        with Session(bind=conn) as session:
            session.add(AuditLogRow(**values, entry_hash=entry_hash(**values)))
            session.flush()
        report = _verify_on(conn)
    assert not report.ok and report.seq == ENTRIES + 1 and "inserted" in (report.problem or "")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'denied'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_chain_head",
        "UPDATE audit_chain_head SET seq = 1",
        "UPDATE audit_chain_head SET seq = seq + 1",
    ],
)
def test_application_role_cannot_change_audit_rows(runtime: Runtime, statement: str) -> None:
    create_tenant(runtime, "chain")
    _fill(runtime, "chain")
    engine = runtime.tenants.engine("chain")
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        conn.rollback()
    message = str(refused.value).lower()
    assert "append-only" in message or "chain head" in message
    with runtime.tenant_uow("chain") as uow:
        assert verify_chain(uow).ok


def test_control_plane_chain_is_guarded_too(runtime: Runtime) -> None:
    with runtime.control_uow() as uow:
        record_event(uow, action="staff.create", actor_user_id=None, target="staff:1")
        uow.commit()
    with runtime.control_engine.connect() as conn:
        with pytest.raises(DBAPIError):
            conn.execute(text("DELETE FROM audit_log"))
        conn.rollback()
    with runtime.control_uow() as uow:
        assert verify_chain(uow).ok


def test_triggers_are_what_refuses(runtime: Runtime) -> None:
    """Without the triggers the same UPDATE passes: the refusal above is theirs."""
    create_tenant(runtime, "chain")
    _fill(runtime, "chain")
    with _untriggered(runtime, "chain") as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'denied' WHERE seq = 1"))
        for statement in audit_trigger_statements(conn.dialect.name):
            if not statement.startswith("DROP FUNCTION"):
                conn.execute(text(statement))
        with pytest.raises(DBAPIError):
            conn.execute(text("UPDATE audit_log SET outcome = 'success' WHERE seq = 1"))


def test_audit_verify_command(runtime: Runtime, cli: CliInvoker) -> None:
    create_tenant(runtime, "chain")
    _fill(runtime, "chain")
    ok = cli(["audit", "verify", "--tenant", "chain"])
    assert ok.exit_code == 0, ok.output
    assert f"chain: intact, {ENTRIES} entries" in ok.output
    everything = cli(["audit", "verify"])
    assert everything.exit_code == 0 and "control plane: intact" in everything.output

    engine = runtime.tenants.engine("chain")
    with engine.begin() as conn:
        for statement in drop_audit_trigger_statements(conn.dialect.name):
            if not statement.startswith("DROP FUNCTION"):
                conn.execute(text(statement))
        conn.execute(text("UPDATE audit_log SET ip = '1.2.3.4' WHERE seq = 17"))
    broken = cli(["audit", "verify", "--tenant", "chain"])
    assert broken.exit_code == 1
    assert "entry #17" in broken.output and "altered" in broken.output
    assert cli(["audit", "verify", "--help"]).exit_code == 0
