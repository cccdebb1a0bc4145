"""Indexes of the record search box (tenant migration 1301).

One index per searched field, on the field folded to lower case, so that a word's prefix is one
range scan (see :mod:`inboxcrm.services.record_search`). On PostgreSQL they use
``text_pattern_ops``, so that ``LIKE 'word%'`` is a range scan under any database collation,
and include the row's id, so that gathering a word's matches reads the index only.
The email domain has an index per dialect, as each spells "the part after the @" differently
(see :data:`DIALECT_ONLY_INDEXES`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, func

from inboxcrm.adapters.db.tenant_tables import AccountRow, ContactRow, LeadRow, RecordEmailRow

_PATTERN_OPS = "text_pattern_ops"


def _lower_index(name: str, column: Any) -> Index:
    label = f"{column.key}_lower"
    return Index(
        name,
        func.lower(column).label(label),
        postgresql_ops={label: _PATTERN_OPS},
        postgresql_include=["id"],
    )


SEARCH_INDEXES = (
    _lower_index("ix_leads_search_first_name", LeadRow.first_name),
    _lower_index("ix_leads_search_last_name", LeadRow.last_name),
    _lower_index("ix_leads_search_company", LeadRow.company),
    _lower_index("ix_contacts_search_first_name", ContactRow.first_name),
    _lower_index("ix_contacts_search_last_name", ContactRow.last_name),
    _lower_index("ix_contacts_search_title", ContactRow.title),
    _lower_index("ix_accounts_search_name", AccountRow.name),
    _lower_index("ix_accounts_search_domain", AccountRow.domain),
    _lower_index("ix_accounts_search_industry", AccountRow.industry),
    Index(
        "ix_record_emails_search_email",
        RecordEmailRow.record_kind,
        RecordEmailRow.email,
        postgresql_ops={"email": _PATTERN_OPS},
        postgresql_include=["record_id"],
    ),
)

#: The email-domain index of each dialect: built by migration 1301 only (an expression each
#: dialect spells its own way, which a model-level index cannot say), so the comparison of
#: models and migrations leaves them out.
DIALECT_ONLY_INDEXES = frozenset(
    {"ix_record_emails_search_domain", "ix_record_emails_search_domain_pg"}
)
