"""one timeline entry per email across a tenant's mailboxes; atomic contact auto-creation

- ``email_message_keys``: the tenant-wide identity of an email (RFC Message-ID and sender, else a
  content hash); every stored copy gets ``email_messages.message_key_id``.
- ``email`` timeline entries point at the identity instead of one copy: entries of copies of the
  same email on the same record are merged into the oldest entry; entries whose message is gone
  are dropped.
- ``record_emails.auto_created`` with a partial unique index: one auto-created contact per
  address.

Revision ID: 0411
Revises: 0301
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types
from inboxcrm.domain.message_keys import message_dedup_key

revision: str = "0411"
down_revision: str | None = "0401"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _assign_keys(conn: sa.Connection) -> None:
    messages = sa.table(
        "email_messages",
        sa.column("id", sa.Integer()),
        sa.column("message_id_header", sa.String()),
        sa.column("from_address", sa.String()),
        sa.column("to_addresses", sa.JSON()),
        sa.column("cc_addresses", sa.JSON()),
        sa.column("subject", sa.Text()),
        sa.column("sent_at", inboxcrm.adapters.db.types.UTCDateTime()),
        sa.column("message_key_id", sa.Integer()),
    )
    keys = sa.table(
        "email_message_keys",
        sa.column("id", sa.Integer()),
        sa.column("dedup_key", sa.String()),
        sa.column("created_at", inboxcrm.adapters.db.types.UTCDateTime()),
    )
    known: dict[str, int] = {}
    last_id = 0
    now = inboxcrm.adapters.db.types.utcnow()
    while True:
        rows = conn.execute(
            sa.select(messages).where(messages.c.id > last_id).order_by(messages.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        batch = {
            row.id: message_dedup_key(
                message_id_header=row.message_id_header,
                from_address=row.from_address,
                to=row.to_addresses or (),
                cc=row.cc_addresses or (),
                subject=row.subject,
                sent_at=row.sent_at,
            )
            for row in rows
        }
        new = sorted(set(batch.values()) - set(known))
        if new:
            conn.execute(sa.insert(keys), [{"dedup_key": k, "created_at": now} for k in new])
            known.update(
                conn.execute(
                    sa.select(keys.c.dedup_key, keys.c.id).where(keys.c.dedup_key.in_(new))
                ).all()
            )
        conn.execute(
            sa.update(messages)
            .where(messages.c.id == sa.bindparam("message_id"))
            .values(message_key_id=sa.bindparam("key_id")),
            [{"message_id": i, "key_id": known[k]} for i, k in batch.items()],
        )
        last_id = rows[-1].id


def upgrade() -> None:
    op.create_table(
        "email_message_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_message_keys")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_email_message_keys_dedup_key")),
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_key_id", sa.Integer(), nullable=True))

    conn = op.get_bind()
    _assign_keys(conn)
    # Entries whose message is gone cannot be kept; copies' entries on one record merge into
    # the oldest; the survivors point at the identity.
    conn.execute(
        sa.text(
            "DELETE FROM activities WHERE kind = 'email' AND NOT EXISTS "
            "(SELECT 1 FROM email_messages m WHERE m.id = activities.ref_id)"
        )
    )
    conn.execute(
        sa.text(
            "DELETE FROM activities WHERE kind = 'email' AND EXISTS ("
            " SELECT 1 FROM activities older"
            " JOIN email_messages om ON om.id = older.ref_id"
            " JOIN email_messages m ON m.id = activities.ref_id"
            " WHERE older.kind = 'email' AND older.record_kind = activities.record_kind"
            " AND older.record_id = activities.record_id"
            " AND om.message_key_id = m.message_key_id AND older.id < activities.id)"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE activities SET ref_id = (SELECT m.message_key_id FROM email_messages m"
            " WHERE m.id = activities.ref_id) WHERE kind = 'email'"
        )
    )

    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.alter_column("message_key_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_email_messages_message_key_id"), ["message_key_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_email_messages_message_key_id_email_message_keys"),
            "email_message_keys",
            ["message_key_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    with op.batch_alter_table("record_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_created", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        "uq_record_emails_auto_created_email",
        "record_emails",
        ["email"],
        unique=True,
        sqlite_where=sa.text("auto_created"),
        postgresql_where=sa.text("auto_created"),
    )


def downgrade() -> None:
    op.drop_index("uq_record_emails_auto_created_email", table_name="record_emails")
    with op.batch_alter_table("record_emails", schema=None) as batch_op:
        batch_op.drop_column("auto_created")
    conn = op.get_bind()
    # Entries go back to pointing at one copy (the oldest) of their email.
    conn.execute(
        sa.text(
            "UPDATE activities SET ref_id = (SELECT MIN(m.id) FROM email_messages m"
            " WHERE m.message_key_id = activities.ref_id) WHERE kind = 'email'"
        )
    )
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_email_messages_message_key_id_email_message_keys"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_email_messages_message_key_id"))
        batch_op.drop_column("message_key_id")
    op.drop_table("email_message_keys")
