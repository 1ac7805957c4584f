"""The numpy fast path: packets parsed in batches; classic pcap walked in chunks."""

import os
import struct
from itertools import pairwise

import numpy as np

from skfocal.capture._headers import (
    _IP_IN_IP,
    _IPV6_EXTENSIONS,
    NOT_TCP_UDP,
    TCP,
    UDP,
    parse_network,
)
from skfocal.capture._linktypes import LINK_TYPES, network_layer
from skfocal.capture._reader import (
    _MAX_CAPLEN,
    LINK_TYPE_MASK,
    PCAP_MAGICS,
    caplen_error,
    header_truncated_error,
    record_truncated_error,
)

# Bytes read per chunk. A chunk holds many records, so the numpy work is done
# on arrays of thousands of packets; it also bounds the memory of a huge file.
# A record longer than a chunk gets a larger one.
CHUNK_SIZE = 8 << 20
# Gathers read a few dozen bytes past a record's start whatever its length;
# the padding keeps them inside the buffer. Their results are masked out.
_PAD = 128
_GTP_U_PORT = 2152
_GRE = 47

# Link types whose framing the numpy path reads: where the network header
# starts, and whether the link type fixes the IP version (0: the first
# nibble tells). Ethernet is read here without VLAN tags, PPPoE or MPLS.
_FAST_LINKS = {1: (14, 0), 12: (0, 0), 14: (0, 0), 101: (0, 0), 228: (0, 4),
               229: (0, 6)}  # fmt: skip
_ETHERNET_SPANS = ((0, 6), (6, 12))
_IPV4_SPANS = ((12, 16), (16, 20))
_IPV6_SPANS = ((8, 24), (24, 40))


def _shift(spans, offset):
    return tuple((start + offset, stop + offset) for start, stop in spans)


def _unaligned(array, dtype):
    """A view of ``array``'s bytes as ``dtype`` items starting at every offset.

    Item ``i`` is read from bytes ``i`` onwards, aligned or not, so that one
    gather reads a field of every packet at once.
    """
    dtype = np.dtype(dtype)
    return np.ndarray((len(array) - dtype.itemsize + 1,), dtype=dtype,
                      buffer=array, strides=(1,))  # fmt: skip


def _kinds(link_type):
    """Address spans of the fast packets by kind: 1 for IPv4, 2 for IPv6."""
    network = _FAST_LINKS.get(link_type, (0,))[0]
    link = _ETHERNET_SPANS if link_type == 1 else ()
    return {1: link + _shift(_IPV4_SPANS, network),
            2: link + _shift(_IPV6_SPANS, network)}  # fmt: skip


def fast_header(path):
    """The classic pcap header fields the fast path needs, or None.

    None means the numpy path does not apply: a gzip-compressed file,
    pcapng, or anything the general reader has to judge.
    """
    with open(path, "rb") as file:
        header = file.read(24)
    if len(header) < 24 or header[:4] not in PCAP_MAGICS:
        return None
    endian, scale = PCAP_MAGICS[header[:4]]
    major, _, _, _, _, link_type = struct.unpack(endian + "HHiIII", header[4:])
    if major != 2:
        return None
    return endian, scale, link_type & LINK_TYPE_MASK


# The per-packet arrays of a Batch, all indexed by its rows.
ARRAYS = ("index", "time", "size", "wire", "start", "end", "network", "transport",
          "payload", "flags", "protocol", "width", "src", "dst", "sport", "dport",
          "vlan", "spans")  # fmt: skip


class Batch:
    """The usable packets of one chunk of records, as parallel arrays.

    Rows are packets in capture order. ``chunk`` holds the bytes read,
    ``start`` where each packet's data starts in it; ``index`` is each
    packet's record number in the chunk; ``slow`` maps the rows the general
    parsers read to their address and port spans. The other arrays are
    described where :class:`PcapBatches` fills them. All packets of a
    batch have the link type ``link_type``; ``kinds`` maps the address
    span kinds of the fast packets to their spans.
    """

    __slots__ = ("chunk", "slow", "link_type", "kinds", *ARRAYS)

    def data(self, row):
        """The captured bytes of packet ``row``, cut at its IP packet's end."""
        start = self.start[row]
        return self.chunk[start : start + self.end[row]]


