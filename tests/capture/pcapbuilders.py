"""Byte-exact builders of packets and capture files for the capture tests."""

import socket
import struct

MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ipv4(src, dst, protocol, payload, *, options=b"", ident=1, fragment=0,
         total_length=None):  # fmt: skip
    """An IPv4 packet; ``fragment`` is the flags + fragment offset field."""
    length = 20 + len(options)
    if total_length is None:
        total_length = length + len(payload)
    header = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | length // 4, 0, total_length, ident, fragment,
        64, protocol, 0, socket.inet_aton(src), socket.inet_aton(dst),
    )  # fmt: skip
    return header + options + payload


def ipv6(src, dst, next_header, payload, *, payload_length=None):
    """An IPv6 packet; extension headers go at the start of ``payload``."""
    if payload_length is None:
        payload_length = len(payload)
    header = struct.pack(
        ">IHBB16s16s", 0x60000000, payload_length, next_header, 64,
        socket.inet_pton(socket.AF_INET6, src),
        socket.inet_pton(socket.AF_INET6, dst),
    )  # fmt: skip
    return header + payload


def tcp(sport, dport, payload=b"", *, flags=PSH | ACK, options=b"", seq=1):
    offset = (20 + len(options)) // 4
    header = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, offset << 4, flags,
                         65535, 0, 0)  # fmt: skip
    return header + options + payload


def udp(sport, dport, payload=b""):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def ethernet(payload, ethertype=0x0800, *, tags=(), dst=MAC_B, src=MAC_A):
    """An Ethernet frame; ``tags`` are (TPID, VLAN id) pairs, outermost first."""
    frame = dst + src
    for tpid, vlan in tags:
        frame += struct.pack(">HH", tpid, vlan)
    return frame + struct.pack(">H", ethertype) + payload


def tcp4(payload=b"", *, src="10.0.0.1", dst="10.0.0.2", sport=1234, dport=80,
         flags=PSH | ACK, **ip):  # fmt: skip
    """Ethernet / IPv4 / TCP, the common case."""
    return ethernet(ipv4(src, dst, 6, tcp(sport, dport, payload, flags=flags), **ip))


def udp4(payload=b"", *, src="10.0.0.1", dst="10.0.0.2", sport=5353, dport=53):
    return ethernet(ipv4(src, dst, 17, udp(sport, dport, payload)))


PCAP_MAGICS = {
    "a1b2c3d4": (">", 1_000_000),
    "d4c3b2a1": ("<", 1_000_000),
    "a1b23c4d": (">", 1_000_000_000),
    "4d3cb2a1": ("<", 1_000_000_000),
}


def pcap_bytes(packets, *, magic="d4c3b2a1", link_type=1, snaplen=65535,
               version=(2, 4)):  # fmt: skip
    """A classic pcap file.

    ``packets`` holds ``data`` or ``(time, data)`` or ``(time, data,
    wire_length)``; times default to 1, 2, 3, ... seconds.
    """
    endian, units = PCAP_MAGICS[magic]
    out = bytes.fromhex(magic)
    out += struct.pack(endian + "HHiIII", *version, 0, 0, snaplen, link_type)
    for index, packet in enumerate(packets):
        if isinstance(packet, bytes):
            packet = (float(index + 1), packet)
        time, data = packet[:2]
        wire_length = packet[2] if len(packet) > 2 else len(data)
        seconds = int(time)
        fraction = round((time - seconds) * units)
        out += struct.pack(endian + "IIII", seconds, fraction, len(data),
                           wire_length)  # fmt: skip
        out += data
    return out


def write_pcap(path, packets, **kwargs):
    path.write_bytes(pcap_bytes(packets, **kwargs))
    return path


def _pad(data):
    return data + bytes(-len(data) % 4)


def ng_block(block_type, body, endian="<"):
    body = _pad(body)
    length = 12 + len(body)
    return (struct.pack(endian + "II", block_type, length) + body
            + struct.pack(endian + "I", length))  # fmt: skip


def ng_section(endian="<"):
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    return ng_block(0x0A0D0D0A, body, endian)


def ng_interface(link_type, *, tsresol=None, endian="<", snaplen=0):
    body = struct.pack(endian + "HHI", link_type, 0, snaplen)
    if tsresol is not None:
        body += struct.pack(endian + "HH", 9, 1) + bytes([tsresol, 0, 0, 0])
        body += struct.pack(endian + "HH", 0, 0)
    return ng_block(1, body, endian)


def ng_packet(interface, timestamp, data, *, wire_length=None, endian="<",
              options=b""):  # fmt: skip
    """An enhanced packet block; ``timestamp`` in the interface's units."""
    if wire_length is None:
        wire_length = len(data)
    body = struct.pack(endian + "IIIII", interface, timestamp >> 32,
                       timestamp & 0xFFFFFFFF, len(data), wire_length)  # fmt: skip
    return ng_block(6, body + _pad(data) + options, endian)
