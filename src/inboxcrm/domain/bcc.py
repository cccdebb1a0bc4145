"""Per-record BCC logging addresses.

A user who puts ``<mailbox local part>+<hash>@<mailbox domain>`` in Bcc (or To/Cc) of a mail links
that mail to one CRM record even when no other address matches. Gmail (like most providers)
delivers plus-addressed mail to the base mailbox, so nothing needs configuring at the provider.

The hash is an HMAC-SHA256 of the record key under a server secret, truncated to 50 bits and
written as 10 lower-case base32 characters. Base32 makes it case-insensitive (mail clients and
servers may change the case of the local part); 50 bits make guessing a valid address for a given
mailbox impractical. ``record_key`` must identify the record across tenants, e.g.
``"<tenant slug>:contact:<id>"`` (or the secret must be per tenant): the same key under the same
secret always yields the same address, so it can be printed on the record's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Iterable

__all__ = ["BCC_HASH_LENGTH", "bcc_address", "bcc_hash", "bcc_hash_in", "bcc_hashes_in"]

BCC_HASH_LENGTH = 10
_HASH_RE = re.compile(rf"^[a-z2-7]{{{BCC_HASH_LENGTH}}}$")


def bcc_hash(record_key: str, secret: bytes) -> str:
    """The 10-character, lower-case base32 tag of ``record_key`` under ``secret``."""
    if not secret:
        raise ValueError("the BCC secret must not be empty")
    digest = hmac.new(secret, record_key.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:BCC_HASH_LENGTH].lower()


def bcc_address(mailbox: str, record_key: str, secret: bytes) -> str:
    """The BCC logging address of ``record_key`` for the mailbox ``mailbox`` (any case).

    An existing ``+tag`` of the mailbox address is replaced, not nested.
    """
    if mailbox.count("@") != 1:
        raise ValueError("mailbox must be an email address")
    local, domain = mailbox.strip().rsplit("@", 1)
    local = local.split("+", 1)[0]
    return f"{local.lower()}+{bcc_hash(record_key, secret)}@{domain.lower()}"


def bcc_hash_in(address: str, mailbox_addresses: Collection[str]) -> str | None:
    """The BCC tag carried by ``address`` if it is a plus-address of one of the mailbox addresses.

    ``mailbox_addresses`` are the account's own canonical addresses (lower case). Returns the
    lower-case tag (look it up in the table of record hashes), or None.
    """
    text = address.strip().lower()
    if "+" not in text or text.count("@") != 1:
        return None
    local, domain = text.rsplit("@", 1)
    base, _, tag = local.partition("+")
    if not _HASH_RE.match(tag):
        return None
    if f"{base}@{domain}" not in mailbox_addresses:
        return None
    return tag


def bcc_hashes_in(addresses: Iterable[str], mailbox_addresses: Collection[str]) -> list[str]:
    """Every BCC tag found in ``addresses`` (e.g. all recipient headers), in order, no repeats."""
    found: dict[str, None] = {}
    for address in addresses:
        tag = bcc_hash_in(address, mailbox_addresses)
        if tag is not None:
            found.setdefault(tag, None)
    return list(found)
