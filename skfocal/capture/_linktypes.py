"""Link-layer framings: where the network header starts, and which one it is."""

import struct

_U16 = struct.Struct(">H")
_U16_PAIR = struct.Struct(">HH")
_LE32 = struct.Struct("<I")
_BE32 = struct.Struct(">I")

# Network protocol found under the link layer. ``BY_VERSION`` means the link
# layer does not say: the version nibble of the first byte does.
IPV4 = 4
IPV6 = 6
BY_VERSION = 0

# Why a packet has no IP header to read; these are the skip reasons counted
# in ExtractionStats.packets_skipped.
NON_IP = "non-ip"
MALFORMED = "malformed link layer"

_ETHERNET_MACS = ((0, 6), (6, 12))
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
_MPLS_TYPES = frozenset((0x8847, 0x8848))
_PPP_PROTOCOLS = {0x0021: IPV4, 0x0057: IPV6}
# BSD loopback address families: AF_INET everywhere, AF_INET6 per system
# (24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS).
_NULL_FAMILIES = {2: IPV4, 24: IPV6, 28: IPV6, 30: IPV6}


def _ethertype(data, offset, ethertype, vlan, macs):
    """Follow an EtherType through VLAN tags, PPPoE and MPLS to IP."""
    # Stacked tags: 802.1Q, 802.1ad and the older 0x9100 QinQ, any depth.
    while ethertype in _VLAN_TYPES:
        if len(data) < offset + 4:
            return MALFORMED
        tci, ethertype = _U16_PAIR.unpack_from(data, offset)
        vlan += (tci & 0x0FFF,)
        offset += 4

    if ethertype == 0x0800:
        return offset, IPV4, vlan, macs
    if ethertype == 0x86DD:
        return offset, IPV6, vlan, macs
    if ethertype == 0x8864:
        # PPPoE session: 6-byte header, then the 2-byte PPP protocol.
        if len(data) < offset + 8:
            return MALFORMED
        network = _PPP_PROTOCOLS.get(_U16.unpack_from(data, offset + 6)[0])
        if network is None:
            return NON_IP
        return offset + 8, network, vlan, macs
    if ethertype in _MPLS_TYPES:
        # Pop labels up to the bottom of the stack; MPLS does not say what it
        # carries, so the IP version nibble has to.
        while True:
            if len(data) < offset + 4:
                return MALFORMED
            bottom = data[offset + 2] & 0x01
            offset += 4
            if bottom:
                return offset, BY_VERSION, vlan, macs
    return NON_IP


def _ethernet(data, offset):
    if len(data) < offset + 14:
        return MALFORMED
    macs = _ETHERNET_MACS
    if offset:
        macs = ((offset, offset + 6), (offset + 6, offset + 12))
    ethertype = _U16.unpack_from(data, offset + 12)[0]
    return _ethertype(data, offset + 14, ethertype, (), macs)


def _linux_sll(data, offset):
    # packet type, ARPHRD type, address length, 8-byte address, protocol
    if len(data) < offset + 16:
        return MALFORMED
    length = min(_U16.unpack_from(data, offset + 4)[0], 8)
    macs = ((offset + 6, offset + 6 + length),) if length else ()
    ethertype = _U16.unpack_from(data, offset + 14)[0]
    return _ethertype(data, offset + 16, ethertype, (), macs)


def _linux_sll2(data, offset):
    # protocol, reserved, interface index, ARPHRD type, packet type,
    # address length, 8-byte address
    if len(data) < offset + 20:
        return MALFORMED
    length = min(data[offset + 11], 8)
    macs = ((offset + 12, offset + 12 + length),) if length else ()
    ethertype = _U16.unpack_from(data, offset)[0]
    return _ethertype(data, offset + 20, ethertype, (), macs)


def _raw(data, offset):
    return offset, BY_VERSION, (), ()


def _raw_ipv4(data, offset):
    return offset, IPV4, (), ()


def _raw_ipv6(data, offset):
    return offset, IPV6, (), ()


