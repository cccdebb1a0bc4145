"""The outgoing message builder and its header checks (no I/O)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.outgoing_mail import (
    OutgoingAttachment,
    OutgoingMessage,
    build_message,
    check_header_text,
    clean_message_ids,
    parse_recipient,
    reply_subject,
    verify_headers,
)


def _message(**overrides: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "sender": parse_recipient("Rüdiger Rep <rep@acme.example>", "from"),
        "to": (parse_recipient("Ayşe Yilmaz <ayse@bücher.example>", "to"),),
        "cc": (),
        "bcc": (),
        "subject": "Teklif — görüşme",
        "body_text": "Merhaba Ayşe,\nteşekkürler.",
        "body_html": None,
        "message_id": "<m1@acme.example>",
        "date": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    }
    values.update(overrides)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def test_non_ascii_headers_are_encoded_and_decode_back() -> None:
    raw = build_message(_message())
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]) == "Teklif — görüşme"
    assert parsed["To"].addresses[0].display_name == "Ayşe Yilmaz"
    assert parsed["To"].addresses[0].addr_spec == "ayse@xn--bcher-kva.example"
    assert parsed["From"].addresses[0].display_name == "Rüdiger Rep"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body["Content-Transfer-Encoding"] == "quoted-printable"
    assert body.get_content().splitlines() == ["Merhaba Ayşe,", "teşekkürler."]


def test_text_and_html_are_alternatives_and_attachments_are_mixed() -> None:
    message = _message(
        body_html="<p>日本語のテキストです</p>",
        attachments=(OutgoingAttachment("rapor özeti.pdf", "application/pdf", b"%PDF-1"),),
    )
    parsed = email.message_from_bytes(build_message(message), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and html["Content-Transfer-Encoding"] == "base64"
    assert "日本語" in html.get_content()
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "rapor özeti.pdf"
    assert attachment.get_content() == b"%PDF-1"


def test_reply_headers_come_only_from_clean_message_ids() -> None:
    ids = clean_message_ids(
        ["<a@x.example>", "junk <b@y.example>\r\nBcc: e@vil", "<no-at-sign>", "<a@x.example>"]
    )
    assert ids == ["<a@x.example>", "<b@y.example>"]
    raw = build_message(_message(in_reply_to=ids[-1], references=tuple(ids)))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["In-Reply-To"] == "<b@y.example>"
    assert parsed["References"] == "<a@x.example> <b@y.example>"


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Pricing", "Re: Pricing"),
        ("Re: Pricing", "Re: Pricing"),
        ("RE: re: Aw: Pricing", "Re: Pricing"),
        ("Re[2]: Pricing", "Re: Pricing"),
        ("", "Re:"),
    ],
)
def test_reply_subject_has_one_prefix(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nBcc: x@y.example",
        "a\nb",
        "a\x00b",
        "a\tb",
        "a\u2028b",
        "a\u0085b",
        "=?utf-8?q?a=0D=0Ab?=",
        "=?utf-8?b?YQpi?=",
        "=?utf-8?x?what?=",
        "=?no-such-charset?q?a?=",
    ],
)
def test_header_text_with_breaks_or_controls_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_header_text(value, "subject")
    assert caught.value.field == "subject"


@pytest.mark.parametrize(
    "value",
    ["a@b.example, c@d.example", "Group: a@b.example;", "a b@c.example", "jörg@x.example", "x@y"],
)
def test_a_recipient_value_is_exactly_one_address(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_recipient(value, "cc")
    assert caught.value.field == "cc"


def test_address_is_kept_as_written() -> None:
    recipient = parse_recipient('"Doe, John" <John.Doe+crm@Example.COM>', "to")
    assert recipient.address == "John.Doe+crm@Example.COM"
    assert recipient.name == "Doe, John"


def test_verify_headers_catches_a_smuggled_recipient() -> None:
    message = _message()
    raw = build_message(message)
    smuggled = raw.replace(b"\r\nSubject:", b"\r\nBcc: evil@attacker.example\r\nSubject:", 1)
    verify_headers(raw, message)
    with pytest.raises(InvalidInput) as caught:
        verify_headers(smuggled, message)
    assert caught.value.field == "bcc"
