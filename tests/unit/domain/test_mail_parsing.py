"""parse_message: the stdlib email corpus, encodings, structure, and hostile input."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import test as stdlib_test  # type: ignore[import-not-found]

from inboxcrm.domain.mail_parsing import (
    ParsedMail,
    UnparseableMessage,
    decode_header_value,
    html_to_text,
    parse_message,
    snippet_of,
)

CORPUS = Path(stdlib_test.__file__).parent / "test_email" / "data"
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file())


def _parse_or_reason(raw: bytes) -> ParsedMail | str:
    try:
        return parse_message(raw)
    except UnparseableMessage as exc:
        assert exc.reason in {"not_bytes", "empty", "no_headers", "too_deep", "parser_failure"}
        return exc.reason


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) > 40


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_every_corpus_file_parses_or_is_rejected_with_a_reason(path: Path) -> None:
    outcome = _parse_or_reason(path.read_bytes())
    if path.suffix == ".txt" and not isinstance(outcome, ParsedMail):
        assert outcome == "no_headers"  # e.g. msg_19.txt is a bare digest body


def test_corpus_mail_files_almost_all_parse() -> None:
    outcomes = [_parse_or_reason(p.read_bytes()) for p in CORPUS_FILES if p.suffix == ".txt"]
    assert sum(isinstance(o, ParsedMail) for o in outcomes) >= len(outcomes) - 2


def test_corpus_message_fields() -> None:
    mail = parse_message((CORPUS / "msg_01.txt").read_bytes())
    assert mail.message_id == "<15090.61304.110929.45684@aaa.zzz.org>"
    assert mail.from_addresses == ("bbb@ddd.com",)
    assert mail.display_names["bbb@ddd.com"] == "John X. Doe"
    assert mail.to == ("bbb@zzz.org",)
    assert mail.subject == "This is a test message"
    assert mail.sent_at == datetime(2001, 5, 4, 18, 5, 44, tzinfo=UTC)
    assert mail.text_body is not None and "Do you like this message?" in mail.text_body


def test_corpus_attachment() -> None:
    mail = parse_message((CORPUS / "msg_07.txt").read_bytes())
    (gif,) = mail.attachments
    assert gif.filename == "dingusfish.gif"
    assert gif.mime_type == "image/gif"
    assert gif.size > 1000
    assert not gif.inline
    assert gif.part_path == "2"


@pytest.mark.parametrize("path", [p for p in CORPUS_FILES if p.suffix == ".txt"], ids=str)
def test_truncated_and_corrupted_corpus_files_never_crash(path: Path) -> None:
    data = path.read_bytes()
    rng = random.Random(path.name)
    for cut in (1, len(data) // 3, len(data) // 2, len(data) - 1):
        _parse_or_reason(data[:cut])
    for _ in range(5):
        corrupted = bytearray(data)
        for _ in range(max(1, len(data) // 50)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        _parse_or_reason(bytes(corrupted))


def test_random_garbage_never_crashes() -> None:
    rng = random.Random(1234)
    for size in (1, 2, 10, 100, 1000, 10000):
        for _ in range(10):
            _parse_or_reason(rng.randbytes(size))
    _parse_or_reason(b"\x00\xff" * 1000)
    _parse_or_reason(b"From: \r\n\r\n" + b"=?x?q?" * 1000)


def test_rejections_carry_reasons() -> None:
    with pytest.raises(UnparseableMessage) as empty:
        parse_message(b"   \r\n")
    assert empty.value.reason == "empty"
    with pytest.raises(UnparseableMessage) as wrong_type:
        parse_message("From: a@b.com\n\nhi")  # type: ignore[arg-type]
    assert wrong_type.value.reason == "not_bytes"


def test_deep_nesting_is_bounded() -> None:
    depth = 300
    parts = []
    for level in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n'.encode())
    raw = (
        b"From: a@example.com\nSubject: deep\n"
        + b"".join(parts)
        + b"Content-Type: text/plain\n\nhi\n"
    )
    outcome = _parse_or_reason(raw)
    if isinstance(outcome, ParsedMail):
        assert "MultipartTooDeep" in outcome.defects


def test_rfc2047_subject_and_display_names() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.COM>\r\n"
        b"To: =?iso-8859-1?q?Ren=E9e?= <renee@example.org>, plain@example.net\r\n"
        b"Subject: =?utf-8?b?w5xiZXJ3ZWlzdW5n?= =?utf-8?b?IGbDvHIgSnVuaQ==?= done\r\n"
        b"Date: Tue, 02 Dec 2025 10:00:00 +0100\r\n"
        b"\r\nbody\r\n"
    )
    mail = parse_message(raw)
    assert mail.subject == "Überweisung für Juni done"
    assert mail.from_addresses == ("joerg@example.com",)
    assert mail.display_names["joerg@example.com"] == "Jörg Müller"
    assert mail.display_names["renee@example.org"] == "Renée"
    assert mail.to == ("renee@example.org", "plain@example.net")
    assert mail.sent_at == datetime(2025, 12, 2, 9, 0, tzinfo=UTC)


def test_encoded_word_split_inside_a_multibyte_character() -> None:
    # "é" (c3 a9) split across two encoded words of the same charset
    assert decode_header_value("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=") == "café"


def test_unknown_charset_in_header_falls_back() -> None:
    assert decode_header_value("=?x-unknown?q?abc?=") == "abc"
    assert decode_header_value("=?utf-8?b?not-base64!?=")  # no exception


def test_raw_8bit_headers_are_decoded() -> None:
    raw = "Subject: Grüße aus Köln\r\nFrom: a@example.com\r\n\r\nx".encode()
    assert parse_message(raw).subject == "Grüße aus Köln"
    raw_latin = "Subject: Grüße\r\nFrom: a@example.com\r\n\r\nx".encode("latin-1")
    assert parse_message(raw_latin).subject == "Grüße"


def _mime(body: bytes, headers: str) -> bytes:
    return (
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
        + headers
        + "\r\n\r\n"
    ).encode() + body


def test_base64_utf8_body() -> None:
    body = base64.b64encode("Merhaba dünya, şöyle böyle".encode())
    raw = _mime(
        body, 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64'
    )
    assert parse_message(raw).text_body == "Merhaba dünya, şöyle böyle"


def test_quoted_printable_latin1_body() -> None:
    raw = _mime(
        b"Caf=E9 cr=E8me, soft=\r\n break",
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable",
    )
    assert parse_message(raw).text_body == "Café crème, soft break"


def test_mislabelled_charset_is_recovered() -> None:
    # labelled us-ascii but actually UTF-8
    raw = _mime("naïve café".encode(), "Content-Type: text/plain; charset=us-ascii")
    mail = parse_message(raw)
    assert mail.text_body == "naïve café"
    assert any(d.startswith("MislabelledCharset") for d in mail.defects)
    # labelled latin-1 but actually UTF-8: valid multi-byte UTF-8 wins
    raw = _mime("naïve café".encode(), "Content-Type: text/plain; charset=iso-8859-1")
    assert parse_message(raw).text_body == "naïve café"
    # labelled UTF-8 but actually Windows-1252
    raw = _mime("naïve café".encode("cp1252"), "Content-Type: text/plain; charset=utf-8")
    assert parse_message(raw).text_body == "naïve café"


def test_unknown_and_non_text_charset_labels() -> None:
    for label in ("x-no-such-charset", "base64", "rot13", "", '"'):
        raw = _mime("héllo".encode(), f"Content-Type: text/plain; charset={label}")
        assert parse_message(raw).text_body == "héllo"


def test_nested_multipart_with_attachments_and_inline_image() -> None:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "bob@example.org"
    msg["Cc"] = "Carol <carol@example.net>"
    msg["Subject"] = "Report"
    msg["Message-ID"] = "<m1@example.com>"
    msg["In-Reply-To"] = "<m0@example.com>"
    msg["References"] = "<root@example.com> <m0@example.com>"
    msg.set_content("Plain version")
    msg.add_alternative("<p>HTML <img src='cid:logo1'></p>", subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(b"\x89PNG....", maintype="image", subtype="png", cid="<logo1>")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="Übersicht 2025.csv")
    msg.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="q.pdf")
    mail = parse_message(msg.as_bytes())
    assert mail.text_body is not None and mail.text_body.strip() == "Plain version"
    assert mail.html_body is not None and "HTML" in mail.html_body
    assert mail.message_id == "<m1@example.com>"
    assert mail.in_reply_to == "<m0@example.com>"
    assert mail.references == ("<root@example.com>", "<m0@example.com>")
    assert mail.cc == ("carol@example.net",)
    by_name = {a.filename: a for a in mail.attachments}
    assert set(by_name) == {"", "Übersicht 2025.csv", "q.pdf"}
    logo = by_name[""]
    assert logo.inline and logo.content_id == "logo1" and logo.mime_type == "image/png"
    assert logo.part_path.count(".") == 2  # 1 (alternative) . 2 (related) . 2
    assert by_name["Übersicht 2025.csv"].size == len(b"a,b\n1,2\n")
    assert by_name["q.pdf"].mime_type == "application/pdf"
    assert not by_name["q.pdf"].inline


def test_rfc2047_encoded_attachment_filename() -> None:
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--XX\r\nContent-Type: application/octet-stream;\r\n"
        b' name="=?utf-8?q?r=C3=A9sum=C3=A9=2Epdf?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--XX--\r\n"
    )
    mail = parse_message(raw)
    (att,) = mail.attachments
    assert att.filename == "résumé.pdf"
    assert att.size == 4


def test_date_fallback_to_internal_date() -> None:
    internal = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    raw = b"From: a@example.com\r\nDate: not a date\r\n\r\nx"
    mail = parse_message(raw, internal_date=internal)
    assert mail.sent_at == internal
    assert "InvalidDateHeader" in mail.defects
    assert parse_message(b"From: a@example.com\r\n\r\nx").sent_at is None


def test_bulk_markers() -> None:
    raw = (
        b"From: news@list.example.com\r\nList-Id: <news.list.example.com>\r\n"
        b"Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n\r\nx"
    )
    mail = parse_message(raw)
    assert mail.list_id == "<news.list.example.com>"
    assert mail.auto_submitted == "auto-generated"
    assert mail.precedence == "bulk"
    assert mail.is_bulk
    assert not parse_message(b"From: a@example.com\r\n\r\nx").is_bulk


def test_invalid_addresses_are_dropped_and_repeats_collapsed() -> None:
    raw = b"From: a@example.com\r\nTo: not-an-address, B@Example.com, b@example.com, @x\r\n\r\nx"
    assert parse_message(raw).to == ("b@example.com",)


def test_snippet_and_html_to_text() -> None:
    text = "Hi Bob,\n\n> quoted old text\nThanks for the   call.\n" + "word " * 100
    snippet = snippet_of(text, limit=40)
    assert snippet.startswith("Hi Bob, Thanks for the call.")
    assert "quoted" not in snippet
    assert len(snippet) <= 41 and snippet.endswith("…")
    assert html_to_text("<style>p{}</style><p>A &amp; B</p><br>C").split() == ["A", "&", "B", "C"]


def _forward_chain(depth: int, innermost: bytes) -> bytes:
    """``depth`` levels of a bare forward (message/rfc822 as the whole body) around a mail."""
    message = innermost
    for level in range(depth):
        message = (
            f"From: fwd{level}@relay.example\r\nSubject: Fwd {level}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: message/rfc822\r\n\r\n"
        ).encode() + message
    return message


_INNERMOST = (
    b"From: origin@customer.example\r\nSubject: The original\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe original question, forwarded.\r\n"
)


def test_a_20_deep_forward_keeps_the_outer_body_and_real_sizes() -> None:
    embedded = _forward_chain(19, _INNERMOST)
    pdf = b"%PDF-1.4 " + b"x" * 4000
    raw = (
        b"From: carol@customer.example\r\nTo: rep@acme.example\r\nSubject: See below\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
        b"--outer\r\nContent-Type: text/plain\r\n\r\nThe outer body.\r\n"
        b"--outer\r\nContent-Type: application/pdf; name=quote.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(pdf) + b"--outer\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + embedded + b"\r\n--outer--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text_body == "The outer body."
    sizes = {a.mime_type: a.size for a in parsed.attachments}
    assert sizes["application/pdf"] == len(pdf)
    assert 0.95 * len(embedded) <= sizes["message/rfc822"] <= 1.05 * len(embedded) + 10


def test_a_bare_20_deep_forward_gets_the_forwarded_body() -> None:
    raw = _forward_chain(20, _INNERMOST)
    parsed = parse_message(raw)
    assert parsed.subject == "Fwd 19"
    assert (parsed.text_body or "").strip() == "The original question, forwarded."
    (forward,) = parsed.attachments
    assert forward.mime_type == "message/rfc822"
    embedded = raw.split(b"\r\n\r\n", 1)[1]
    assert 0.95 * len(embedded) <= forward.size <= 1.05 * len(embedded) + 10
