"""support access: staff, staff tokens, support grants, the control plane's audit log

Revision ID: 0401
Revises: 0101
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

revision: str = "0401"
down_revision: str | None = "0301"
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
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("user_id", name=op.f("uq_staff_members_user_id")),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_tokens_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_tokens_token_hash")),
    )
    with op.batch_alter_table("staff_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_tokens_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "support_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_support_grants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_grants")),
    )
    with op.batch_alter_table("support_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_grants_tenant_expires", ["tenant_id", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("support_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_support_grants_tenant_expires")
    op.drop_table("support_grants")
    with op.batch_alter_table("staff_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_tokens_staff_id"))
    op.drop_table("staff_tokens")
    op.drop_table("staff_members")
    for statement in drop_audit_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("audit_chain_head")
    op.drop_table("audit_log")
