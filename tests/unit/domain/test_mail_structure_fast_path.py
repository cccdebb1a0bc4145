"""The fast MIME structure reader reads what the stdlib feed parser reads, or steps aside."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
import test as stdlib_test  # type: ignore[import-not-found]

from inboxcrm.domain import mail_parsing
from inboxcrm.domain.mail_parsing import ParsedMail, UnparseableMessage, parse_message

CORPUS = Path(stdlib_test.__file__).parent / "test_email" / "data"
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file())


def _outcome(raw: bytes) -> ParsedMail | str:
    try:
        return parse_message(raw)
    except UnparseableMessage as exc:
        return exc.reason


def _stdlib_outcome(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> ParsedMail | str:
    with monkeypatch.context() as patch:
        patch.setattr(
            mail_parsing,
            "_read_structure",
            lambda data: mail_parsing._TEXT_PARSER.parsestr(
                data.decode("ascii", errors="surrogateescape")
            ),
        )
        return _outcome(raw)


def _takes_fast_path(raw: bytes) -> bool:
    text = raw.decode("ascii", errors="surrogateescape")
    if not mail_parsing._only_crlf_or_lf(text):
        return False
    try:
        mail_parsing._split_message(text, 0, (), [0])
    except mail_parsing._NeedsFullParse:
        return False
    return True


def _rich_message(linesep: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Zoë Müller <zoe@example.com>"
    msg["To"] = "bob@example.org, Carol <carol@example.net>"
    msg["Subject"] = "Quarterly report \u00e9t\u00e9"
    msg["Message-ID"] = "<m1@example.com>"
    msg.set_content("Plain version\n\n-- \nZoë")
    msg.add_alternative("<p>HTML <img src='cid:logo1'></p>", subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(b"\x89PNG....", maintype="image", subtype="png", cid="<logo1>")
    msg.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="octet-stream")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="t.csv")
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))


@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_well_formed_nested_multipart_takes_the_fast_path(
    linesep: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _rich_message(linesep)
    assert _takes_fast_path(raw)
    fast = _outcome(raw)
    assert isinstance(fast, ParsedMail)
    assert fast == _stdlib_outcome(raw, monkeypatch)
    assert len(fast.attachments) == 3
    assert sorted(a.size for a in fast.attachments) == [8, 8, 10240]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_reads_the_same_as_the_stdlib(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    for cut in (len(raw), len(raw) * 2 // 3, len(raw) // 3):
        assert _outcome(raw[:cut]) == _stdlib_outcome(raw[:cut], monkeypatch)


def test_corpus_mostly_takes_the_fast_path_or_needs_the_stdlib_for_a_reason() -> None:
    fast = [p.name for p in CORPUS_FILES if _takes_fast_path(p.read_bytes())]
    assert len(fast) >= 10  # plain and multipart files; odd ones go to the stdlib parser


@pytest.mark.parametrize(
    "raw",
    [
        # no close boundary
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n",
        # repeated boundary lines
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--\r\n",
        # a part line that is no header
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n--b--\r\n",
        # lone CR line breaks
        b"Subject: hi\rFrom: a@example.com\r\n\r\nbody",
        # a form feed is a line break to the stdlib
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\x0c--b--\r\n--b--\r\n",
        # forwarded message
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n",
        # nested multipart reusing the outer boundary
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\n\r\nx\r\n--b--\r\n--b--\r\n",
    ],
)
def test_odd_structures_go_to_the_stdlib_parser(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not _takes_fast_path(raw)
    assert _outcome(raw) == _stdlib_outcome(raw, monkeypatch)
