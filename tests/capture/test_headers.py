"""IP headers, extension chains, fragments, lengths, tunnels and TCP/UDP."""

import struct

import pytest
from pcapbuilders import ethernet, ipv4, ipv6, tcp, tcp4, udp

from skfocal.capture import Packet, read_sessions
from skfocal.capture._headers import parse_network
from skfocal.capture._linktypes import BY_VERSION, IPV4, IPV6


def test_known_packet_exact_data_offsets_and_spans(capture):
    frame = tcp4(b"hello", src="192.168.1.10", dst="93.184.216.34", sport=51000,
                 dport=443)  # fmt: skip
    padded = frame + bytes(60 - len(frame))  # Ethernet minimum frame size
    (session,) = read_sessions(capture([(3.5, padded, 60)]))
    assert session.five_tuple == (6, "192.168.1.10", 51000, "93.184.216.34", 443)
    assert (session.first_time, session.n_packets, session.n_bytes) == (3.5, 1, 60)
    assert session.packets == (
        Packet(
            time=3.5,
            data=frame,
            network_offset=14,
            transport_offset=34,
            payload_offset=54,
            address_spans=((0, 6), (6, 12), (26, 30), (30, 34)),
            port_spans=((34, 36), (36, 38)),
            wire_length=60,
        ),
    )
    packet = session.packets[0]
    assert packet.data[packet.payload_offset :] == b"hello"
    assert packet.data[26:30] == bytes([192, 168, 1, 10])
    assert packet.data[34:36] == struct.pack(">H", 51000)


def test_ipv4_options_move_the_transport_header():
    options = b"\x94\x04\x00\x00"  # router alert
    packet = ipv4("1.1.1.1", "2.2.2.2", 17, udp(1, 2, b"xy"), options=options)
    found = parse_network(packet, 0, IPV4)
    assert found[:8] == (17, bytes([1] * 4), bytes([2] * 4), 1, 2, 24, 32, 34)
    assert found[10] == ((24, 26), (26, 28))


def _extension(next_header, length_units, size):
    return bytes([next_header, length_units]) + bytes(size - 2)


def test_ipv6_extension_chain_with_first_fragment_and_ah():
    chain = (
        _extension(60, 0, 8)  # hop-by-hop -> destination options
        + _extension(43, 1, 16)  # destination options -> routing
        + _extension(44, 0, 8)  # routing -> fragment
        + struct.pack(">BBHI", 51, 0, 0x0001, 7)  # first fragment, more follow
        + _extension(6, 1, 12)  # AH: (1 + 2) * 4 bytes -> TCP
    )
    packet = ipv6("2001:db8::a", "2001:db8::b", 0, chain + tcp(4000, 22, b"ssh"))
    found = parse_network(packet, 0, IPV6)
    start = 40 + len(chain)
    assert start == 92
    assert found[0] == 6
    assert found[3:8] == (4000, 22, start, start + 20, len(packet))
    assert found[9] == ((8, 24), (24, 40))


def test_ipv6_non_first_fragment_is_skipped():
    fragment = struct.pack(">BBHI", 6, 0, (185 << 3), 7)  # offset 1480 bytes
    packet = ipv6("2001:db8::a", "2001:db8::b", 44, fragment + b"\x00\x50" * 20)
    assert parse_network(packet, 0, IPV6) == "ip fragment"


def test_non_first_ipv4_fragment_is_not_read_as_ports(capture):
    payload = tcp(5555, 80, b"x" * 40)
    first = ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, payload[:24], ident=9,
                          fragment=0x2000))  # fmt: skip
    # The second fragment's first bytes look like ports 8080 -> 9090.
    rest = struct.pack(">HH", 8080, 9090) + payload[28:]
    second = ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, rest, ident=9, fragment=3))
    sessions = read_sessions(capture([first, second]))
    assert [s.five_tuple for s in sessions] == [(6, "10.0.0.1", 5555, "10.0.0.2", 80)]
    assert sessions[0].n_packets == 1
    assert sessions.stats.packets_skipped == {"ip fragment": 1}


def test_ethernet_padding_and_trailer_are_cut():
    packet = ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2))
    frame = ethernet(packet) + b"\x00" * 18 + b"FCS!"
    found = parse_network(frame, 14, IPV4)
    assert found[7] == 14 + 28


@pytest.mark.parametrize("total_length", [0, 4000])
def test_zero_or_oversized_ip_length_uses_what_was_captured(total_length):
    payload = tcp(1, 2, b"z" * 100)
    packet = ipv4("10.0.0.1", "10.0.0.2", 6, payload, total_length=total_length)
    found = parse_network(packet, 0, BY_VERSION)
    assert found[5:8] == (20, 40, len(packet))


def test_ipv6_payload_length_cuts_and_zero_means_captured():
    inner = udp(1, 2, b"abc")
    packet = ipv6("::1", "::2", 17, inner) + b"pad"
    assert parse_network(packet, 0, IPV6)[7] == 40 + len(inner)
    jumbo = ipv6("::1", "::2", 17, inner, payload_length=0) + b"pad"
    assert parse_network(jumbo, 0, IPV6)[7] == len(jumbo)


def test_tcp_header_cut_by_snapshot_length_is_kept():
    options = b"\x01" * 12
    packet = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, b"data", options=options))
    snapped = packet[:20 + 24]  # inside the TCP options
    found = parse_network(snapped, 0, IPV4)
    assert found[5:8] == (20, 44, 44)


