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
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import AccountRow, ContactRow, LeadRow, RecordEmailRow
from inboxcrm.domain.records import RecordKind, search_terms

__all__ = ["email_domain", "search_conditions"]

#: Below this many matches of a word, the matching ids are gathered from the indexes and
#: sorted; from this many on, the rows are scanned in id order and tested one by one.
SPARSE_LIMIT = 5000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_domain(dialect: str) -> ColumnElement[str]:
    """The domain part of ``record_emails.email`` as the dialect's index expression spells it."""
    at: ColumnElement[str] = literal_column(
        "'@'"
    )  # literals, not parameters: the index's expression must match
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


def _own_fields(kind: RecordKind) -> tuple[Any, Sequence[Any]]:
    if kind == "lead":
        return LeadRow.id, (LeadRow.first_name, LeadRow.last_name, LeadRow.company)
    if kind == "contact":
        return ContactRow.id, (ContactRow.first_name, ContactRow.last_name, ContactRow.title)
    return AccountRow.id, (AccountRow.name, AccountRow.domain, AccountRow.industry)


def _branches(kind: RecordKind, word: str, dialect: str) -> list[Select[Any]]:
    """One select per field: the ids of the records of ``kind`` whose field starts with
    ``word`` (each one index range scan)."""
    id_column, fields = _own_fields(kind)
    branches: list[Select[Any]] = [
        select(id_column).where(_starts_with(func.lower(field), word, dialect)) for field in fields
    ]
    if kind == "contact":
        branches.append(
            select(ContactRow.id).where(ContactRow.account_id.in_(_accounts(word, dialect)))
        )
    branches += [
        select(RecordEmailRow.record_id).where(
            RecordEmailRow.record_kind == kind, _starts_with(expr, word, dialect)
        )
        for expr in (RecordEmailRow.email, email_domain(dialect))
    ]
    return branches


def _accounts(word: str, dialect: str) -> Select[Any]:
    return select(AccountRow.id).where(_starts_with(func.lower(AccountRow.name), word, dialect))


def _row_matches(kind: RecordKind, id_column: Any, word: str, dialect: str) -> ColumnElement[bool]:
    """The same test as :func:`_branches`, on each row of a scan in id order.

    The fields are wrapped in ``coalesce`` so that no planner answers it with the field
    indexes (that would gather every match again): for a common word the scan by id meets a
    page of matches within a few thousand rows.
    """
    _, fields = _own_fields(kind)
    tests = [_starts_with(func.coalesce(func.lower(f), ""), word, dialect) for f in fields]
    if kind == "contact":
        tests.append(ContactRow.account_id.in_(_accounts(word, dialect)))
    email = func.coalesce(RecordEmailRow.email, "")
    domain = func.coalesce(email_domain(dialect), "")
    # A correlated "first match or NULL", not EXISTS: PostgreSQL may answer an EXISTS inside an
    # OR with a hashed subplan, i.e. by reading every address of the tenant first.
    first_address = (
        select(literal_column("1"))
        .where(
            RecordEmailRow.record_kind == kind,
            RecordEmailRow.record_id == id_column,
            or_(_starts_with(email, word, dialect), _starts_with(domain, word, dialect)),
        )
        .limit(1)
        .scalar_subquery()
    )
    tests.append(first_address.is_not(None))
    return or_(*tests)


def _gather(
    session: Session, kind: RecordKind, id_column: Any, word: str, dialect: str
) -> set[int] | ColumnElement[bool]:
    """The matches of ``word``: their ids, read from the indexes, when they are fewer than
    :data:`SPARSE_LIMIT`; else the test of each row.

    The ids are read with a limit, so that telling costs at most that many index entries (per
    field on PostgreSQL, which would otherwise read a common word's every match into bitmaps
    before applying a limit over the union; SQLite streams the union and stops).
    """
    folded = _fold(word, dialect)
    branches = _branches(kind, folded, dialect)
    if dialect == "postgresql":
        # Count first (index-only, limited in each field's scan), read the ids only when few.
        counts = [
            select(func.count())
            .select_from(b.with_only_columns(literal_column("1")).limit(SPARSE_LIMIT).subquery())
            .scalar_subquery()
            for b in branches
        ]
        if int(session.scalar(select(sum_of(counts))) or 0) >= SPARSE_LIMIT:
            return _row_matches(kind, id_column, folded, dialect)
        found = union_all(*branches)
    else:
        found = union_all(*branches).limit(SPARSE_LIMIT)
    rows = session.execute(found).scalars().all()
    if len(rows) < SPARSE_LIMIT:
        ids = set(rows)
        if len(ids) < SPARSE_LIMIT:
            return ids
    return _row_matches(kind, id_column, folded, dialect)


def sum_of(values: Sequence[Any]) -> Any:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _in(id_column: Any, ids: set[int]) -> ColumnElement[bool]:
    return id_column.in_(sorted(ids))  # type: ignore[no-any-return]


def search_conditions(
    session: Session, kind: RecordKind, id_column: Any, query: str | None
) -> list[ColumnElement[bool]]:
    """Conditions on the rows of ``kind`` (``id_column`` is their id) that keep the records
    matching ``query``.

    Words with few matches are answered by their ids (intersected over the words, with the
    whole query's matches beside them), as one ``id IN (...)`` of literal ids, which every
    planner answers from the primary key; words with many matches by the test of each row.
    """
    words = search_terms(query)
    if not words:
        return []
    dialect = session.get_bind().dialect.name
    found = [_gather(session, kind, id_column, w, dialect) for w in words]
    sparse = [f for f in found if isinstance(f, set)]
    dense = [f for f in found if not isinstance(f, set)]
    candidates = set.intersection(*sparse) if sparse else None
    if len(words) == 1:
        return [_in(id_column, candidates) if candidates is not None else dense[0]]
    phrase = _gather(session, kind, id_column, " ".join(words), dialect)
    if not isinstance(phrase, set):  # a common phrase: the scan tests each row
        each_word = and_(*([_in(id_column, candidates)] if candidates is not None else []), *dense)
        return [or_(each_word, phrase)]
    if candidates is None:
        return [or_(and_(*dense), _in(id_column, phrase))]
    if not dense:
        return [_in(id_column, candidates | phrase)]
    return [_in(id_column, candidates | phrase), or_(and_(*dense), _in(id_column, phrase))]
