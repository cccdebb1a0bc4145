"""Tracking tokens and the rewriting of a message's links (no database, no I/O).

A token is ``<payload>.<mac>``: ``payload`` is base64url of a compact JSON array, ``mac`` the
first 16 bytes of HMAC-SHA256 over it, keyed by a key derived from ``INBOXCRM_SECRET_KEY``.

- open:  ``["o", tenant, outbound_id, recipient, issued_at]``
- click: ``["c", tenant, outbound_id, recipient, issued_at, link_index, url]``

Everything the tracking endpoints need to answer is in the token, so they answer without the
tenant database; the signature binds the click target to the message, so a tampered or forged
token never becomes a redirect (:meth:`TrackingSigner.verify` returns None, and the endpoint
shows a neutral page). Only ``http``/``https`` targets are ever signed or followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

__all__ = [
    "TrackingClaim",
    "TrackingSigner",
    "is_trackable_url",
    "location_for",
    "rewrite_html_links",
    "rewrite_text_links",
    "text_to_html",
]

MAX_TOKEN_CHARS = 8192
_MAC_BYTES = 16
_KEY_CONTEXT = b"inboxcrm tracking token v1"

TrackingKind = Literal["open", "click"]


@dataclass(frozen=True, slots=True)
class TrackingClaim:
    """What a valid token says."""

    kind: TrackingKind
    tenant: str
    outbound_id: int
    recipient: str
    issued_at: int
    link: int = -1
    url: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def location_for(url: str) -> str:
    """``url`` as an HTTP ``Location`` value: non-ASCII characters percent-encoded (UTF-8)."""
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]_~")


def is_trackable_url(url: str) -> bool:
    """An absolute http(s) URL without whitespace or control characters."""
    if not re.match(r"(?i)^https?://[^\s/?#]", url):
        return False
    return not any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in url)


class TrackingSigner:
    """Makes and checks tracking tokens with one secret."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def _token(self, claim: list[object]) -> str:
        payload = _b64(json.dumps(claim, separators=(",", ":"), ensure_ascii=True).encode())
        return payload + "." + _b64(self._mac(payload.encode("ascii")))

    def open_token(self, tenant: str, outbound_id: int, recipient: str, issued_at: int) -> str:
        return self._token(["o", tenant, outbound_id, recipient, issued_at])

    def click_token(
        self,
        tenant: str,
        outbound_id: int,
        recipient: str,
        issued_at: int,
        link: int,
        url: str,
    ) -> str:
        if not is_trackable_url(url):
            raise ValueError("only absolute http(s) URLs are tracked")
        return self._token(["c", tenant, outbound_id, recipient, issued_at, link, url])

    def verify(self, token: str) -> TrackingClaim | None:
        """The claim of a token this signer made, or None (never an exception)."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        payload, _, mac_text = token.partition(".")
        try:
            mac = _unb64(mac_text)
            expected = self._mac(payload.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        return _claim_of(data)


def _claim_of(data: object) -> TrackingClaim | None:
    if not isinstance(data, list) or len(data) not in (5, 7):
        return None
    kind, tenant, outbound_id, recipient, issued_at = data[:5]
    if not (
        isinstance(tenant, str)
        and isinstance(recipient, str)
        and type(outbound_id) is int
        and type(issued_at) is int
    ):
        return None
    if kind == "o" and len(data) == 5:
        return TrackingClaim("open", tenant, outbound_id, recipient, issued_at)
    if kind == "c" and len(data) == 7:
        link, url = data[5:]
        if type(link) is int and isinstance(url, str) and is_trackable_url(url):
            return TrackingClaim("click", tenant, outbound_id, recipient, issued_at, link, url)
    return None


# -- rewriting a message's links ----------------------------------------------------------------

_HREF_RE = re.compile(
    r"""(?P<head><a\b[^>]*?\bhref\s*=\s*)(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>"']+))""",
    re.IGNORECASE,
)
_TEXT_URL_RE = re.compile(r"""(?i)\bhttps?://[^\s<>"']+""")
_TRAILING_PUNCTUATION = ".,;:!?)]}"


def rewrite_html_links(body: str, link_url: Callable[[str], str | None]) -> str:
    """Every ``<a href>`` to an http(s) target replaced by ``link_url(target)`` (when not None)."""

    def replace(match: re.Match[str]) -> str:
        raw = match.group("dq") if match.group("dq") is not None else match.group("sq")
        if raw is None:
            raw = match.group("bare")
        target = html.unescape(raw).strip()
        tracked = link_url(target) if is_trackable_url(target) else None
        if tracked is None:
            return match.group(0)
        return f'{match.group("head")}"{html.escape(tracked, quote=True)}"'

    return _HREF_RE.sub(replace, body)


def rewrite_text_links(body: str, link_url: Callable[[str], str | None]) -> str:
    """Every bare http(s) URL of a text body replaced by ``link_url(url)`` (when not None)."""

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in _TRAILING_PUNCTUATION:
            url, tail = url[:-1], url[-1] + tail
        tracked = link_url(url) if is_trackable_url(url) else None
        return (tracked or url) + tail

    return _TEXT_URL_RE.sub(replace, body)


def text_to_html(text: str) -> str:
    """A plain text body as simple HTML (escaped, links clickable, line breaks kept)."""
    parts: list[str] = []
    last = 0
    for match in _TEXT_URL_RE.finditer(text):
        url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        parts.append(html.escape(text[last : match.start()]))
        safe = html.escape(url, quote=True)
        parts.append(f'<a href="{safe}">{safe}</a>')
        last = match.start() + len(url)
    parts.append(html.escape(text[last:]))
    lines = "".join(parts).split("\n")
    return "<div>" + "<br>\n".join(lines) + "</div>"