class PacketBatches:
    """Packets parsed with numpy a batch at a time, for the grouping.

    The link, IP and TCP/UDP headers of the common packets (Ethernet
    without VLAN tags or raw IP, IPv4 or IPv6 without extension headers,
    TCP or UDP, no fragment, no tunnel) are read with numpy over a whole
    batch at once. Every other packet goes through the general parsers one
    by one, so the result is that of ``network_layer`` followed by
    ``parse_network``, packet for packet. Subclasses find the packets.

    Parameters
    ----------
    path : str
        The capture file.
    tunnels : {'inner', 'outer'}
        As for :func:`~skfocal.capture.read_sessions`.
    keep_other : bool
        Whether packets of IP protocols other than TCP and UDP are used.
    skipped, unknown_links : collections.Counter
        The caller's counters of skip reasons and of unread link types.

    Attributes
    ----------
    n_read, oversized : int
        Records read, and those with more captured bytes than on the wire.
    error : CaptureError or None
        The truncation or corruption that ended the file early.
    notes : list of str
        What the reader skipped, one line per kind, for the user.
    """

    def __init__(self, path, tunnels, keep_other, skipped, unknown_links):
        self.path = path
        self.inner = tunnels == "inner"
        self.tunnels = tunnels
        self.keep_other = keep_other
        self.skipped = skipped
        self.unknown_links = unknown_links
        self.n_read = self.oversized = 0
        self.error = None
        self.notes = []
        self.vlans = {(): 0}
        self.link_type = None
        self.kinds = None

    def _set_link_type(self, link_type):
        self.link_type = link_type
        self.kinds = _kinds(link_type)

    def _batches(self, buffer, start, size, wire, time, links, array=None):
        """Yield the Batches of packets in ``buffer``, one per run of a link type.

        Fixed-size gathers read past a packet's start, so numpy reads a
        padded copy of ``buffer``: ``array`` if the caller has one.
        """
        if array is None:
            array = np.zeros(len(buffer) + _PAD, dtype=np.uint8)
            array[: len(buffer)] = np.frombuffer(buffer, dtype=np.uint8)
        cuts = (np.flatnonzero(links[1:] != links[:-1]) + 1).tolist()
        for lo, hi in pairwise([0, *cuts, len(start)]):
            self._set_link_type(int(links[lo]))
            part = slice(lo, hi)
            yield from self._batch(array, buffer, start[part], size[part],
                                   wire[part], time[part])  # fmt: skip

    def _take_reader_skips(self, reader):
        """Count the records ``reader`` read but did not hand on.

        These are pcapng packets of an interface their section does not
        describe: read, and skipped for that reason.
        """
        if reader.skipped:
            self.n_read += reader.skipped.total()
            self.skipped.update(reader.skipped)
            self.notes.extend(reader.notes)

    def _fail(self, error):
        if self.error is None:
            self.error = error

    def _batch(self, array, chunk, start, size, wire, time):
        """Parse packets of ``self.link_type``; yield their Batch if any is used.

        ``array`` is ``chunk`` as numpy bytes, padded; the packets' data
        start at ``start`` in it and are ``size`` bytes long.
        """
        n = len(start)
        batch = Batch()
        batch.chunk = chunk
        batch.start = start
        batch.size = size
        batch.wire = wire
        batch.time = time
        batch.link_type = self.link_type
        batch.kinds = self.kinds
        self.oversized += int(np.count_nonzero(size > wire))

        if self.link_type not in LINK_TYPES:
            self.unknown_links[self.link_type] += n
            return
        if self.link_type in _FAST_LINKS:
            fast, other = self._parse_fast(array, batch)
            if not self.keep_other:
                # Counted here rather than parsed one by one to be skipped.
                n_other = int(np.count_nonzero(other))
                if n_other:
                    self.skipped[NOT_TCP_UDP] += n_other
                fast_or_skipped = fast | other
            else:
                fast_or_skipped = fast
        else:
            fast = fast_or_skipped = np.zeros(n, dtype=bool)
            self._allocate(batch, n)
        used = fast.copy()
        self._parse_slow(batch, np.flatnonzero(~fast_or_skipped), used)

        batch.index = np.arange(n)
        rows = np.flatnonzero(used)
        if len(rows) < n:
            for name in ARRAYS:
                setattr(batch, name, getattr(batch, name)[rows])
        # Renumber the slow packets' spans to the kept rows.
        slow = list(batch.slow)
        positions = np.searchsorted(rows, slow).tolist()
        batch.slow = {
            position: batch.slow[row] for position, row in zip(positions, slow)
        }
        yield batch

    def _allocate(self, batch, n):
        for name in ARRAYS[5:]:
            setattr(batch, name, np.zeros(n, dtype=np.int64))
        batch.src = np.zeros((n, 16), dtype=np.uint8)
        batch.dst = np.zeros((n, 16), dtype=np.uint8)
        batch.slow = {}

    def _parse_fast(self, array, batch):
        """Parse the common packets with numpy.

        Returns which packets were parsed (TCP and UDP), and which are
        well-formed IP packets of another protocol.
        """
        n = len(batch.start)
        # Everything else is set below; the general parsers fill the rest.
        batch.vlan = np.zeros(n, dtype=np.int64)
        batch.slow = {}
        start, size = batch.start, batch.size
        network, family = _FAST_LINKS[self.link_type]
        words = _unaligned(array, ">u2")

        def u8(offset):
            return array[offset].astype(np.int64)

        def u16(offset):
            return words[offset].astype(np.int64)

        if self.link_type == 1:
            ethertype = u16(start + 12)
            version = np.where(ethertype == 0x0800, 4, 0)
            version[ethertype == 0x86DD] = 6
            version[size < 14] = 0
        elif family:
            version = np.full(n, family)
        else:
            version = u8(start) >> 4
            version[size < 1] = 0
        ip = start + network
        first = u8(ip)
        available = size - network
        v4 = (version == 4) & (available >= 20) & (first >> 4 == 4)
        v6 = (version == 6) & (available >= 40) & (first >> 4 == 6)

        # IPv4: the header length, the total length and the fragment field;
        # IPv6: the payload length. Either may be 0 (offload): to the end.
        header = np.where(v4, (first & 0x0F) * 4, 40)
        total = np.where(v4, u16(ip + 2), u16(ip + 4) + 40)
        fragment = u16(ip + 6)
        v4 &= (header >= 20) & (header <= available) & (fragment & 0x1FFF == 0)
        # A length of 0 (offload, jumbograms) is rare: left to the parser.
        v4 &= total >= header
        v6 &= total > 40
        protocol = np.where(v4, u8(ip + 9), u8(ip + 6))
        snapped = network + total > size
        end = np.where(snapped, size, network + total)
        transport = network + header

        tcp = (v4 | v6) & (protocol == TCP) & (end - transport >= 20)
        udp = (v4 | v6) & (protocol == UDP) & (end - transport >= 8)
        payload = transport + np.where(tcp, (u8(start + transport + 12) >> 4) * 4, 8)
        tcp &= payload >= transport + 20
        tcp &= (payload <= end) | snapped
        payload = np.minimum(payload, end)
        sport = u16(start + transport)
        dport = u16(start + transport + 2)
        if self.inner:
            udp &= (sport != _GTP_U_PORT) & (dport != _GTP_U_PORT)
        fast = tcp | udp
        # Well-formed IP packets of other protocols that the general parser
        # would return as they are: not IPv6 extension headers (walked
        # there), nor tunnels it unwraps.
        other = (v4 | v6) & (protocol != TCP) & (protocol != UDP)
        other &= ~(v6 & np.isin(protocol, list(_IPV6_EXTENSIONS)))
        if self.inner:
            other &= ~np.isin(protocol, [*_IP_IN_IP, _GRE])

        # Addresses: 16 bytes copied at once, then cleared past an IPv4's 4.
        address = np.where(v4, ip + 12, ip + 8)
        length = np.where(v4, 4, 16)
        blocks = _unaligned(array, "V16")
        batch.src = blocks[address].view(np.uint8).reshape(n, 16)
        batch.dst = blocks[address + length].view(np.uint8).reshape(n, 16)
        batch.src[v4, 4:] = 0
        batch.dst[v4, 4:] = 0
        batch.width = length
        batch.end, batch.network = end, np.full(n, network)
        batch.transport, batch.payload = transport, payload
        batch.flags = np.where(tcp, u8(start + transport + 13), 0)
        batch.protocol, batch.sport, batch.dport = protocol, sport, dport
        # The address spans of the fast packets, by kind (see ``kinds``).
        batch.spans = np.where(v4, 1, 2)
        return fast, other

    def _parse_slow(self, batch, rows, used):
        """Parse the unusual packets one by one with the general parsers."""
        link_type = self.link_type
        if not len(rows) or link_type not in LINK_TYPES:
            return
        skipped = self.skipped
        chunk = batch.chunk
        starts, sizes = batch.start[rows].tolist(), batch.size[rows].tolist()
        for row, start, size in zip(rows.tolist(), starts, sizes):
            data = chunk[start : start + size]
            layer = network_layer(link_type, data)
            if layer.__class__ is str:
                skipped[layer] += 1
                continue
            network_offset, network, vlan, link_spans = layer
            header = parse_network(data, network_offset, network, self.tunnels)
            if header.__class__ is str:
                skipped[header] += 1
                continue
            (protocol, src, dst, sport, dport, transport_offset, payload_offset,
             end, flags, ip_spans, port_spans) = header  # fmt: skip
            if protocol != TCP and protocol != UDP and not self.keep_other:
                skipped[NOT_TCP_UDP] += 1
                continue

            used[row] = True
            batch.end[row] = end
            batch.network[row] = network_offset
            batch.transport[row] = transport_offset
            batch.payload[row] = payload_offset
            batch.flags[row] = flags
            batch.protocol[row] = protocol
            batch.width[row] = len(src)
            # Keys compare all 16 bytes: clear what the numpy pass left.
            batch.src[row] = batch.dst[row] = 0
            batch.src[row, : len(src)] = np.frombuffer(src, dtype=np.uint8)
            batch.dst[row, : len(dst)] = np.frombuffer(dst, dtype=np.uint8)
            # Ports None (other protocols) are -1: the key needs a number.
            batch.sport[row] = -1 if sport is None else sport
            batch.dport[row] = -1 if dport is None else dport
            batch.vlan[row] = self.vlans.setdefault(vlan, len(self.vlans))
            batch.spans[row] = 0
            batch.slow[row] = (link_spans + ip_spans, port_spans)


