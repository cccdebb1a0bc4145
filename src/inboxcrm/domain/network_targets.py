"""Which hosts a server-side fetch of a stranger's URL may reach: public internet addresses only.

The image proxy fetches URLs written by whoever sent a mail. Left alone, such a URL could point
the server at itself (``http://127.0.0.1:6379/``), at the cloud metadata service
(``http://169.254.169.254/``) or at the office network. Two functions decide:

- :func:`literal_address` reads a URL host the way browsers (WHATWG URL, IPv4 in 1 to 4 parts of
  decimal, octal ``0177`` or hex ``0x7f``) and the C resolver (``inet_aton``) read IP literals:
  ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1`` and ``[::ffff:127.0.0.1]`` are all
  127.0.0.1. It returns None for a name, which the caller then resolves.
- :func:`is_public_address` is True only for a globally routable unicast address. IPv6 forms
  that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
  ``2002::/16``) are judged by the IPv4 address inside; IPv4-compatible ``::a.b.c.d`` and
  Teredo are refused outright.

The caller checks every address a name resolves to (all must be public) and then connects to
the address it checked, never resolving again, so a DNS answer cannot change between the check
and the connection.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

__all__ = ["IPAddress", "InvalidHost", "is_public_address", "literal_address", "parse_address"]

IPAddress = IPv4Address | IPv6Address

# Refused even where the ipaddress module calls them global (documentation, benchmarking,
# shared address space, 6to4 relay anycast, and the ranges is_global leaves to callers).
_REFUSED_V4 = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = IPv6Network("::/96")
_REFUSED_V6 = tuple(IPv6Network(n) for n in ("2001::/32", "2001:db8::/32", "fc00::/7", "fec0::/10"))


class InvalidHost(ValueError):
    """A host that looks like an IP literal but is not a valid one (e.g. ``1.2.3.999``)."""


def _ipv4_part(text: str) -> int | None:
    """One part of a WHATWG IPv4 host (decimal, ``0`` octal or ``0x`` hex), None if not a number."""
    if not text:
        return None
    base = 10
    if text[:2].lower() == "0x":
        text, base = text[2:], 16
        if not text:
            return 0
    elif len(text) > 1 and text[0] == "0":
        text, base = text[1:], 8
    digits = "0123456789abcdef"[:base]
    if not all(ch in digits for ch in text.lower()):
        return None
    return int(text, base)


def _ipv4_literal(host: str) -> IPv4Address | None:
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing dot ("127.0.0.1.") is allowed
    if not parts or len(parts) > 4:
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if numbers[-1] is None:
        return None  # the last part is not numeric: a name such as "a.example"
    if any(n is None for n in numbers):
        raise InvalidHost(f"not a valid IPv4 address: {host!r}")
    values = [n for n in numbers if n is not None]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidHost(f"not a valid IPv4 address: {host!r}")
    address = values[-1]
    for index, value in enumerate(values[:-1]):
        address += value << (8 * (3 - index))
    return IPv4Address(address)


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` denotes as a literal, or None when it is a name to resolve.

    ``host`` is a URL's host: IPv6 in brackets or bare, IPv4 in any WHATWG / inet_aton form.
    Raises :class:`InvalidHost` for something that is neither a valid literal nor a name
    (an out-of-range IPv4 literal, an IPv6 literal with a zone id).
    """
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        if "%" in text:
            raise InvalidHost("IPv6 zone ids are not accepted")
        try:
            return IPv6Address(text)
        except ValueError as exc:
            raise InvalidHost(f"not a valid IPv6 address: {host!r}") from exc
    return _ipv4_literal(text)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address (see the module docstring)."""
    if isinstance(address, IPv6Address):
        if address.teredo is not None or address in _IPV4_COMPATIBLE:
            return False
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public_address(inner)
        if any(address in net for net in _REFUSED_V6):
            return False
    elif any(address in net for net in _REFUSED_V4):
        return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_private
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_reserved
        and not address.is_unspecified
    )


def parse_address(text: str) -> IPAddress:
    """An address as the resolver reports it (``getaddrinfo``'s sockaddr host)."""
    return ipaddress.ip_address(text.split("%", 1)[0])
