"""Who inside a tenant may read a colleague's synced mail, and how much of it (pure rules).

Two ordered scales describe a sharing level:

- visibility, who sees the mail at all: ``private`` (only the mailbox owner) < ``team`` (the
  owner's team: members with the same, non-empty team) < ``tenant`` (every member);
- detail, what those others see: ``metadata`` (from, to, cc, date, direction) < ``subject``
  (+ subject) < ``everything`` (+ snippet, bodies, attachment names).

The tenant's admins set a maximum; a mailbox owner chooses a level for each mail account and may
override it per thread (visibility and detail independently). Whatever is stored, the level in
force is clamped to the tenant maximum when someone reads, so lowering the maximum takes effect at
once. The mailbox owner always sees everything of their own mail; every other member (tenant
admins and owners included) is a colleague like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inboxcrm.domain.errors import InvalidInput

__all__ = [
    "DEFAULT_ACCOUNT_LEVEL",
    "DEFAULT_MAXIMUM",
    "Detail",
    "Relation",
    "SharingLevel",
    "Visibility",
    "check_within",
    "clamp",
    "detail_seen",
    "effective_level",
    "open_visibilities",
    "parse_detail",
    "parse_visibility",
]


class Visibility(StrEnum):
    PRIVATE = "private"
    TEAM = "team"
    TENANT = "tenant"

    @property
    def rank(self) -> int:
        return _VISIBILITY_ORDER.index(self)


class Detail(StrEnum):
    METADATA = "metadata"
    SUBJECT = "subject"
    EVERYTHING = "everything"

    @property
    def rank(self) -> int:
        return _DETAIL_ORDER.index(self)

    @property
    def shows_subject(self) -> bool:
        return self.rank >= Detail.SUBJECT.rank

    @property
    def shows_content(self) -> bool:
        """Snippet, bodies and attachment names."""
        return self is Detail.EVERYTHING


_VISIBILITY_ORDER = (Visibility.PRIVATE, Visibility.TEAM, Visibility.TENANT)
_DETAIL_ORDER = (Detail.METADATA, Detail.SUBJECT, Detail.EVERYTHING)


class Relation(StrEnum):
    """How a reader stands to a mailbox."""

    OWNER = "owner"
    TEAM = "team"  # a member of the owner's team
    OTHER = "other"  # anyone else in the tenant


#: The least visibility that lets each relation see mail.
_NEEDED = {Relation.OWNER: Visibility.PRIVATE, Relation.TEAM: Visibility.TEAM,
           Relation.OTHER: Visibility.TENANT}  # fmt: skip


@dataclass(frozen=True)
class SharingLevel:
    visibility: Visibility
    detail: Detail


#: Until an owner chooses: colleagues see all of it, as before sharing levels existed.
DEFAULT_ACCOUNT_LEVEL = SharingLevel(Visibility.TENANT, Detail.EVERYTHING)
#: Until an admin restricts it: owners may share with the whole tenant, everything.
DEFAULT_MAXIMUM = SharingLevel(Visibility.TENANT, Detail.EVERYTHING)


def parse_visibility(value: str, *, field: str = "visibility") -> Visibility:
    try:
        return Visibility(value.strip().lower())
    except ValueError:
        allowed = ", ".join(v.value for v in Visibility)
        raise InvalidInput(f"{field} must be one of: {allowed}", field=field) from None


def parse_detail(value: str, *, field: str = "detail") -> Detail:
    try:
        return Detail(value.strip().lower())
    except ValueError:
        allowed = ", ".join(d.value for d in Detail)
        raise InvalidInput(f"{field} must be one of: {allowed}", field=field) from None


def clamp(level: SharingLevel, maximum: SharingLevel) -> SharingLevel:
    """``level`` lowered, on each scale, to at most ``maximum``."""
    visibility = min(level.visibility, maximum.visibility, key=lambda v: v.rank)
    detail = min(level.detail, maximum.detail, key=lambda d: d.rank)
    return SharingLevel(visibility, detail)


def check_within(
    visibility: Visibility | None, detail: Detail | None, maximum: SharingLevel
) -> None:
    """Refuse (InvalidInput) a chosen value above the tenant maximum; None is not a choice."""
    if visibility is not None and visibility.rank > maximum.visibility.rank:
        raise InvalidInput(
            f"the tenant allows sharing mail at most with: {maximum.visibility.value}",
            field="visibility",
        )
    if detail is not None and detail.rank > maximum.detail.rank:
        raise InvalidInput(
            f"the tenant allows sharing at most this detail: {maximum.detail.value}",
            field="detail",
        )


def effective_level(
    account: SharingLevel,
    thread_visibility: Visibility | None,
    thread_detail: Detail | None,
    maximum: SharingLevel,
) -> SharingLevel:
    """The level in force for a thread: its overrides, else its account's, within the maximum."""
    chosen = SharingLevel(thread_visibility or account.visibility, thread_detail or account.detail)
    return clamp(chosen, maximum)


def open_visibilities(relation: Relation, maximum: SharingLevel) -> frozenset[Visibility]:
    """The stored visibilities that let a reader in ``relation`` see the mail at all.

    Empty when the tenant maximum is below what the relation needs (``team`` maximum: nobody
    outside the owner's team sees anything, whatever owners chose).
    """
    needed = _NEEDED[relation]
    if maximum.visibility.rank < needed.rank:
        return frozenset()
    return frozenset(v for v in Visibility if v.rank >= needed.rank)


def detail_seen(relation: Relation, level: SharingLevel) -> Detail | None:
    """What a reader in ``relation`` sees of mail shared at ``level`` (None: nothing at all)."""
    if relation is Relation.OWNER:
        return Detail.EVERYTHING
    if level.visibility.rank < _NEEDED[relation].rank:
        return None
    return level.detail
