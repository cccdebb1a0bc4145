"""The search box of Leads, Contacts and Accounts: prefix search that an index answers.

A record matches a query when every word of the query is the beginning of one of its fields,
case-insensitively, or when the whole query is (so ``power plant`` finds the company "Power
Plant"). The fields of each kind:

- lead: first name, last name, company;
- contact: first name, last name, title, its account's name;
- account: name, domain, industry;

and for all three every email address of the record and that address's domain (``hank@globex.com``
is found by ``hank``, ``hank@glo`` and ``globex.c``). Wildcards (``%``, ``_``) are literal.

Each (word, field) pair is one range scan of an index (tenant migration 1301; the plans and the
figures are in docs/decisions/0007-record-search-indexes.md): the query asks for the records
whose id is in the union of those scans, so the work grows with the number of records that
match, not with the size of the table. On SQLite the range is ``lower(field) >= word`` and
``< word+1`` (SQLite compares text bytewise and its ``lower`` folds ASCII only, so a word is
folded the same way); on PostgreSQL it is ``lower(field) LIKE 'word%'`` over an index with
``text_pattern_ops``, which the planner turns into the same range whatever the database's
collation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
    union_all,
)

from inboxcrm.adapters.db.tenant_tables import AccountRow, ContactRow, LeadRow, RecordEmailRow
from inboxcrm.domain.records import RecordKind, search_terms

__all__ = ["email_domain", "search_conditions"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_domain(dialect: str) -> ColumnElement[str]:
    """The domain part of ``record_emails.email`` as the dialect's index expression spells it."""
    at = literal_column("'@'")  # literals, not parameters: the index's expression must match
    if dialect == "postgresql":
        return func.split_part(RecordEmailRow.email, at, literal_column("2"))
    return func.substr(
        RecordEmailRow.email, func.instr(RecordEmailRow.email, at) + literal_column("1")
    )


def _upper_bound(word: str) -> str | None:
    """The smallest string above every string that starts with ``word`` (None: no bound)."""
    for cut in range(len(word) - 1, -1, -1):
        code = ord(word[cut]) + 1
        if code == 0xD800:
            code = 0xE000
        if code <= 0x10FFFF:
            return word[:cut] + chr(code)
    return None


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _starts_with(expr: Any, word: str, dialect: str) -> ColumnElement[bool]:
    """``expr`` (already folded to lower case) begins with ``word`` (already folded)."""
    if dialect == "postgresql":
        return expr.like(_escape_like(word), escape="\\")  # type: ignore[no-any-return]
    bound = _upper_bound(word)
    if bound is None:
        return expr >= word  # type: ignore[no-any-return]
    return and_(expr >= word, expr < bound)


def _fold(word: str, dialect: str) -> str:
    return word.lower() if dialect == "postgresql" else word.translate(_ASCII_LOWER)


def _email_branches(kind: RecordKind, word: str, dialect: str) -> list[Select[Any]]:
    # Addresses are stored in canonical (lower-case) form: no fold on the column.
    return [
        select(RecordEmailRow.record_id).where(
            RecordEmailRow.record_kind == kind, _starts_with(expr, word, dialect)
        )
        for expr in (RecordEmailRow.email, email_domain(dialect))
    ]


def _own_fields(kind: RecordKind) -> tuple[Any, Sequence[Any]]:
    if kind == "lead":
        return LeadRow.id, (LeadRow.first_name, LeadRow.last_name, LeadRow.company)
    if kind == "contact":
        return ContactRow.id, (ContactRow.first_name, ContactRow.last_name, ContactRow.title)
    return AccountRow.id, (AccountRow.name, AccountRow.domain, AccountRow.industry)


def _matching_ids(kind: RecordKind, word: str, dialect: str) -> CompoundSelect[Any]:
    """The ids of the records of ``kind`` with a field that starts with ``word``."""
    folded = _fold(word, dialect)
    id_column, fields = _own_fields(kind)
    branches: list[Select[Any]] = [
        select(id_column).where(_starts_with(func.lower(field), folded, dialect))
        for field in fields
    ]
    if kind == "contact":
        accounts = select(AccountRow.id).where(
            _starts_with(func.lower(AccountRow.name), folded, dialect)
        )
        branches.append(select(ContactRow.id).where(ContactRow.account_id.in_(accounts)))
    branches += _email_branches(kind, folded, dialect)
    return union_all(*branches)


def search_conditions(
    kind: RecordKind, id_column: Any, query: str | None, dialect: str
) -> list[ColumnElement[bool]]:
    """Conditions on ``id_column`` that keep the records of ``kind`` matching ``query``."""
    words = search_terms(query)
    if not words:
        return []
    each_word = and_(*(id_column.in_(_matching_ids(kind, w, dialect)) for w in words))
    if len(words) == 1:
        return [each_word]
    phrase = " ".join(words)
    return [or_(each_word, id_column.in_(_matching_ids(kind, phrase, dialect)))]