def _null(data, offset):
    # The family is in the byte order of the host that captured, which the
    # file does not record: try the little-endian reading first.
    if len(data) < offset + 4:
        return MALFORMED
    network = _NULL_FAMILIES.get(_LE32.unpack_from(data, offset)[0])
    if network is None:
        network = _NULL_FAMILIES.get(_BE32.unpack_from(data, offset)[0])
    if network is None:
        return NON_IP
    return offset + 4, network, (), ()


def _loop(data, offset):
    if len(data) < offset + 4:
        return MALFORMED
    network = _NULL_FAMILIES.get(_BE32.unpack_from(data, offset)[0])
    if network is None:
        return NON_IP
    return offset + 4, network, (), ()


def _cisco_hdlc(data, offset):
    # address (0x0f unicast, 0x8f broadcast), control, EtherType
    if len(data) < offset + 4:
        return MALFORMED
    ethertype = _U16.unpack_from(data, offset + 2)[0]
    return _ethertype(data, offset + 4, ethertype, (), ())


def _ppp(data, offset):
    if len(data) < offset + 2:
        return MALFORMED
    first, second = data[offset], data[offset + 1]
    if first == 0xFF and second == 0x03:
        offset += 2
    elif first in (0x0F, 0x8F) and second == 0x00:
        # Some routers write Cisco HDLC frames under the PPP link type.
        return _cisco_hdlc(data, offset)
    if len(data) < offset + 1:
        return MALFORMED

    # An odd first byte is a compressed one-byte protocol field (RFC 1661).
    if data[offset] & 0x01:
        protocol = data[offset]
        offset += 1
    else:
        if len(data) < offset + 2:
            return MALFORMED
        protocol = _U16.unpack_from(data, offset)[0]
        offset += 2
    network = _PPP_PROTOCOLS.get(protocol)
    if network is None:
        return NON_IP
    return offset, network, (), ()


def _ppi(data, offset):
    # Per-Packet Information: version, flags, little-endian header length
    # and link type of what follows.
    if len(data) < offset + 8:
        return MALFORMED
    length = struct.unpack_from("<H", data, offset + 2)[0]
    inner = _LE32.unpack_from(data, offset + 4)[0]
    parse = _PARSERS.get(inner)
    if parse is None or parse is _ppi or length < 8:
        return f"link type {inner}"
    return parse(data, offset + length)


_PARSERS = {
    0: _null,
    1: _ethernet,
    9: _ppp,
    12: _raw,
    14: _raw,
    50: _ppp,
    101: _raw,
    104: _cisco_hdlc,
    108: _loop,
    113: _linux_sll,
    192: _ppi,
    228: _raw_ipv4,
    229: _raw_ipv6,
    276: _linux_sll2,
}

#: The LINKTYPE_* values read; other link types are skipped.
LINK_TYPES = frozenset(_PARSERS)


def network_layer(link_type, data):
    """Find the network header under a packet's link-layer framing.

    Parameters
    ----------
    link_type : int
        The LINKTYPE_* value of the packet: Ethernet (1) with any stack of
        802.1Q/802.1ad tags, PPPoE sessions and MPLS; Linux cooked capture v1
        (113) and v2 (276); raw IP (101, 12, 14; 228 IPv4 and 229 IPv6);
        BSD loopback NULL (0, host byte order) and LOOP (108, network order);
        PPP (9, 50; Cisco HDLC frames under it are recognised); Cisco HDLC
        (104); PPI (192) wrapping any of these.
    data : bytes
        The captured packet, from the link-layer header on.

    Returns
    -------
    layer : tuple or str
        ``(network_offset, network, vlan, address_spans)``: where the network
        header starts, ``IPV4``, ``IPV6`` or ``BY_VERSION`` (the first
        nibble tells), the VLAN ids from the outermost tag in, and the
        ``(start, stop)`` spans of the link-layer addresses. A string is the
        reason the packet has no network header to read: ``'non-ip'``,
        ``'malformed link layer'`` or ``'link type N'``.
    """
    parse = _PARSERS.get(link_type)
    if parse is None:
        return f"link type {link_type}"
    return parse(data, 0)
