"""The pure sharing rules: clamping to the tenant maximum, overrides, what each reader sees."""

from __future__ import annotations

import itertools

import pytest

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.sharing import (
    DEFAULT_ACCOUNT_LEVEL,
    DEFAULT_MAXIMUM,
    Detail,
    Relation,
    SharingLevel,
    Visibility,
    check_within,
    clamp,
    detail_seen,
    effective_level,
    open_visibilities,
    parse_detail,
    parse_visibility,
)

V, D = Visibility, Detail


def test_defaults_share_everything_with_the_tenant() -> None:
    assert SharingLevel(V.TENANT, D.EVERYTHING) == DEFAULT_ACCOUNT_LEVEL
    assert SharingLevel(V.TENANT, D.EVERYTHING) == DEFAULT_MAXIMUM


def test_clamp_lowers_each_scale_separately() -> None:
    maximum = SharingLevel(V.TEAM, D.SUBJECT)
    assert clamp(SharingLevel(V.TENANT, D.METADATA), maximum) == SharingLevel(V.TEAM, D.METADATA)
    assert clamp(SharingLevel(V.PRIVATE, D.EVERYTHING), maximum) == SharingLevel(
        V.PRIVATE, D.SUBJECT
    )


def test_thread_overrides_replace_the_account_level_within_the_maximum() -> None:
    account = SharingLevel(V.PRIVATE, D.METADATA)
    assert effective_level(account, None, None, DEFAULT_MAXIMUM) == account
    assert effective_level(account, V.TENANT, None, DEFAULT_MAXIMUM) == SharingLevel(
        V.TENANT, D.METADATA
    )
    narrow = SharingLevel(V.TEAM, D.SUBJECT)
    assert effective_level(account, V.TENANT, D.EVERYTHING, narrow) == narrow


@pytest.mark.parametrize(
    ("relation", "visibility", "detail", "seen"),
    [
        (Relation.OWNER, V.PRIVATE, D.METADATA, D.EVERYTHING),
        (Relation.TEAM, V.PRIVATE, D.EVERYTHING, None),
        (Relation.TEAM, V.TEAM, D.SUBJECT, D.SUBJECT),
        (Relation.TEAM, V.TENANT, D.METADATA, D.METADATA),
        (Relation.OTHER, V.TEAM, D.EVERYTHING, None),
        (Relation.OTHER, V.TENANT, D.SUBJECT, D.SUBJECT),
    ],
)
def test_detail_seen(
    relation: Relation, visibility: Visibility, detail: Detail, seen: Detail | None
) -> None:
    assert detail_seen(relation, SharingLevel(visibility, detail)) == seen


def test_open_visibilities_agree_with_detail_seen_for_every_combination() -> None:
    # The SQL filter uses open_visibilities; the redaction uses detail_seen: they must agree.
    for relation, stored, max_v, max_d in itertools.product(
        (Relation.TEAM, Relation.OTHER), Visibility, Visibility, Detail
    ):
        maximum = SharingLevel(max_v, max_d)
        level = clamp(SharingLevel(stored, D.EVERYTHING), maximum)
        visible = detail_seen(relation, level) is not None
        assert visible == (stored in open_visibilities(relation, maximum))
    assert open_visibilities(Relation.OTHER, SharingLevel(V.TEAM, D.EVERYTHING)) == frozenset()


def test_detail_flags() -> None:
    assert [d.shows_subject for d in Detail] == [False, True, True]
    assert [d.shows_content for d in Detail] == [False, False, True]


def test_choices_above_the_maximum_and_unknown_values_are_refused() -> None:
    maximum = SharingLevel(V.TEAM, D.SUBJECT)
    check_within(V.TEAM, D.SUBJECT, maximum)
    check_within(None, None, maximum)
    with pytest.raises(InvalidInput) as raised:
        check_within(V.TENANT, None, maximum)
    assert raised.value.field == "visibility"
    with pytest.raises(InvalidInput) as raised:
        check_within(None, D.EVERYTHING, maximum)
    assert raised.value.field == "detail"
    assert parse_visibility(" Team ") is V.TEAM
    assert parse_detail("subject") is D.SUBJECT
    with pytest.raises(InvalidInput):
        parse_visibility("world")
    with pytest.raises(InvalidInput):
        parse_detail("body")
