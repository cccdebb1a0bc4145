"""A ``format=full`` payload rebuilt as MIME keeps each part's type and file name when Gmail
shows them decoded with non-ASCII characters."""

from __future__ import annotations

import email

from inboxcrm.providers.gmail.mapping import mime_from_payload

NAME = "sözleşme taslağı.pdf"  # noqa: RUF001  (a Turkish file name)


def _payload() -> dict[str, object]:
    return {
        "mimeType": "multipart/mixed",
        "headers": [
            {"name": "Content-Type", "value": 'multipart/mixed; boundary="b1"'},
            {"name": "Subject", "value": "Größe"},
        ],
        "parts": [
            {
                "partId": "0",
                "mimeType": "text/plain",
                "headers": [{"name": "Content-Type", "value": "text/plain; charset=utf-8"}],
                "body": {"size": 2, "data": "aGk"},
            },
            {
                "partId": "1",
                "mimeType": "application/pdf",
                "filename": NAME,
                "headers": [
                    {"name": "Content-Type", "value": f'application/pdf; name="{NAME}"'},
                    {"name": "Content-Disposition", "value": f'attachment; filename="{NAME}"'},
                ],
                "body": {"size": 300, "attachmentId": "A1"},
            },
        ],
    }


def test_non_ascii_attachment_names_keep_the_part_s_type_and_name() -> None:
    raw = mime_from_payload(_payload(), "m1")
    raw.decode("ascii")  # every header line is 7-bit
    parsed = email.message_from_bytes(raw)
    parts = [(p.get_content_type(), p.get_filename()) for p in parsed.walk()]
    assert parts == [
        ("multipart/mixed", None),
        ("text/plain", None),
        ("application/pdf", NAME),
    ]
    assert str(email.header.make_header(email.header.decode_header(parsed["Subject"]))) == "Größe"
