"""IPv4/IPv6 headers, tunnels and TCP/UDP: the 5-tuple and where payload starts."""

import struct

from skfocal.capture._linktypes import BY_VERSION, IPV4, IPV6

_U16 = struct.Struct(">H").unpack_from
_U16_PAIR = struct.Struct(">HH").unpack_from

TCP = 6
UDP = 17

# Skip reasons, as counted in ExtractionStats.packets_skipped.
MALFORMED_IP = "malformed ip"
MALFORMED_TCP = "malformed tcp"
MALFORMED_UDP = "malformed udp"
FRAGMENT = "ip fragment"
NON_IP = "non-ip"
# Counted by the callers, which decide whether other protocols are used.
NOT_TCP_UDP = "not tcp/udp"

# IPv6 extension headers walked to reach the transport header. The fragment
# header (44) and AH (51) have their own length rules; ESP (50) encrypts what
# follows and ends the walk.
_IPV6_EXTENSIONS = frozenset((0, 43, 44, 51, 60))
_GTP_U_PORT = 2152
_GRE_NETWORKS = {0x0800: IPV4, 0x86DD: IPV6}
_IP_IN_IP = {4: IPV4, 41: IPV6}


def _gre_inner(data, start, end):
    """Where the IP packet carried by plain GRE starts, or None."""
    if end - start < 4:
        return None
    flags, protocol = _U16_PAIR(data, start)
    network = _GRE_NETWORKS.get(protocol)
    # Version 0 only; the routing bit (RFC 1701) brings a variable-length
    # list that nothing in practice sends.
    if network is None or flags & 0x4007:
        return None
    offset = start + 4
    # Checksum (+reserved), key and sequence number: 4 bytes each when set.
    offset += 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000)
    offset += 4 * bool(flags & 0x1000)
    if offset >= end:
        return None
    return offset, network


def _gtp_u_inner(data, start, end):
    """Where the IP packet carried by a GTP-U G-PDU starts, or None."""
    if end - start < 8:
        return None
    flags = data[start]
    # Version 1, protocol type GTP (not GTP'), message type G-PDU.
    if flags & 0xF0 != 0x30 or data[start + 1] != 0xFF:
        return None
    offset = start + 8
    if flags & 0x07:
        # Sequence number, N-PDU number and next extension type come as one
        # 4-byte block when any of the E, S, PN flags is set.
        offset += 4
        if offset > end:
            return None
        next_type = data[offset - 1]
        while next_type:
            if offset >= end or not data[offset]:
                return None
            offset += 4 * data[offset]
            if offset > end:
                return None
            next_type = data[offset - 1]
    if offset >= end:
        return None
    network = data[offset] >> 4
    if network != IPV4 and network != IPV6:
        return None
    return offset, network


