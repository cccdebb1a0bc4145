"""Database triggers that keep an audit log append-only, created by the migrations.

On both SQLite and PostgreSQL:

- ``audit_log`` refuses every UPDATE and DELETE (and, on PostgreSQL, TRUNCATE), whoever the
  database role is, so the application can only append;
- ``audit_chain_head`` refuses DELETE, and an UPDATE only passes when it moves the head exactly
  one entry forward onto an entry that exists with that sequence number and hash.

Someone able to drop triggers (the database owner, or whoever holds the SQLite file) can still
edit the rows; ``inboxcrm audit verify`` then finds the edit through the hash chain and the
head. The tests of the chain do exactly that.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["audit_trigger_statements", "drop_audit_trigger_statements"]

_SQLITE = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END""",
    """CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head
    WHEN NEW.seq != OLD.seq + 1 OR NEW.id != OLD.id OR NOT EXISTS (
        SELECT 1 FROM audit_log WHERE seq = NEW.seq AND entry_hash = NEW.entry_hash)
    BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves one entry forward'); END""",
]

_POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
    """CREATE OR REPLACE FUNCTION audit_chain_head_forward() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'the audit chain head cannot be deleted'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.seq <> OLD.seq + 1 OR NEW.id <> OLD.id OR NOT EXISTS (
            SELECT 1 FROM audit_log WHERE seq = NEW.seq AND entry_hash = NEW.entry_hash
        ) THEN
            RAISE EXCEPTION 'the audit chain head only moves one entry forward'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward()""",
    """CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
]

_DROP_SQLITE = [
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_chain_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_chain_head_forward",
]

_DROP_POSTGRES = [
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_chain_head",
    "DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head",
    "DROP FUNCTION IF EXISTS audit_chain_head_forward()",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
]


def audit_trigger_statements(dialect: str) -> list[str]:
    """The statements that create the append-only triggers on ``dialect``."""
    return list(_POSTGRES if dialect == "postgresql" else _SQLITE)


def drop_audit_trigger_statements(dialect: str) -> list[str]:
    return list(_DROP_POSTGRES if dialect == "postgresql" else _DROP_SQLITE)


def run_statements(execute: Callable[[str], object], statements: list[str]) -> None:
    for statement in statements:
        execute(statement)
