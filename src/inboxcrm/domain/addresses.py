"""Email addresses as the CRM matches them.

An address is matched in one canonical form: surrounding whitespace stripped, the local part
lower-cased (every major provider treats it case-insensitively), and the domain lower-cased and
converted from Unicode to its IDNA (punycode) form so ``Jörg@Bücher.de`` and
``jörg@xn--bcher-kva.de`` are one address.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

import idna

from inboxcrm.domain.errors import InvalidInput

_LOCAL_RE = re.compile(r"^[^\s@\"(),:;<>\[\\\]]+$")


def normalize_email(raw: str) -> str:
    """Return the canonical form of ``raw`` or raise :class:`InvalidInput`."""
    text = raw.strip().strip("<>").strip()
    if text.count("@") != 1:
        raise InvalidInput(f"not an email address: {raw!r}", field="email")
    local, domain = text.rsplit("@", 1)
    if not local or not domain or not _LOCAL_RE.match(local) or len(local) > 64:
        raise InvalidInput(f"not an email address: {raw!r}", field="email")
    domain = domain.rstrip(".")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidInput(f"not a valid email domain: {domain!r}", field="email") from exc
    if "." not in ascii_domain:
        raise InvalidInput(f"not a valid email domain: {domain!r}", field="email")
    return f"{local.lower()}@{ascii_domain.lower()}"


def try_normalize_email(raw: str) -> str | None:
    """Like :func:`normalize_email` but returns None for anything that is not an address."""
    try:
        return normalize_email(raw)
    except InvalidInput:
        return None


def extract_addresses(*header_values: str | None) -> list[str]:
    """Canonical addresses found in address headers (To, Cc, ...), in order, without repeats."""
    seen: dict[str, None] = {}
    values = [v for v in header_values if v]
    for _name, addr in getaddresses(values):
        canonical = try_normalize_email(addr)
        if canonical is not None:
            seen.setdefault(canonical, None)
    return list(seen)


def domain_of(address: str) -> str:
    """The domain part of a canonical address."""
    return address.rsplit("@", 1)[1]
