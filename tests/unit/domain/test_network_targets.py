"""IP literals in every notation, and which addresses count as public."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from inboxcrm.domain.network_targets import InvalidHost, is_public_address, literal_address

LOOPBACK = ip_address("127.0.0.1")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0X7F000001", "0x7f.1",
        "0x7f.0x0.0x0.0x1", "0177.0.0.1", "0177.0000.0000.0001", "017700000001", "127.000.000.001",
        "127.0.0.1.", "0x7F.00.0.1",
    ],
)  # fmt: skip
def test_ipv4_notations_of_loopback(host: str) -> None:
    assert literal_address(host) == LOOPBACK


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("3232235777", "192.168.1.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
    ],
)
def test_other_literals(host: str, expected: str) -> None:
    assert literal_address(host) == ip_address(expected)


@pytest.mark.parametrize(
    "host", ["example.org", "images.example.net.", "xn--bcher-kva.example", "1.2.3.a"]
)
def test_names_are_not_literals(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.999", "256.0.0.1", "1.2.3.4.5.6", "0x1g.1", "[fe80::1%eth0]", "[::zz]"]
)
def test_broken_literals_are_refused(host: str) -> None:
    if host == "1.2.3.4.5.6":
        assert literal_address(host) is None  # more than four parts: a name, which will not resolve
        return
    with pytest.raises(InvalidHost):
        literal_address(host)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1", "192.88.99.1",
        "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1", "2001:db8::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
        "2002:7f00:1::", "2002:a00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)  # fmt: skip
def test_private_reserved_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(ip_address(address))
