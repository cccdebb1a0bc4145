"""The Gmail client's batch wire format: the request body it writes, the answers it reads."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.message import Message

from inboxcrm.providers.gmail.client import _BatchGet, _split_batch_answer


def _answer(boundary: str, parts: list[tuple[str, str, bytes, bool]]) -> bytes:
    chunks = []
    for content_id, status, body, with_length in parts:
        length = f"Content-Length: {len(body)}\r\n" if with_length else ""
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: <response-{content_id}>\r\n\r\n"
            f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"{length}\r\n".encode()
            + body
            + b"\r\n"
        )
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def test_request_body_is_a_multipart_of_http_gets() -> None:
    body = _BatchGet("https://gmail.googleapis.com").body(
        ["18c1", "18c2"], "metadata", ["From", "Subject"], "b1"
    )
    parsed = message_from_bytes(b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n' + body)
    parts = [p for p in parsed.get_payload() if isinstance(p, Message)]
    assert len(parts) == 2
    assert parts[1]["Content-ID"] == "<b1+1>"
    assert parts[0].get_content_type() == "application/http"
    request_line = str(parts[0].get_payload()).splitlines()[0]
    assert request_line == (
        "GET /gmail/v1/users/me/messages/18c1?format=metadata&metadataHeaders=From"
        "&metadataHeaders=Subject&alt=json HTTP/1.1"
    )


def test_answers_are_read_by_content_id_with_and_without_content_length() -> None:
    ok = json.dumps({"id": "18c1", "raw": "SGk"}).encode()
    missing = b'{"error": {"code": 404, "message": "Not Found"}}'
    limited = b'{"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}}'
    content = _answer(
        "batch_x",
        [
            ("b1+0", "200 OK", ok, True),
            ("b1+1", "404 Not Found", missing, False),
            ("b1+2", "429 Too Many Requests", limited, True),
        ],
    )
    answers = list(_split_batch_answer('multipart/mixed; boundary="batch_x"', content))
    assert [(cid, status, body) for cid, status, _, body in answers] == [
        ("response-b1+0", 200, ok),
        ("response-b1+1", 404, missing),
        ("response-b1+2", 429, limited),
    ]
    assert answers[2][2].status == 429
    assert answers[0][2]["content-type"] == "application/json; charset=UTF-8"


def test_a_part_that_is_no_http_answer_is_left_out() -> None:
    good = b'{"id": "a"}'
    content = (
        b"--bb\r\nContent-Type: application/http\r\nContent-ID: <response-x+0>\r\n\r\n"
        b"garbage without a head\r\n" + _answer("bb", [("x+1", "200 OK", good, True)])
    )
    answers = list(_split_batch_answer("multipart/mixed; boundary=bb", content))
    assert [(cid, status) for cid, status, _, _ in answers] == [("response-x+1", 200)]