def parse_network(data, offset, network, tunnels="inner"):
    """Read the IP header(s) and TCP/UDP header of a packet.

    IPv4 options are skipped by the header length; IPv6 extension headers
    (hop-by-hop, routing, fragment, destination options, AH) are walked.
    The packet ends at the IP total length (IPv4) or 40 plus the payload
    length (IPv6), which cuts Ethernet padding and trailers; where that
    length is 0 (segmentation offload, jumbograms) or larger than what was
    captured (snapshot length), the packet ends where the capture does.

    Parameters
    ----------
    data : bytes
        The captured packet from the link layer on.
    offset : int
        Where the network header starts.
    network : int
        ``IPV4``, ``IPV6`` or ``BY_VERSION`` (the version nibble tells).
    tunnels : {'inner', 'outer'}, default='inner'
        With ``'inner'``, IP-in-IP (protocols 4 and 41), plain GRE (version
        0 carrying IPv4 or IPv6) and GTP-U G-PDUs (UDP port 2152) are
        decapsulated and the innermost TCP/UDP header gives the 5-tuple, as
        nDPI does; with ``'outer'``, the outermost IP header does.

    Returns
    -------
    header : tuple or str
        ``(protocol, src, dst, sport, dport, transport_offset,
        payload_offset, end, tcp_flags, address_spans, port_spans)``, with
        ``src``/``dst`` the packed addresses of the innermost IP header,
        ports None and ``transport_offset == payload_offset`` (just after
        the IP headers) for protocols other than TCP and UDP, and
        ``address_spans`` covering every IP header read, outer first. A
        string is the reason to skip the packet: ``'malformed ip'``,
        ``'malformed tcp'``, ``'malformed udp'``, ``'non-ip'`` or
        ``'ip fragment'``.

    Notes
    -----
    A non-first IP fragment carries no transport header, so its first bytes
    are payload, not ports: it is skipped as ``'ip fragment'`` rather than
    grouped into a session of its own. First fragments (offset 0, more
    fragments set) carry the ports and are read as usual. IP reassembly is
    not done.
    """
    end = len(data)
    inner = tunnels == "inner"
    addresses = ()
    # Whether the capture ended before the IP packet did (snapshot length):
    # a header cut there is short, not malformed.
    snapped = False

    while True:
        if network == BY_VERSION:
            network = data[offset] >> 4 if offset < end else 0
            if network != IPV4 and network != IPV6:
                return NON_IP if not addresses else MALFORMED_IP

        if network == IPV4:
            if end - offset < 20:
                return MALFORMED_IP
            first = data[offset]
            length = (first & 0x0F) * 4
            if first >> 4 != 4 or length < 20 or offset + length > end:
                return MALFORMED_IP
            total, _, fragment = struct.unpack_from(">HHH", data, offset + 2)
            if total:
                if total < length:
                    return MALFORMED_IP
                if offset + total <= end:
                    end = offset + total
                else:
                    snapped = True
            if fragment & 0x1FFF:
                return FRAGMENT
            protocol = data[offset + 9]
            src = data[offset + 12 : offset + 16]
            dst = data[offset + 16 : offset + 20]
            addresses += ((offset + 12, offset + 16), (offset + 16, offset + 20))
            start = offset + length
        else:
            if end - offset < 40 or data[offset] >> 4 != 6:
                return MALFORMED_IP
            payload_length = _U16(data, offset + 4)[0]
            if payload_length:
                if offset + 40 + payload_length <= end:
                    end = offset + 40 + payload_length
                else:
                    snapped = True
            protocol = data[offset + 6]
            src = data[offset + 8 : offset + 24]
            dst = data[offset + 24 : offset + 40]
            addresses += ((offset + 8, offset + 24), (offset + 24, offset + 40))
            start = offset + 40
            while protocol in _IPV6_EXTENSIONS:
                if end - start < 8:
                    return MALFORMED_IP
                if protocol == 44 and _U16(data, start + 2)[0] & 0xFFF8:
                    return FRAGMENT
                if protocol == 44:
                    size = 8
                elif protocol == 51:
                    size = (data[start + 1] + 2) * 4
                else:
                    size = (data[start + 1] + 1) * 8
                protocol = data[start]
                start += size
                if start > end:
                    return MALFORMED_IP

        if inner:
            tunnel = _IP_IN_IP.get(protocol)
            if tunnel is not None:
                offset, network = start, tunnel
                continue
            if protocol == 47:
                found = _gre_inner(data, start, end)
                if found is not None:
                    offset, network = found
                    continue

        if protocol == TCP:
            if end - start < 20:
                return MALFORMED_TCP
            sport, dport = _U16_PAIR(data, start)
            payload = start + (data[start + 12] >> 4) * 4
            if payload < start + 20:
                return MALFORMED_TCP
            if payload > end:
                if not snapped:
                    return MALFORMED_TCP
                payload = end
            flags = data[start + 13]
        elif protocol == UDP:
            if end - start < 8:
                return MALFORMED_UDP
            sport, dport = _U16_PAIR(data, start)
            payload = start + 8
            if inner and (sport == _GTP_U_PORT or dport == _GTP_U_PORT):
                found = _gtp_u_inner(data, payload, end)
                if found is not None:
                    offset, network = found
                    continue
            flags = 0
        else:
            sport = dport = None
            payload = start
            flags = 0
            ports = ()
            return (protocol, src, dst, sport, dport, start, payload, end, flags,
                    addresses, ports)  # fmt: skip

        ports = ((start, start + 2), (start + 2, start + 4))
        return (protocol, src, dst, sport, dport, start, payload, end, flags,
                addresses, ports)  # fmt: skip
