"""Link-layer framings down to the IP header, end to end through read_sessions."""

import struct
import warnings

import pytest
from pcapbuilders import MAC_A, MAC_B, ethernet, ipv4, ipv6, tcp, udp

from skfocal.capture import CaptureWarning, read_sessions
from skfocal.capture._linktypes import (
    BY_VERSION,
    IPV4,
    IPV6,
    LINK_TYPES,
    network_layer,
)

IP4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1234, 80, b"hi"))
IP6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(5353, 53, b"q"))
MAC6 = bytes.fromhex("0000deadbeef")


def _sll(protocol, address=MAC6):
    return struct.pack(">HHH", 0, 1, len(address)) + address.ljust(8, b"\0") + (
        struct.pack(">H", protocol)
    )  # fmt: skip


def _sll2(protocol, address=MAC6):
    return (struct.pack(">HHIHBB", protocol, 0, 3, 1, 0, len(address))
            + address.ljust(8, b"\0"))  # fmt: skip


# (link type, frame, network offset, network, link-layer address spans)
CASES = {
    "ethernet": (1, ethernet(IP4), 14, IPV4, ((0, 6), (6, 12))),
    "ethernet ipv6": (1, ethernet(IP6, 0x86DD), 14, IPV6, ((0, 6), (6, 12))),
    "double vlan": (
        1, ethernet(IP4, tags=((0x88A8, 100), (0x8100, 200))), 22, IPV4,
        ((0, 6), (6, 12)),
    ),
    "old qinq": (1, ethernet(IP4, tags=((0x9100, 7),)), 18, IPV4, ((0, 6), (6, 12))),
    "pppoe ipv4": (
        1, ethernet(struct.pack(">BBHHH", 0x11, 0, 1, len(IP4) + 2, 0x21) + IP4,
                    0x8864), 22, IPV4, ((0, 6), (6, 12)),
    ),
    "pppoe ipv6": (
        1, ethernet(struct.pack(">BBHHH", 0x11, 0, 1, len(IP6) + 2, 0x57) + IP6,
                    0x8864), 22, IPV6, ((0, 6), (6, 12)),
    ),
    "mpls two labels": (
        1, ethernet(bytes.fromhex("000640ff00064140") + IP6, 0x8847), 22,
        BY_VERSION, ((0, 6), (6, 12)),
    ),
    "linux cooked v1": (113, _sll(0x0800) + IP4, 16, IPV4, ((6, 12),)),
    "linux cooked v2": (276, _sll2(0x86DD) + IP6, 20, IPV6, ((12, 18),)),
    "raw 101": (101, IP4, 0, BY_VERSION, ()),
    "raw 12": (12, IP6, 0, BY_VERSION, ()),
    "raw 14": (14, IP4, 0, BY_VERSION, ()),
    "raw ipv4 228": (228, IP4, 0, IPV4, ()),
    "raw ipv6 229": (229, IP6, 0, IPV6, ()),
    "null inet": (0, struct.pack("<I", 2) + IP4, 4, IPV4, ()),
    "null inet6 bsd": (0, struct.pack("<I", 24) + IP6, 4, IPV6, ()),
    "null inet6 macos big-endian host": (0, struct.pack(">I", 30) + IP6, 4, IPV6, ()),
    "loop": (108, struct.pack(">I", 28) + IP6, 4, IPV6, ()),
    "ppp with address and control": (9, b"\xff\x03\x00\x21" + IP4, 4, IPV4, ()),
    "ppp bare": (9, b"\x00\x57" + IP6, 2, IPV6, ()),
    "ppp compressed protocol": (9, b"\x21" + IP4, 1, IPV4, ()),
    "cisco hdlc in ppp": (9, b"\x0f\x00\x08\x00" + IP4, 4, IPV4, ()),
    "cisco hdlc": (104, b"\x8f\x00\x86\xdd" + IP6, 4, IPV6, ()),
    "ppi around ethernet": (
        192, struct.pack("<BBHI", 0, 0, 8, 1) + ethernet(IP4), 22, IPV4,
        ((8, 14), (14, 20)),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_network_layer(case):
    link_type, frame, offset, network, spans = CASES[case]
    found = network_layer(link_type, frame)
    assert found[0] == offset
    assert found[1] == network
    assert found[3] == spans
    assert link_type in LINK_TYPES


@pytest.mark.parametrize("case", CASES)
def test_each_link_type_gives_a_session(capture, case):
    link_type, frame, offset, _, _ = CASES[case]
    sessions = read_sessions(capture([frame], link_type=link_type))
    (session,) = sessions
    assert session.link_type == link_type
    assert session.packets[0].network_offset == offset
    if frame[offset] >> 4 == 4:
        assert session.five_tuple == (6, "10.0.0.1", 1234, "10.0.0.2", 80)
    else:
        assert session.five_tuple == (17, "2001:db8::1", 5353, "2001:db8::2", 53)


def test_vlan_ids_are_reported_outermost_first():
    frame = ethernet(IP4, tags=((0x88A8, 0x0123), (0x8100, 0xF456)))
    assert network_layer(1, frame)[2] == (0x123, 0x456)


@pytest.mark.parametrize(
    "link_type, frame, reason",
    [
        (1, ethernet(b"\x00" * 28, 0x0806), "non-ip"),
        (1, MAC_A + MAC_B, "malformed link layer"),
        (1, ethernet(b"", tags=((0x8100, 1),))[:16], "malformed link layer"),
        (1, ethernet(struct.pack(">BBHHH", 0x11, 0, 1, 2, 0xC021), 0x8864),
         "non-ip"),
        (113, b"\x00" * 10, "malformed link layer"),
        (0, struct.pack("<I", 7) + IP4, "non-ip"),
        (9, b"\xff\x03\xc0\x21", "non-ip"),
        (105, b"\x08\x02" + bytes(30), "link type 105"),
    ],
)  # fmt: skip
def test_packets_without_ip_give_a_reason(link_type, frame, reason):
    assert network_layer(link_type, frame) == reason


def test_unknown_link_type_is_skipped_with_one_warning_per_capture(capture):
    path = capture([bytes(40), bytes(50), bytes(60)], link_type=105)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = read_sessions(path)
    assert len(sessions) == 0
    assert sessions.stats.packets_skipped == {"link type 105": 3}
    assert len(caught) == 1
    assert caught[0].category is CaptureWarning
    assert "link type 105" in str(caught[0].message)
    assert str(path) in str(caught[0].message)
    assert caught[0].filename == __file__  # stacklevel points at the caller
    assert sessions.stats.warnings == [str(caught[0].message)]