@pytest.mark.parametrize(
    "packet, reason",
    [
        (ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2))[:19], "malformed ip"),
        (b"\x45" + ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2))[1:9] + b"", "malformed ip"),
        (b"\x44" + ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2))[1:], "malformed ip"),
        (ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2), total_length=12), "malformed ip"),
        (ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2)[:12]), "malformed tcp"),
        (ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2)[:12] + b"\x20" + bytes(7)),
         "malformed tcp"),
        (ipv4("1.1.1.1", "2.2.2.2", 17, udp(1, 2)[:6]), "malformed udp"),
        (ipv6("::1", "::2", 0, b"\x06\x05" + bytes(6)), "malformed ip"),
        (b"\x70" + bytes(40), "non-ip"),
    ],
)  # fmt: skip
def test_malformed_headers_give_a_reason(packet, reason):
    assert parse_network(packet, 0, BY_VERSION) == reason


def test_malformed_packets_are_counted_not_raised(capture):
    good = tcp4(b"ok")
    bad_version = ethernet(b"\x55" + ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2))[1:])
    sessions = read_sessions(capture([good, bad_version, good[:40]]))
    stats = sessions.stats
    assert len(sessions) == 1
    assert stats.packets_skipped == {"malformed ip": 1, "malformed tcp": 1}
    assert stats.packets_read == stats.packets_used + 2


INNER = ipv4("192.168.0.1", "10.10.10.1", 6, tcp(64455, 443, b"tls"))
INNER6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(53959, 53, b"dns"))


def _gtp(payload, extension=False):
    flags = 0x34 if extension else 0x30
    header = struct.pack(">BBHI", flags, 0xFF, len(payload), 1)
    if extension:
        # sequence, N-PDU, next extension: PDU session container (4 bytes)
        header += struct.pack(">HBB", 0, 0, 0x85) + bytes([1, 0x10, 9, 0])
    return header + payload


TUNNELS = {
    "ip in ip": (ipv4("1.0.0.1", "1.0.0.2", 4, INNER), 20),
    "6 in 4": (ipv4("1.0.0.1", "1.0.0.2", 41, INNER6), 20),
    "4 in 6": (ipv6("fe80::1", "fe80::2", 4, INNER), 40),
    "gre with key": (
        ipv4("1.0.0.1", "1.0.0.2", 47, struct.pack(">HHI", 0x2000, 0x0800, 5) + INNER),
        28,
    ),
    "gtp-u": (ipv4("1.0.0.1", "1.0.0.2", 17, udp(2152, 2152, _gtp(INNER))), 36),
    "gtp-u with extension": (
        ipv4("1.0.0.1", "1.0.0.2", 17, udp(40000, 2152, _gtp(INNER6, True))), 44,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", TUNNELS)
def test_tunnels_are_keyed_by_the_inner_flow(case):
    packet, inner_offset = TUNNELS[case]
    found = parse_network(packet, 0, BY_VERSION)
    if packet[inner_offset] >> 4 == 4:
        assert found[:5] == (6, bytes([192, 168, 0, 1]), bytes([10, 10, 10, 1]),
                             64455, 443)  # fmt: skip
        assert packet[found[6] :] == b"tls"
    else:
        assert found[0] == 17 and found[3:5] == (53959, 53)
        assert packet[found[6] :] == b"dns"
    outer = (12, 16) if packet[0] >> 4 == 4 else (8, 24)
    assert found[9][0] == outer  # outer addresses first, then the inner ones
    assert len(found[9]) == 4
    assert found[5] > inner_offset


def test_outer_tunnels_keep_the_outer_header():
    packet, _ = TUNNELS["gtp-u"]
    found = parse_network(packet, 0, IPV4, tunnels="outer")
    assert found[:5] == (17, bytes([1, 0, 0, 1]), bytes([1, 0, 0, 2]), 2152, 2152)
    ip_in_ip, _ = TUNNELS["ip in ip"]
    assert parse_network(ip_in_ip, 0, IPV4, tunnels="outer")[0] == 4


def test_gtp_signalling_on_the_user_port_is_plain_udp():
    echo = struct.pack(">BBHI", 0x32, 0x01, 4, 0) + bytes(4)
    packet = ipv4("1.0.0.1", "1.0.0.2", 17, udp(2152, 2152, echo))
    assert parse_network(packet, 0, IPV4)[3:7] == (2152, 2152, 20, 28)


def test_tunnelled_session_through_read_sessions(capture):
    packet, _ = TUNNELS["ip in ip"]
    (session,) = read_sessions(capture([ethernet(packet)]))
    assert session.five_tuple == (6, "192.168.0.1", 64455, "10.10.10.1", 443)
    only = session.packets[0]
    assert (only.network_offset, only.transport_offset) == (14, 54)
    (outer,) = read_sessions(capture([ethernet(packet)]), tunnels="outer",
                             non_tcp_udp="key")  # fmt: skip
    assert outer.five_tuple == (4, "1.0.0.1", None, "1.0.0.2", None)


def test_other_protocols_keyed_by_addresses(capture):
    echo = b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"ping"
    frame = ethernet(ipv4("10.0.0.1", "10.0.0.2", 1, echo))
    reply = ethernet(ipv4("10.0.0.2", "10.0.0.1", 1, echo))
    path = capture([frame, reply])
    assert len(read_sessions(path)) == 0
    assert read_sessions(path).stats.packets_skipped == {"not tcp/udp": 2}
    (session,) = read_sessions(path, non_tcp_udp="key")
    assert session.five_tuple == (1, "10.0.0.1", None, "10.0.0.2", None)
    assert session.n_packets == 2
    packet = session.packets[0]
    assert (packet.transport_offset, packet.payload_offset) == (34, 34)
    assert packet.port_spans == ()
