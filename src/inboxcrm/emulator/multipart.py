"""Minimal multipart reader (batch requests, media uploads): tolerant of bare LF line ends."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_LINE_END = re.compile(rb"\r?\n")


def boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type)
    return match.group(1).strip() if match else None


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    """Bodies between ``--boundary`` delimiter lines (preamble and epilogue dropped)."""
    delimiter = re.compile(
        rb"(?:^|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r?\n|$)"
    )
    parts: list[bytes] = []
    position: int | None = None
    for match in delimiter.finditer(body):
        if position is not None:
            parts.append(body[position : match.start()])
        if match.group(1):
            return parts
        position = match.end()
    if position is not None and position < len(body):
        parts.append(body[position:])
    return parts


def split_head_body(block: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Header lines (name, value) and the body after the first empty line."""
    match = re.search(rb"\r?\n\r?\n", block)
    if match is None:
        head, body = block, b""
    else:
        head, body = block[: match.start()], block[match.end() :]
    headers: list[tuple[str, str]] = []
    for line in _LINE_END.split(head):
        text = line.decode("utf-8", "replace")
        if not text.strip():
            continue
        if text[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + text.strip())
            continue
        name, _, value = text.partition(":")
        headers.append((name.strip(), value.strip()))
    return headers, body
