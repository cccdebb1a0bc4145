"""Header injection: 200+ hostile values in every header field are refused with a 422 naming the
field, nothing reaches Gmail, and messages with tricky but legitimate values arrive in the
emulator with exactly the expected headers and recipients."""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

from tests.integration.sending.conftest import CUSTOMER, Mailroom

EVIL = "evil@attacker.example"


def _b64_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def injection_payloads() -> list[str]:
    """Strings that would add a header, a recipient or a body if copied into a header."""
    breaks = ["\r\n", "\n", "\r", "\r\r\n", "\n\r", "\r\n ", "\r\n\t", "\n\n", "\r\n\r\n"]
    payloads = [f"x{b}Bcc: {EVIL}" for b in breaks]
    payloads += [f"x{b}" for b in breaks]
    payloads += [f"a{chr(c)}b" for c in [*range(32), 127]]
    payloads += [f"a{sep}Bcc: {EVIL}" for sep in ("\u2028", "\u2029", "\u0085", "\x0b", "\x0c")]
    payloads += [f"x\u2028Bcc: {EVIL}\u2029"]
    payloads += [
        f"=?utf-8?q?x=0D=0ABcc:_{EVIL}?=",
        f"=?UTF-8?Q?x=0ABcc:_{EVIL}?=",
        "=?utf-8?q?x=0D?=",
        "=?iso-8859-1?q?x=0A=0D?=",
        "hello =?utf-8?q?=0D=0A?= world",
        _b64_word(f"x\r\nBcc: {EVIL}"),
        _b64_word("x\n"),
        _b64_word("x\r", "iso-8859-1"),
        _b64_word("x\u2028y"),
        _b64_word("x\x00y"),
        f"=?utf-8?b?{base64.b64encode(b'x' + bytes([10])).decode()}?=",
        "=?utf-8?q?=E2=80=A8?=",
        "=?utf-8?q?=C2=85?=",
        "=?utf-8?x?broken?=",
        "=?utf-8?q?=?utf-8?q?=0A?=?=",
    ]
    return payloads


def address_payloads() -> list[str]:
    """Address values that would add a recipient (or a header) if taken as they are."""
    return [
        f"{CUSTOMER}, {EVIL}",
        f"{CUSTOMER}; {EVIL}",
        f"{CUSTOMER} {EVIL}",
        f"<{CUSTOMER}>, <{EVIL}>",
        f"Friends: {CUSTOMER}, {EVIL};",
        f"{CUSTOMER}\r\nBcc: {EVIL}",
        f"Name\r\nBcc: {EVIL} <{CUSTOMER}>",
        f"<{CUSTOMER}\n>",
        f"{CUSTOMER}\t{EVIL}",
        f"=?utf-8?q?Name=0D=0ABcc:_{EVIL}?= <{CUSTOMER}>",
        f'"x\r\n" <{CUSTOMER}>',
        "not-an-address",
        "@kunde.example",
        "joerg@",
        f"<{CUSTOMER}> <{EVIL}>",
    ]


def _hostile_requests() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for payload in injection_payloads():
        cases.append(("subject", {"subject": payload}))
        cases.append(("to", {"to": [f"{payload} <{CUSTOMER}>"]}))
        cases.append(("from", {"from": f"{payload} <rep@acme-sales.example>"}))
        attachment = {"filename": f"{payload}.txt", "content_base64": "aGk="}
        cases.append(("attachments", {"attachments": [attachment]}))
    for address in address_payloads():
        cases.append(("to", {"to": [address]}))
        cases.append(("cc", {"cc": [address]}))
        cases.append(("bcc", {"bcc": [address]}))
    return cases


def test_every_injection_attempt_is_refused_and_nothing_is_sent(mailroom: Mailroom) -> None:
    cases = _hostile_requests()
    assert len(cases) >= 200
    wrong: list[str] = []
    for field, fields in cases:
        response = mailroom.send(**fields)
        body = response.json()
        if response.status_code != 422 or body.get("field") != field:
            wrong.append(f"{field} {fields!r}: {response.status_code} {body}")
    assert wrong == [], "\n".join(wrong[:20])
    assert mailroom.sent_ids() == []
    assert [i for i in mailroom.timeline() if i["kind"] in ("email", "outbound")] == []


EXPECTED_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def test_legitimate_tricky_values_arrive_with_exactly_the_expected_headers(
    mailroom: Mailroom,
) -> None:
    tricky = [
        {"subject": f"Bcc: {EVIL}"},
        {"subject": 'Ünïcödé: and <angle> brackets; commas, "quotes", too'},
        {"subject": "x" * 900},
        {"to": [f'"Müller, Jörg; Bcc: {EVIL}" <{CUSTOMER}>']},
        {"to": [f"Jörg Müller <{CUSTOMER}>"], "cc": ["buero@bücher.example"]},
        {"to": [CUSTOMER], "bcc": ["Chef <chef@acme-sales.example>"]},
        {"from": "Sales, Team <sales@acme-sales.example>"},
    ]
    mailroom.sync()  # the account's aliases
    for fields in tricky:
        response = mailroom.send(**fields)
        assert response.status_code == 201, response.text
        sent = response.json()
        assert sent["status"] == "sent", sent
        data = mailroom.gmail_message(sent["provider_message_id"])
        raw = base64.urlsafe_b64decode(data["raw"] + "=" * (-len(data["raw"]) % 4))
        head = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        names = [n.lower() for n in head]
        assert set(names) <= EXPECTED_HEADERS and len(names) == len(set(names)), names
        for header in ("to", "cc", "bcc"):
            got = sorted(
                a.lower() for _, a in getaddresses([str(v) for v in head.get_all(header) or []])
            )
            wanted = sorted(
                a.lower()
                for _, a in getaddresses(fields.get(header, [CUSTOMER] if header == "to" else []))
            )
            wanted = [
                w.replace("buero@bücher.example", "buero@xn--bcher-kva.example") for w in wanted
            ]
            assert got == wanted, (header, got, wanted)
        if "subject" in fields:
            assert str(head["Subject"]) == fields["subject"]
