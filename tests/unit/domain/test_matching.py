"""Record matching, direction, never-log rules, and BCC logging addresses."""

from __future__ import annotations

import pytest

from inboxcrm.domain.bcc import bcc_address, bcc_hash, bcc_hash_in, bcc_hashes_in
from inboxcrm.domain.mail_parsing import ParsedMail, parse_message
from inboxcrm.domain.matching import Match, MessageMatcher, NeverLogList

SECRET = b"test-secret-key"
OWN = ("rep@ourco.com", "sales@ourco.com")


def mail(
    sender: str, to: str = "", cc: str = "", bcc: str = "", delivered_to: str = ""
) -> ParsedMail:
    headers = [f"From: {sender}", f"To: {to}", "Subject: hello"]
    if cc:
        headers.append(f"Cc: {cc}")
    if bcc:
        headers.append(f"Bcc: {bcc}")
    if delivered_to:
        headers.append(f"Delivered-To: {delivered_to}")
    return parse_message(("\r\n".join(headers) + "\r\n\r\nbody").encode())


def matcher(**overrides: object) -> MessageMatcher:
    options: dict[str, object] = {
        "own_addresses": OWN,
        "records_by_address": {
            "bob@customer.com": ["t1:contact:1"],
            "amy@customer.com": ["t1:contact:2", "t1:lead:9"],
            "joe@gmail.com": ["t1:lead:3"],
        },
        "records_by_domain": {"customer.com": ["t1:account:5"], "gmail.com": ["t1:account:6"]},
        "bcc_records": {bcc_hash("t1:contact:7", SECRET): "t1:contact:7"},
    }
    options.update(overrides)
    return MessageMatcher(**options)  # type: ignore[arg-type]


def test_inbound_address_and_domain_matches() -> None:
    result = matcher().match(mail("Bob <Bob@Customer.com>", to="rep@ourco.com"))
    assert result.direction == "inbound"
    assert result.stored
    assert result.matches == (
        Match("t1:contact:1", "address", "bob@customer.com"),
        Match("t1:account:5", "address", "@customer.com"),
    )
    assert result.counterparts == ("bob@customer.com",)


def test_outbound_via_send_as_alias_and_several_records() -> None:
    result = matcher().match(mail("sales@ourco.com", to="amy@customer.com", cc="x@other.org"))
    assert result.direction == "outbound"
    assert result.record_keys == ("t1:contact:2", "t1:lead:9", "t1:account:5")
    assert result.counterparts == ("amy@customer.com", "x@other.org")


def test_free_mail_domains_never_match_whole_domain_records() -> None:
    result = matcher().match(mail("stranger@gmail.com", to="rep@ourco.com"))
    assert not result.stored and result.skip_reason == "no_match"
    result = matcher().match(mail("joe@gmail.com", to="rep@ourco.com"))
    assert result.record_keys == ("t1:lead:3",)


def test_unmatched_mail_is_skipped() -> None:
    result = matcher().match(mail("someone@else.org", to="rep@ourco.com"))
    assert result.skip_reason == "no_match"
    assert result.matches == ()


def test_never_logged_address_blocks_the_only_match() -> None:
    never = NeverLogList.from_entries(["Bob@customer.com"])
    result = matcher(never_log=never).match(mail("bob@customer.com", to="rep@ourco.com"))
    assert result.skip_reason == "never_log"
    assert not result.stored


def test_never_logged_domain_covers_subdomains_and_domain_records() -> None:
    never = NeverLogList.from_entries(["@customer.com"])
    assert never.blocks("x@eu.customer.com")
    assert never.blocks("bob@customer.com")
    assert not never.blocks("bob@notcustomer.com")
    result = matcher(never_log=never).match(mail("amy@customer.com", to="rep@ourco.com"))
    assert result.skip_reason == "never_log"


def test_other_matching_counterpart_keeps_the_message() -> None:
    never = NeverLogList.from_entries(["bob@customer.com"])
    result = matcher(never_log=never, records_by_domain={}).match(
        mail("rep@ourco.com", to="bob@customer.com", cc="joe@gmail.com")
    )
    assert result.stored
    assert result.record_keys == ("t1:lead:3",)


def test_thread_links_need_a_counterpart_that_is_not_never_logged() -> None:
    m = mail("rep@ourco.com", to="nobody@else.org")
    result = matcher().match(m, thread_record_keys=["t1:contact:1"])
    assert result.matches == (Match("t1:contact:1", "thread", ""),)
    blocked = matcher(never_log=NeverLogList(domains=["else.org"])).match(
        m, thread_record_keys=["t1:contact:1"]
    )
    assert blocked.skip_reason == "never_log"


def test_excluded_own_domain_counterparts() -> None:
    colleague = {"records_by_address": {"boss@ourco.com": ["t1:contact:99"]}}
    m = mail("boss@ourco.com", to="rep@ourco.com")
    assert matcher(**colleague).match(m).record_keys == ("t1:contact:99",)
    excluded = matcher(**colleague, excluded_domains=["ourco.com"]).match(m)
    assert excluded.skip_reason == "no_match"
    assert excluded.counterparts == ()


def test_bcc_address_links_the_record_in_any_recipient_header() -> None:
    tagged = bcc_address("Rep@OurCo.com", "t1:contact:7", SECRET)
    assert tagged.startswith("rep+") and tagged.endswith("@ourco.com")
    for header in ("to", "cc", "bcc"):
        m = mail("rep@ourco.com", **{header: f"someone@else.org, {tagged.upper()}"})
        result = matcher().match(m)
        assert result.matches == (Match("t1:contact:7", "bcc", tagged),), header
        assert result.counterparts == ("someone@else.org",)
    # BCC is deliberate: it applies even when every counterpart is never-logged
    result = matcher(never_log=NeverLogList(domains=["else.org"])).match(
        mail("rep@ourco.com", to="someone@else.org", bcc=tagged)
    )
    assert result.record_keys == ("t1:contact:7",)


def test_bcc_via_delivered_to() -> None:
    tagged = bcc_address("rep@ourco.com", "t1:contact:7", SECRET)
    result = matcher().match(mail("x@else.org", to="list@else.org", delivered_to=tagged))
    assert result.record_keys == ("t1:contact:7",)


def test_bcc_hash_properties() -> None:
    tag = bcc_hash("tenant-a:contact:1", SECRET)
    assert len(tag) == 10 and tag == tag.lower() and tag.isalnum()
    assert tag == bcc_hash("tenant-a:contact:1", SECRET)
    assert tag != bcc_hash("tenant-b:contact:1", SECRET)
    assert tag != bcc_hash("tenant-a:contact:1", b"other secret")
    address = bcc_address("rep+old@ourco.com", "tenant-a:contact:1", SECRET)
    assert address == f"rep+{tag}@ourco.com"
    assert bcc_hash_in(address.upper(), {"rep@ourco.com"}) == tag
    assert bcc_hash_in(address, {"other@ourco.com"}) is None
    assert bcc_hash_in("rep+short@ourco.com", {"rep@ourco.com"}) is None
    assert bcc_hash_in("rep@ourco.com", {"rep@ourco.com"}) is None
    assert bcc_hashes_in([address, "x@y.com", address], {"rep@ourco.com"}) == [tag]
    with pytest.raises(ValueError):
        bcc_hash("k", b"")
