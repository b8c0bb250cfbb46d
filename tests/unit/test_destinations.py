"""Where Tocsin may send a request of its own: every spelling of an internal address is
refused, public ones pass, and the operator's networks are allowed."""

from __future__ import annotations

import ipaddress

import pytest

from tocsin.actors.domain.destinations import embedded_ipv4, literal_address, parse_networks, refusal
from tocsin.actors.settings import Settings

LOOPBACK_SPELLINGS = [
    "127.0.0.1", "127.1", "0x7f000001", "0X7F000001", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f.1",
    "017700000001", "127.0.0.255", "127.255.255.254", "[::1]", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
    "[::ffff:7f00:1]", "::ffff:7f00:1", "2002:7f00:1::", "64:ff9b::127.0.0.1",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused(host):
    address = literal_address(host)
    assert address is not None, host
    assert refusal(address) == "a loopback address", host


@pytest.mark.parametrize(("host", "reason"), [
    ("169.254.169.254", "a cloud metadata address"),
    ("0xa9fea9fe", "a cloud metadata address"),
    ("2852039166", "a cloud metadata address"),
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("169.254.170.2", "a cloud metadata address"),
    ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("fe80::1%eth0", "a link-local address"),
    ("10.0.0.1", "a private address"),
    ("012.0.0.1", "a private address"),
    ("172.16.5.4", "a private address"),
    ("192.168.1.1", "a private address"),
    ("192.168.257", "a private address"),
    ("fc00::1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("::ffff:10.1.2.3", "a private address"),
    ("2002:c0a8:101::1", "a private address"),
    ("64:ff9b::a00:1", "a private address"),
    ("fec0::1", "a site-local address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("100.127.255.254", "a shared (carrier-grade NAT) address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("240.0.0.1", "a private address"),
    ("255.255.255.255", "a private address"),
    ("::7f00:1", "a reserved address"),
    ("198.18.0.1", "a private address"),
    ("2001:db8::1", "a private address"),
])
def test_internal_addresses_are_refused_with_their_reason(host, reason):
    address = literal_address(host)
    assert address is not None, host
    assert refusal(address) == reason


@pytest.mark.parametrize("host", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "0x08080808", "134744072",
                                  "2606:4700:4700::1111", "[2a00:1450:4001:80b::200e]", "::ffff:8.8.8.8",
                                  "100.63.255.255", "100.128.0.1", "172.32.0.1", "11.0.0.1"])
def test_public_addresses_pass(host):
    address = literal_address(host)
    assert address is not None, host
    assert refusal(address) is None


@pytest.mark.parametrize("host", ["example.com", "localhost", "hooks.slack.com", "1.2.3.4.5", "0x", "08.0.0.1",
                                  "256.1.1.1", "1.2.3.256", "0x1.0x100.1.1", "4294967296", "1.2.3.-4", "+1",
                                  "1_0.0.0.1", "", "[example.com]", "127.0.0.1."])
def test_names_and_near_misses_are_not_addresses(host):
    """These are resolved as names, and what they resolve to is checked."""
    assert literal_address(host) is None


def test_classic_forms_read_as_inet_aton_does():
    assert literal_address("1.2.3") == ipaddress.ip_address("1.2.0.3")
    assert literal_address("1.65536") == ipaddress.ip_address("1.1.0.0")
    assert literal_address("0x01.0x02.0x0304") == ipaddress.ip_address("1.2.3.4")
    assert literal_address("4294967295") == ipaddress.ip_address("255.255.255.255")


def test_the_ipv4_inside_an_ipv6_address():
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2002:102:304::")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("64:ff9b::1.2.3.4")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("1.2.3.4")) is None


def test_the_operators_networks_are_allowed_and_nothing_else():
    allowed = parse_networks("127.0.0.0/8, ::1/128,10.20.0.0/16")
    for host in ("127.0.0.1", "0x7f000001", "::1", "::ffff:127.0.0.1", "10.20.30.40"):
        assert refusal(literal_address(host), allowed) is None, host  # type: ignore[arg-type]
    for host in ("10.21.0.1", "169.254.169.254", "192.168.1.1", "fe80::1"):
        assert refusal(literal_address(host), allowed) is not None, host  # type: ignore[arg-type]


def test_metadata_is_allowed_only_when_its_network_is():
    metadata = ipaddress.ip_address("169.254.169.254")
    assert refusal(metadata, parse_networks("169.254.169.254/32")) is None
    assert refusal(metadata, parse_networks("10.0.0.0/8,fd00::/8")) == "a cloud metadata address"


@pytest.mark.parametrize(("text", "count"), [("", 0), (" ", 0), ("10.0.0.0/8", 1), ("10.0.0.0/8,,fd00::/8,", 2),
                                             ("10.1.2.3", 1), (" 127.0.0.0/8 , ::1/128 ", 2)])
def test_the_allow_list_is_comma_separated_cidrs(text, count):
    assert len(parse_networks(text)) == count


@pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0.1/8", "intranet", "10.0.0.0/8;192.168.0.0/16", "fd00::/129"])
def test_an_invalid_allow_list_refuses_to_start_naming_the_entry(text):
    with pytest.raises(ValueError) as refused:
        Settings(allow_private_destinations=text)
    assert "allow_private_destinations" in str(refused.value)
    assert "not a network in CIDR form" in str(refused.value)


def test_settings_default_to_no_private_destination():
    assert Settings().allowed_destinations == ()
    assert Settings(allow_private_destinations="127.0.0.0/8,::1/128").allowed_destinations == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
