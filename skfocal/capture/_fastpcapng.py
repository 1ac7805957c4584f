"""The numpy fast path over uncompressed pcapng: blocks walked in chunks."""

import os
import struct

import numpy as np

from skfocal.capture import _fastpcap
from skfocal.capture._errors import CaptureError
from skfocal.capture._fastpcap import _PAD, PacketBatches, _unaligned
from skfocal.capture._reader import _CHUNK, block_header_truncated_error

_EPB = 6
# Integers below this convert to float64 exactly, so that numpy divides
# them as Python divides the integers: correctly rounded.
_EXACT = 2**53


class PcapngBatches(PacketBatches):
    """Iterate over an uncompressed pcapng file in batches of packets.

    The blocks of each chunk of the file are walked by their lengths in a
    tight loop, then checked with numpy: the sound enhanced packet blocks
    of a described interface (what the reader's inline read checks) give
    the batch's packets, and the blocks that the reader skips by their
    length are skipped. Every other block -- a section header, an
    interface description, an older packet block, a block that fails a
    check or crosses the chunk's end, and so whatever a wrong length led
    the walk to -- goes to :meth:`CaptureReader.read_pcapng_block`, which
    reads it as the general path does and raises what it raises.

    Parameters
    ----------
    reader : CaptureReader
        An open reader of an uncompressed pcapng file, not yet iterated.
    tunnels, keep_other, skipped, unknown_links
        As for :class:`~skfocal.capture._fastpcap.PacketBatches`.
    chunk_size : int, default=None
        Bytes read at a time; None reads ``CHUNK_SIZE``.
    """

    def __init__(self, reader, tunnels, keep_other, skipped, unknown_links,
                 chunk_size=None):  # fmt: skip
        super().__init__(reader.path, tunnels, keep_other, skipped, unknown_links)
        self.reader = reader
        self.chunk_size = _fastpcap.CHUNK_SIZE if chunk_size is None else chunk_size
        # The time of the last packet, which a simple packet block (it has
        # no timestamp) takes; 0.0 before the first, as in the reader.
        self.last_time = 0.0
        self._section()

    def __iter__(self):
        file = self.reader._raw
        file_size = os.fstat(file.fileno()).st_size
        base = self.reader._offset
        # Small captures are the common case: no 8 MB buffer for them.
        chunk_size = min(self.chunk_size, max(file_size - base, 16))
        while base < file_size and self.error is None:
            file.seek(base)
            chunk = file.read(chunk_size)
            padded = np.zeros(len(chunk) + _PAD, dtype=np.uint8)
            padded[: len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            pieces, extra = [], []
            position = 0
            while position <= len(chunk) - 8 and self.error is None:
                position = self._walk(file, chunk, padded, base, position, pieces,
                                      extra)  # fmt: skip
            if position < len(chunk) and self.error is None and base + len(
                    chunk) >= file_size:  # fmt: skip
                # The file ends inside a block header.
                position = self._slow_block(file, base + position, pieces,
                                            extra) - base  # fmt: skip
            yield from self._parse(chunk, padded, pieces, extra)
            base += position
        self._take_reader_skips(self.reader)

    def _section(self):
        """Take the byte order and interfaces of the reader's section."""
        self.endian = self.reader._scapy.endian
        self.head_at = struct.Struct(self.endian + "II").unpack_from
        links = self.reader.pcapng_links()
        self.links = np.array([link for link, _ in links], dtype=np.int64)
        self.tsresol = [tsresol for _, tsresol in links]

    def _walk(self, file, chunk, padded, base, position, pieces, extra):
        """Read the blocks from ``position`` on; return where reading goes on.

        The enhanced packet blocks are walked up to the first block of
        another type, which the reader reads, or to the chunk's end. Those
        that pass the checks with numpy give a piece of packets; each other
        one goes to the reader, in order.
        """
        # Each block's length says where the next one starts; the checks
        # wait for numpy. A zero length must not stall the loop.
        head_at = self.head_at
        offsets = []
        append = offsets.append
        last = len(chunk) - 8
        while position <= last:
            block_type, length = head_at(chunk, position)
            append(position)
            if block_type != _EPB:
                break
            position += length or 4

        n = len(chunk)
        offsets = np.array(offsets, dtype=np.int64)
        words = _unaligned(padded, self.endian + "u4")
        block_type = words[offsets].astype(np.int64)
        length = words[offsets + 4].astype(np.int64)
        sound = (offsets + length <= n) & (length >= 32) & (length <= _CHUNK)
        sound &= (block_type == _EPB) & (length % 4 == 0)
        sound &= words[np.where(sound, offsets + length - 4, 0)] == length
        interface = words[offsets + 8].astype(np.int64)
        caplen = words[offsets + 20].astype(np.int64)
        sound &= (caplen <= length - 32) & (interface < len(self.links))

        # Runs of sound blocks between the blocks the reader reads.
        begin = 0
        for index in np.flatnonzero(~sound).tolist():
            self._add_packets(words, offsets[begin:index], interface[begin:index],
                              caplen[begin:index], pieces)  # fmt: skip
            end = self._slow_block(file, base + int(offsets[index]), pieces, extra)
            if self.error is not None or end - base > n or block_type[index] != _EPB:
                # Past the chunk, or the walk stopped here: read on from
                # the block's end, in what may be a new section.
                return end - base
            begin = index + 1
        self._add_packets(words, offsets[begin:], interface[begin:], caplen[begin:],
                          pieces)  # fmt: skip
        return int(offsets[-1] + length[-1])

    def _add_packets(self, words, at, interface, caplen, pieces):
        if not len(at):
            return
        time = self._times(interface, words[at + 12], words[at + 16])
        pieces.append((at + 28, caplen, words[at + 24].astype(np.int64),
                       self.links[interface], time))  # fmt: skip
        self.last_time = float(time[-1])

    def _times(self, interface, high, low):
        """Packet times in seconds from their interfaces' ticks, as the reader."""
        ticks = high.astype(np.uint64) << np.uint64(32) | low.astype(np.uint64)
        resolutions = set(self.tsresol[i] for i in np.unique(interface).tolist())
        if max(resolutions) < _EXACT and int(ticks.max()) < _EXACT:
            tsresol = np.array(self.tsresol, dtype=np.float64)[interface]
            return ticks.astype(np.float64) / tsresol
        # Nanosecond clocks: integers too large for float64 to hold exactly.
        tsresol = self.tsresol
        return np.array([tick / tsresol[i] for tick, i in
                         zip(ticks.tolist(), interface.tolist())])  # fmt: skip

    def _slow_block(self, file, offset, pieces, extra):
        """Have the reader read the block at ``offset``; return where it ends.

        A packet it gives joins ``pieces``, its bytes ``extra``. An error
        ends the batches, after the packets before it.
        """
        file.seek(offset)
        head = file.read(8)
        if len(head) < 8:
            if head:
                self._fail(block_header_truncated_error(self.path, offset, len(head)))
            return offset + len(head)
        block_type, length = struct.unpack(self.endian + "II", head)
        body = None
        if block_type == _EPB and 32 <= length <= _CHUNK and not length & 3:
            # What the reader's inline read takes before its checks.
            body = file.read(length - 8)
        try:
            record, length, changed = self.reader.read_pcapng_block(head, offset, body)
        except CaptureError as exc:
            self._fail(exc)
            return offset
        if record is not None:
            link_type, ticks, tsresol, data, wire_length = record
            if ticks is not None:
                self.last_time = ticks / tsresol
            # Its start is set when the chunk's bytes and the extra ones meet.
            pieces.append((np.array([-1 - len(extra)]), np.array([len(data)]),
                           np.array([wire_length]), np.array([link_type]),
                           np.array([self.last_time])))  # fmt: skip
            extra.append(data)
        if changed:
            self._section()
        return offset + length

    def _parse(self, chunk, padded, pieces, extra):
        """Yield the Batches of one chunk's packets, one per run of a link type."""
        if not pieces:
            return
        start, size, wire, links, time = (
            np.concatenate(column) for column in zip(*pieces)
        )
        self.n_read += len(start)
        if extra:
            # The reader's packets bring their own bytes: after the chunk's,
            # in a new padded copy.
            starts = np.cumsum([0] + [len(data) for data in extra[:-1]])
            records = start < 0
            start[records] = len(chunk) + starts[-1 - start[records]]
            chunk, padded = b"".join([chunk, *extra]), None
        yield from self._batches(chunk, start, size, wire,
                                 time.astype(np.float64), links, padded)  # fmt: skip