class PcapBatches(PacketBatches):
    """Iterate over an uncompressed classic pcap file in batches of packets.

    The record headers are walked in a tight loop over chunks of the file;
    each chunk's packets are then parsed as one batch (see
    :class:`PacketBatches`), so the result is that of
    :class:`~skfocal.capture._reader.CaptureReader` and the general
    parsers, packet for packet.

    Parameters
    ----------
    path : str
        The capture file.
    header : tuple
        What :func:`fast_header` returned for it.
    tunnels, keep_other, skipped, unknown_links
        As for :class:`PacketBatches`.
    chunk_size : int, default=None
        Bytes read at a time; None reads ``CHUNK_SIZE``.
    """

    def __init__(self, path, header, tunnels, keep_other, skipped, unknown_links,
                 chunk_size=None):  # fmt: skip
        super().__init__(path, tunnels, keep_other, skipped, unknown_links)
        self.endian, self.scale, link_type = header
        self._set_link_type(link_type)
        self.chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size

    def __iter__(self):
        # The captured length, 8 bytes into a record header.
        caplen_at = struct.Struct(self.endian + "8xI").unpack_from
        with open(self.path, "rb") as file:
            file_size = os.fstat(file.fileno()).st_size
            # Small captures are the common case: no 8 MB buffer for them.
            chunk_size = min(self.chunk_size, max(file_size - 24, 16))
            padded = np.zeros(chunk_size + _PAD, dtype=np.uint8)
            base = 24
            while base < file_size and self.error is None:
                file.seek(base)
                # Packets are cut from the chunk as bytes; numpy reads a
                # padded copy, so that fixed-size gathers stay inside it.
                chunk = file.read(chunk_size)
                n = len(chunk)
                padded[:n] = np.frombuffer(chunk, dtype=np.uint8)
                at_end = base + n >= file_size

                # Record offsets need a sequential walk: each record's length
                # says where the next one starts. Checks wait for numpy; the
                # loop is kept as short as it goes, since it runs per record.
                offsets = []
                append = offsets.append
                position = 0
                last = n - 16
                while position <= last:
                    append(position)
                    position += 16 + caplen_at(chunk, position)[0]
                if position > n:
                    # Only the last record can run past the chunk's end.
                    position = offsets.pop()
                following = self._boundary(chunk, n, position, at_end, offsets,
                                           base)  # fmt: skip
                if not following and not offsets:
                    # A record longer than the chunk: read more at once.
                    chunk_size *= 2
                    padded = np.zeros(chunk_size + _PAD, dtype=np.uint8)
                    continue
                offsets = np.array(offsets, dtype=np.int64)
                if len(offsets):
                    yield from self._parse(padded, chunk, offsets, base)
                base += following

    def _boundary(self, buffer, n, position, at_end, offsets, base):
        """Settle the record at the end of a chunk; return where to go on.

        The chunk's records are in ``offsets``; a record whose captured
        length is too large is added there for :meth:`_parse` to report.
        """
        if position + 16 > n:
            if at_end and position < n:
                self._fail(header_truncated_error(self.path, base + position,
                                                  n - position))  # fmt: skip
            return n if at_end else position
        caplen = struct.unpack_from(self.endian + "I", buffer, position + 8)[0]
        if caplen > _MAX_CAPLEN:
            # Reported by _parse, after the records before it.
            offsets.append(position)
            return n
        if at_end:
            self._fail(record_truncated_error(self.path, base + position, caplen,
                                              n - position - 16))  # fmt: skip
            return n
        return position

    def _parse(self, array, chunk, offsets, base):
        """Read the headers of one chunk's records; yield their Batch."""
        fields = _unaligned(array, "V16")[offsets]
        fields = fields.view(self.endian + "u4").reshape(-1, 4).astype(np.int64)
        seconds, fraction, caplen, wire = fields.T

        # A corrupt captured length ends the file, after the records before.
        bad = np.flatnonzero(caplen > _MAX_CAPLEN)
        if len(bad):
            cut = bad[0]
            # It comes before any problem found at the chunk's end: it wins.
            self.error = caplen_error(self.path, base + int(offsets[cut]),
                                      int(caplen[cut]))  # fmt: skip
            offsets, seconds, fraction, caplen, wire = (
                part[:cut] for part in (offsets, seconds, fraction, caplen, wire)
            )
        self.n_read += len(offsets)
        if len(offsets):
            time = seconds.astype(np.float64) + fraction * self.scale
            yield from self._batch(array, chunk, offsets + 16, caplen, wire, time)
