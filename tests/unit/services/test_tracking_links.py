"""Tracking tokens and link rewriting (no I/O)."""

from __future__ import annotations

from inboxcrm.services.tracking_links import (
    TrackingSigner,
    rewrite_html_links,
    rewrite_text_links,
    text_to_html,
)

SIGNER = TrackingSigner("unit-test-secret")


def test_tokens_round_trip_and_other_keys_refuse_them() -> None:
    token = SIGNER.click_token(
        "acme", 7, "a@b.example", 1_700_000_000, 2, "https://x.example/p?q=1"
    )
    claim = SIGNER.verify(token)
    assert claim is not None
    assert (claim.kind, claim.tenant, claim.outbound_id, claim.link) == ("click", "acme", 7, 2)
    assert claim.url == "https://x.example/p?q=1"
    assert TrackingSigner("another-secret").verify(token) is None
    opened = SIGNER.verify(SIGNER.open_token("acme", 7, "a@b.example", 1))
    assert opened is not None and opened.kind == "open" and opened.url is None


def test_garbage_never_verifies() -> None:
    for token in ["", ".", "abc", "a.b.c", "x" * 9000, "%%%.%%%", "e30.AAAA"]:
        assert SIGNER.verify(token) is None


def test_html_links_are_rewritten_and_others_left_alone() -> None:
    seen: list[str] = []

    def track(url: str) -> str:
        seen.append(url)
        return f"https://crm.example/t/c/{len(seen)}"

    html = (
        "<a href=\"https://a.example/x?y=1&amp;z=2\">A</a> <A HREF='http://b.example'>B</A> "
        '<a href="mailto:x@y.example">M</a> <a href="javascript:alert(1)">J</a>'
    )
    out = rewrite_html_links(html, track)
    assert seen == ["https://a.example/x?y=1&z=2", "http://b.example"]
    assert 'href="https://crm.example/t/c/1"' in out and 'HREF="https://crm.example/t/c/2"' in out
    assert "mailto:x@y.example" in out and "javascript:alert(1)" in out


def test_text_links_keep_trailing_punctuation() -> None:
    out = rewrite_text_links("See https://a.example/docs. Or (http://b.example)!", lambda u: "T")
    assert out == "See T. Or (T)!"
    assert 'href="https://a.example/docs"' in text_to_html("go https://a.example/docs.")
