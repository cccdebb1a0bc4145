"""privacy: the append-only audit log with its chain head, exports, erasure requests, purge state

Revision ID: 0601
Revises: 0301
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types
from inboxcrm.adapters.db.audit_triggers import (
    audit_trigger_statements,
    drop_audit_trigger_statements,
)

revision: str = "0601"
down_revision: str | None = "0411"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def create_audit_tables() -> None:
    """``audit_log`` + ``audit_chain_head`` (seeded), and the append-only triggers."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_actor_user_id"), ["actor_user_id"], unique=False
        )
        batch_op.create_index("ix_audit_log_occurred_at", ["occurred_at"], unique=False)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS_HASH}])
    for statement in audit_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)


def upgrade() -> None:
    create_audit_tables()
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_export_jobs_requested_by_user_id"), ["requested_by_user_id"]
        )
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("deleted", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    op.create_table(
        "retention_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vacuum_pending", sa.Boolean(), nullable=False),
        sa.Column("last_purge_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_state")),
    )


def downgrade() -> None:
    op.drop_table("retention_state")
    op.drop_table("erasure_requests")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_requested_by_user_id"))
    op.drop_table("export_jobs")
    for statement in drop_audit_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("audit_chain_head")
    op.drop_table("audit_log")
