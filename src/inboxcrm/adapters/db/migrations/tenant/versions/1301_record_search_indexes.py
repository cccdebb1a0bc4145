"""record search indexes: each searched field folded to lower case, emails and their domains

Revision ID: 1301
Revises: 1201
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1301"
down_revision: str | None = "1201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOWER = (
    ("ix_leads_search_first_name", "leads", "first_name"),
    ("ix_leads_search_last_name", "leads", "last_name"),
    ("ix_leads_search_company", "leads", "company"),
    ("ix_contacts_search_first_name", "contacts", "first_name"),
    ("ix_contacts_search_last_name", "contacts", "last_name"),
    ("ix_contacts_search_title", "contacts", "title"),
    ("ix_accounts_search_name", "accounts", "name"),
    ("ix_accounts_search_domain", "accounts", "domain"),
    ("ix_accounts_search_industry", "accounts", "industry"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL: pattern operators (LIKE 'word%' as a range under any collation), and the id
    # in the index so that gathering a word's matches reads the index only.
    ops = " text_pattern_ops" if postgres else ""
    for name, table, column in _LOWER:
        include = " INCLUDE (id)" if postgres else ""
        op.execute(f"CREATE INDEX {name} ON {table} (lower({column}){ops}){include}")
    include = " INCLUDE (record_id)" if postgres else ""
    op.execute(
        "CREATE INDEX ix_record_emails_search_email ON record_emails "
        f"(record_kind, email{ops}){include}"
    )
    if postgres:
        op.execute(
            "CREATE INDEX ix_record_emails_search_domain_pg ON record_emails "
            "(record_kind, split_part(email, '@', 2) text_pattern_ops) INCLUDE (record_id)"
        )
    else:
        op.execute(
            "CREATE INDEX ix_record_emails_search_domain ON record_emails "
            "(record_kind, substr(email, instr(email, '@') + 1))"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    domain = "ix_record_emails_search_domain_pg" if postgres else "ix_record_emails_search_domain"
    for name in (domain, "ix_record_emails_search_email", *(n for n, _, _ in _LOWER)):
        op.execute(f"DROP INDEX {name}")
