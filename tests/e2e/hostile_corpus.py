"""The hostile mail corpus (tests/e2e/xss_corpus/) as RFC 5322 messages ready to deliver.

Two kinds of file:

- ``<topic>.html.txt`` / ``<topic>.plain.txt``: one body per line, sent as a ``text/html`` or
  ``text/plain`` part (UTF-8, base64, so every byte arrives as written). Lines starting with
  ``#`` say where the payloads come from; blank lines are skipped. ``{NL}``, ``{CR}``, ``{TAB}``
  and ``{NUL}`` stand for a newline, carriage return, tab and NUL byte.
- ``eml/*.eml``: whole messages, for what only MIME can carry (charsets, transfer encodings,
  multipart structure, hostile headers and attachment names).

Every message is from :data:`SENDER` (a contact of the record under test) to :data:`MAILBOX`,
with a subject that starts ``XSS <name>`` so a failure names its payload.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "xss_corpus"
SENDER = "attacker@hostile.example"
MAILBOX = "rep@acme.example.com"
_TOKENS = {"{NL}": "\n", "{CR}": "\r", "{TAB}": "\t", "{NUL}": "\0"}
_SUBTYPES = {".html.txt": "html", ".plain.txt": "plain"}


@dataclass(frozen=True)
class HostileMail:
    name: str  # "classic.html.txt:12" (file and line) or "eml/utf7_html.eml"
    raw: bytes


def _expand(line: str) -> str:
    for token, value in _TOKENS.items():
        line = line.replace(token, value)
    return line


def _message(name: str, subtype: str, body: str, number: int) -> bytes:
    headers = (
        f"From: Hostile Sender <{SENDER}>\r\n"
        f"To: {MAILBOX}\r\n"
        f"Subject: XSS {name}\r\n"
        f"Message-ID: <xss{number}@xss-corpus.example>\r\n"
        "Date: Mon, 3 Nov 2025 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return headers.encode() + base64.encodebytes(body.encode("utf-8", "surrogatepass"))


def _line_bodies(path: Path, subtype: str) -> list[tuple[str, str]]:
    bodies = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            bodies.append((f"{path.name}:{number}", _expand(line)))
    return bodies


def load_corpus() -> list[HostileMail]:
    """Every hostile message of the corpus, in a stable order."""
    mails: list[HostileMail] = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        subtype = next(v for k, v in _SUBTYPES.items() if path.name.endswith(k))
        for name, body in _line_bodies(path, subtype):
            mails.append(HostileMail(name, _message(name, subtype, body, len(mails) + 1)))
    for path in sorted((CORPUS_DIR / "eml").glob("*.eml")):
        name = f"eml/{path.name}"
        raw = path.read_bytes().replace(b"\r\nSubject: ", f"\r\nSubject: XSS {name} ".encode(), 1)
        mails.append(HostileMail(name, raw))
    return mails
