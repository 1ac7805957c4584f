"""Packet records from classic pcap and pcapng files, told apart by magic."""

import gzip
import io
import os
import stat
import struct
import zlib
from collections import Counter

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapNgReader

from skfocal.capture._errors import (
    CorruptCaptureError,
    NotACaptureError,
    TruncatedCaptureError,
    UnsupportedFormatError,
)

# Classic pcap magic -> (struct byte order, seconds per fraction unit).
PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAPNG_BYTE_ORDERS = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}
_GZIP_MAGIC = b"\x1f\x8b"
# Why the reader itself skipped a record, as ExtractionStats counts it.
UNKNOWN_INTERFACE = "pcapng unknown interface"

# Formats a user may well hand over by mistake: name them instead of calling
# them "not a capture".
_UNSUPPORTED_MAGICS = {
    b"\xa1\xb2\xcd\x34": "the modified (Kuznetzov) pcap format",
    b"\x34\xcd\xb2\xa1": "the modified (Kuznetzov) pcap format",
    b"snoo": "the snoop format",
    b"XCP\x00": "the NetMon 2 format",
}
_ACCEPTED = (
    "classic pcap (magic a1b2c3d4, d4c3b2a1, a1b23c4d or 4d3cb2a1) or pcapng "
    "(magic 0a0d0d0a), optionally gzip-compressed"
)

# The upper bits of a link type field carry FCS information, not the type.
LINK_TYPE_MASK = 0x03FFFFFF
# libpcap refuses longer records whatever the snapshot length says (for
# every link type read here); a larger captured length is a corrupt record
# header, not a packet.
_MAX_CAPLEN = 262144
# libpcap refuses pcapng blocks longer than 16 MiB.
_MAX_BLOCK = 16 * 1024 * 1024
# Reads longer than this are held to what the file holds (a plain file) or
# go by chunks (a gzip stream): a length field claiming more bytes than the
# file holds must not allocate them.
_CHUNK = 1 << 16

# The pcapng blocks that give packets or interfaces, with scapy's parser of
# each body; others (name resolution, statistics, decryption secrets, custom
# blocks) are skipped by their length without being parsed.
_PCAPNG_BLOCKS = {
    1: ("interface description", RawPcapNgReader._read_block_idb),
    2: ("packet", RawPcapNgReader._read_block_pkt),
    3: ("simple packet", RawPcapNgReader._read_block_spb),
    6: ("enhanced packet", RawPcapNgReader._read_block_epb),
}
_EPB = 6
_SPB = 3
# Block types whose body has the captured length at byte 12, data at byte 20.
_CAPLEN_AT_12 = frozenset((2, 6))
# scapy cuts each packet to ``size`` (MTU by default); ask for all of it.
_READ_ALL = 1 << 31

_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def caplen_error(path, offset, caplen):
    """The error for a classic record header claiming too many bytes."""
    return CorruptCaptureError(
        "a packet record's captured length is too large; at most "
        f"{_MAX_CAPLEN} bytes are accepted; got {caplen} captured bytes",
        path,
        offset,
    )


def block_header_truncated_error(path, offset, size):
    """The error for a file ending inside a pcapng block header."""
    return TruncatedCaptureError(
        "the file ends inside a pcapng block header; an 8-byte header is "
        f"accepted; got {size} bytes",
        path,
        offset,
    )


def header_truncated_error(path, offset, size):
    """The error for a file ending inside a classic record header."""
    return TruncatedCaptureError(
        "the file ends inside a packet record header; a 16-byte header is "
        f"accepted; got {size} bytes",
        path,
        offset,
    )


def record_truncated_error(path, offset, caplen, size):
    """The error for a file ending inside a classic record's packet bytes."""
    return TruncatedCaptureError(
        "the file ends inside a packet record; the "
        f"{caplen} captured bytes its header claims are accepted; got {size} "
        "bytes",
        path,
        offset,
    )


class _SectionedPcapNgReader(RawPcapNgReader):
    """scapy's raw pcapng reader, with interface ids restarting per section."""

    def _read_block_shb(self):
        # Each section numbers its interfaces from zero again; scapy keeps
        # appending, which would give a later section's packets the link type
        # of an earlier section's interface.
        self.interfaces = []
        super()._read_block_shb()


class CaptureReader:
    """The packet records of one capture file, classic pcap or pcapng.

    The format is detected from the magic number, never from the file name;
    a gzip-compressed capture is decompressed on the fly. Opening reads and
    checks the file header, so a file that is not a readable capture fails
    here; iterating yields the records, and only after every complete record
    raises for a file that is truncated or corrupt further on.

    Every length field is checked against its format's bound before any
    byte is read by it, and long reads go by chunks, so that a hostile
    length costs no more memory than the file holds.

    Parameters
    ----------
    path : str or path-like
        The capture file.

    Attributes
    ----------
    path : str
        The capture file.
    format : {'pcap', 'pcapng'}
        The format read from the magic number.
    nanosecond : bool
        Whether a classic pcap stores nanoseconds (pcapng: always False; its
        time unit is per interface).
    file_header : bytes or None
        The 24-byte file header of a classic pcap as stored (decompressed);
        None for pcapng.
    skipped : collections.Counter
        Records read but not yielded, by reason (pcapng packets of an
        interface their section does not describe).
    notes : list of str
        One line per kind of record skipped, for the user.
    unknown_interfaces : set of int
        The interface ids of the skipped pcapng packets.

    Raises
    ------
    NotACaptureError
        The file starts with no known capture magic number.
    UnsupportedFormatError
        A known format in a variant or version that is not read.
    CorruptCaptureError
        The file header contradicts the format, or the gzip stream is
        damaged.
    TruncatedCaptureError
        The file ends inside its file header.

    Notes
    -----
    Iterating yields ``(link_type, time, data, wire_length)`` tuples: the
    LINKTYPE_* value, the timestamp in seconds since the epoch, the captured
    bytes and the length on the wire. It raises
    :class:`TruncatedCaptureError` when the file ends inside a record or
    block, and :class:`CorruptCaptureError` for a record or block that
    contradicts the format: a captured length above 262144 bytes (libpcap's
    bound, whatever the snapshot length says), a pcapng block length that is not a
    multiple of 4 from 12 bytes to 16 MiB, two block length fields that
    differ, a packet block claiming more captured bytes than it holds.
    Classic records are read directly; pcapng blocks are framed here, the
    fixed fields of enhanced packet blocks read here too (their options are
    not parsed), and the other blocks' bodies parsed by scapy's raw reader.
    A pcapng packet whose interface id names no interface of its section
    is skipped (the blocks around it are sound) and counted in ``skipped``,
    with one line per unknown interface in ``notes``; the ``if_tsoffset``
    option is not applied.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.skipped = Counter()
        self.notes = []
        self.unknown_interfaces = set()
        self._raw = open(self.path, "rb")
        try:
            self._open()
        except BaseException:
            self._raw.close()
            raise

    def _open(self):
        self._file = self._raw
        info = os.fstat(self._raw.fileno())
        self._size = info.st_size if stat.S_ISREG(info.st_mode) else None
        if self._raw.peek(2)[:2] == _GZIP_MAGIC:
            self._file = gzip.GzipFile(fileobj=self._raw)
            self._size = None
        try:
            magic = self._file.read(4)
            if magic in PCAP_MAGICS:
                self._open_pcap(magic)
            elif magic == PCAPNG_MAGIC:
                self._open_pcapng(magic)
            else:
                self._refuse_magic(magic)
        except _GZIP_ERRORS as exc:
            if self._file is self._raw:
                raise
            raise self._gzip_error(exc, 0) from exc

    @property
    def compressed(self):
        """Whether the capture is read through gzip."""
        return self._file is not self._raw

    def _gzip_error(self, exc, offset):
        """The CaptureError for an error of the gzip stream at ``offset``."""
        if isinstance(exc, EOFError):
            return TruncatedCaptureError(
                "the gzip stream ends before its end-of-stream marker; a "
                f"complete gzip stream is accepted; got the error {exc!r}",
                self.path,
                offset,
            )
        return CorruptCaptureError(
            "the gzip stream cannot be decompressed; an undamaged gzip stream "
            f"is accepted; got the error {exc!r}",
            self.path,
            offset,
        )

    def _read(self, size):
        """Read ``size`` bytes, fewer at the end of the file, none ahead of it."""
        if size <= _CHUNK:
            return self._file.read(size)
        if self._size is not None:
            return self._file.read(min(size, max(self._size - self._file.tell(), 0)))
        # A single read(size) would allocate all of ``size`` up front.
        chunks = []
        while size > 0:
            chunk = self._file.read(min(size, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _refuse_magic(self, magic):
        if not magic:
            raise NotACaptureError(
                f"the file is empty; {_ACCEPTED} is accepted; got 0 bytes",
                self.path,
                0,
            )
        if magic in _UNSUPPORTED_MAGICS:
            raise UnsupportedFormatError(
                f"the magic number is that of {_UNSUPPORTED_MAGICS[magic]}, "
                f"which is not read; {_ACCEPTED} is accepted; got magic "
                f"{magic.hex()}",
                self.path,
                0,
            )
        raise NotACaptureError(
            f"unknown magic number; {_ACCEPTED} is accepted; got {magic.hex()}",
            self.path,
            0,
        )

    def _open_pcap(self, magic):
        header = self._file.read(20)
        if len(header) < 20:
            raise TruncatedCaptureError(
                "the file ends inside the 24-byte pcap file header; a whole "
                f"header is accepted; got {4 + len(header)} bytes",
                self.path,
                4 + len(header),
            )
        self._endian, self._scale = PCAP_MAGICS[magic]
        major, minor, _, _, _, link_type = struct.unpack(
            self._endian + "HHiIII", header
        )
        if major != 2:
            raise UnsupportedFormatError(
                "the pcap version is not read; version 2.x is accepted; got "
                f"version {major}.{minor}",
                self.path,
                4,
            )

        self.format = "pcap"
        self.nanosecond = self._scale < 1e-6
        self._link_type = link_type & LINK_TYPE_MASK
        self.file_header = magic + header

    def _open_pcapng(self, magic):
        block = self._read_section_header(magic + self._file.read(4), 0)
        self._scapy = _SectionedPcapNgReader.__new__(_SectionedPcapNgReader)
        try:
            # scapy parses the section header again, from the checked copy.
            _SectionedPcapNgReader.__init__(
                self._scapy, self.path, io.BytesIO(block[4:]), magic
            )
        except (Scapy_Exception, EOFError) as exc:
            raise CorruptCaptureError(
                "the first section header block cannot be read; a block as "
                f"pcapng defines it is accepted; got scapy's error {exc!r}",
                self.path,
                0,
            ) from exc
        self._scapy.f = None
        self._offset = len(block)
        self.format = "pcapng"
        self.nanosecond = False
        self.file_header = None

    def _read_section_header(self, head, offset):
        """Read and check a section header block whose first bytes are ``head``."""
        fixed = head + self._file.read(16 - len(head))
        if len(fixed) < 16:
            raise TruncatedCaptureError(
                "the file ends inside a pcapng section header block; a block "
                f"of at least 28 bytes is accepted; got {len(fixed)} bytes",
                self.path,
                offset,
            )
        order = fixed[8:12]
        endian = _PCAPNG_BYTE_ORDERS.get(order)
        if endian is None:
            raise CorruptCaptureError(
                "the section header's byte-order magic is invalid; 1a2b3c4d in "
                f"either byte order is accepted; got {order.hex()}",
                self.path,
                offset + 8,
            )
        length, major, minor = struct.unpack_from(endian + "I4xHH", fixed, 4)
        if major != 1:
            raise UnsupportedFormatError(
                "the pcapng version is not read; pcapng version 1.x is "
                f"accepted; got pcapng version {major}.{minor}",
                self.path,
                offset + 12,
            )
        if length < 28 or length % 4 or length > _MAX_BLOCK:
            raise CorruptCaptureError(
                "the section header block length is invalid; a multiple of 4 "
                f"from 28 to {_MAX_BLOCK} is accepted; got {length}",
                self.path,
                offset + 4,
            )
        return fixed + self._read_block_rest(fixed, length, endian, offset)

    def _read_block_rest(self, head, length, endian, offset):
        """Read a block past its first bytes ``head``; check the trailing length."""
        rest = self._read(length - len(head))
        self._check_block_rest(head, rest, length, endian, offset)
        return rest

    def _check_block_rest(self, head, rest, length, endian, offset):
        """Check what was read past a block's first bytes ``head``."""
        if len(rest) < length - len(head):
            raise TruncatedCaptureError(
                "the file ends inside a pcapng block; the whole block of "
                f"{length} bytes its length field claims is accepted; got "
                f"{len(head) + len(rest)} bytes",
                self.path,
                offset,
            )
        (trailer,) = struct.unpack(endian + "I", rest[-4:])
        if trailer != length:
            raise CorruptCaptureError(
                "a pcapng block's two length fields disagree; a trailing length "
                f"equal to the leading one, {length}, is accepted; got {trailer}",
                self.path,
                offset + length - 4,
            )

    def __iter__(self):
        if self.format == "pcap":
            return self._iter_pcap()
        return self._iter_pcapng()

    def stamped(self):
        """Iterate as over the reader, each record with its exact timestamp.

        Yields ``(link_type, time, data, wire_length, stamp)``: ``stamp`` is
        the classic record's ``(seconds, fraction)`` as stored (micro- or
        nanoseconds, see ``nanosecond``), or for pcapng the integer
        nanoseconds since the epoch (rounded where the interface's time
        unit is finer). Writing a capture back needs it; a float does not
        hold nanoseconds.
        """
        if self.format == "pcap":
            return self._iter_pcap(stamped=True)
        return self._iter_pcapng(stamped=True)

    def _iter_pcap(self, stamped=False):
        read = self._file.read
        unpack = struct.Struct(self._endian + "IIII").unpack
        link_type = self._link_type
        scale = self._scale

        # Offsets are counted, not asked of the file: tell() is a system call.
        offset = 24
        try:
            while True:
                header = read(16)
                if len(header) < 16:
                    if header:
                        raise header_truncated_error(self.path, offset, len(header))
                    return
                sec, frac, caplen, wire_length = unpack(header)
                if caplen > _MAX_CAPLEN:
                    raise caplen_error(self.path, offset, caplen)
                data = read(caplen) if caplen <= _CHUNK else self._read(caplen)
                if len(data) < caplen:
                    raise record_truncated_error(self.path, offset, caplen, len(data))
                if stamped:
                    yield (link_type, sec + frac * scale, data, wire_length,
                           (sec, frac))  # fmt: skip
                else:
                    yield link_type, sec + frac * scale, data, wire_length
                offset += 16 + caplen
        except _GZIP_ERRORS as exc:
            if self._file is self._raw:
                raise
            raise self._gzip_error(exc, offset) from exc

    def _iter_pcapng(self, stamped=False):
        read = self._file.read
        scapy = self._scapy
        offset = self._offset
        time = 0.0
        nanoseconds = 0
        # Per section: its byte order and (link type, ticks per second) of
        # each interface described so far.
        unpack_head = unpack_epb = unpack_trailer = links = None
        try:
            while True:
                if links is None:
                    endian = scapy.endian
                    unpack_head = struct.Struct(endian + "II").unpack
                    unpack_epb = struct.Struct(endian + "5I").unpack_from
                    unpack_trailer = struct.Struct(endian + "I").unpack_from
                    links = self.pcapng_links()
                head = read(8)
                if len(head) < 8:
                    if head:
                        raise block_header_truncated_error(self.path, offset,
                                                           len(head))  # fmt: skip
                    return
                block_type, length = unpack_head(head)
                body = None
                if block_type == _EPB and 32 <= length <= _CHUNK and not length & 3:
                    # The packet block of nearly every capture, read inline:
                    # its fixed fields only (options, such as comments and
                    # flags, are not needed). Whatever fails a check here
                    # goes to read_pcapng_block, which says what failed.
                    body = read(length - 8)
                    if len(body) == length - 8:
                        interface, high, low, caplen, wire_length = unpack_epb(body)
                        if (
                            unpack_trailer(body, length - 12)[0] == length
                            and caplen <= length - 32
                            and interface < len(links)
                        ):
                            link_type, tsresol = links[interface]
                            ticks = (high << 32) | low
                            time = ticks / tsresol
                            offset += length
                            if stamped:
                                nanoseconds = (ticks * 10**9 * 2 + tsresol) // (
                                    2 * tsresol
                                )
                                yield (link_type, time, body[20 : 20 + caplen],
                                       wire_length, nanoseconds)  # fmt: skip
                            else:
                                yield (link_type, time, body[20 : 20 + caplen],
                                       wire_length)  # fmt: skip
                            continue

                record, length, changed = self.read_pcapng_block(head, offset, body)
                offset += length
                if changed:
                    links = None
                if record is None:
                    continue
                link_type, ticks, tsresol, data, wire_length = record
                # Simple packet blocks carry no timestamp: keep the previous one.
                if ticks is not None:
                    time = ticks / tsresol
                    if stamped:
                        nanoseconds = (ticks * 10**9 * 2 + tsresol) // (2 * tsresol)
                if stamped:
                    yield link_type, time, data, wire_length, nanoseconds
                else:
                    yield link_type, time, data, wire_length
        except _GZIP_ERRORS as exc:
            if self._file is self._raw:
                raise
            raise self._gzip_error(exc, offset) from exc

    def pcapng_links(self):
        """``(link type, ticks per second)`` of each interface of this section."""
        return [(link & LINK_TYPE_MASK, options["tsresol"])
                for link, _, options in self._scapy.interfaces]  # fmt: skip

    def read_pcapng_block(self, head, offset, body=None):
        """Read the pcapng block at ``offset``, past its first 8 bytes ``head``.

        Every block but the sound enhanced packet blocks of a described
        interface, which the readers take inline: section headers, interface
        descriptions, other packet blocks, blocks skipped by their length,
        and enhanced packet blocks that fail a check (this raises what
        failed) or name an undescribed interface (counted in ``skipped``).
        ``body`` is the rest of an enhanced packet block of at most 64 KiB,
        if the caller has read it.

        Returns
        -------
        record : tuple or None
            ``(link_type, ticks, tsresol, data, wire_length)`` of a packet,
            ``ticks`` None for a simple packet block (it has no timestamp).
        length : int
            The block's length: where the next block starts.
        changed : bool
            Whether the section's byte order or interfaces may have changed.
        """
        scapy = self._scapy
        if head[:4] == PCAPNG_MAGIC:
            block = self._read_section_header(head, offset)
            scapy.f = io.BytesIO(block[4:])
            scapy._read_block_shb()
            scapy.f = None
            return None, len(block), True

        block_type, length = struct.unpack(scapy.endian + "II", head)
        if body is not None:
            # Raises unless only the interface was wrong.
            self._check_block_rest(head, body, length, scapy.endian, offset)
        else:
            if length < 12 or length % 4 or length > _MAX_BLOCK:
                raise CorruptCaptureError(
                    "a pcapng block length is invalid; a multiple of 4 from "
                    f"12 to {_MAX_BLOCK} is accepted; got {length}",
                    self.path,
                    offset + 4,
                )
            body = self._read_block_rest(head, length, scapy.endian, offset)
        if block_type == _EPB:
            record = self._read_epb(body, length, offset)
            if record is None:
                return None, length, False
            (link_type, tsresol), ticks, data, wire_length = record
            return (link_type, ticks, tsresol, data, wire_length), length, False
        if block_type not in _PCAPNG_BLOCKS:
            return None, length, False
        record = self._parse_block(block_type, body[:-4], offset)
        if record is None:
            return None, length, block_type == 1
        data, meta = record
        if block_type == _SPB and scapy.interfaces[0][1] == 0:
            # scapy cuts a simple packet block at the interface's snaplen,
            # which 0 says is unlimited: the packet's bytes are all there.
            data = body[4:-4][: meta.wirelen]
        ticks = None if meta.tshigh is None else (meta.tshigh << 32) | meta.tslow
        return ((meta.linktype & LINK_TYPE_MASK, ticks, meta.tsresol, data,
                 meta.wirelen), length, False)  # fmt: skip

    def _unknown_interface(self, interface, n_interfaces):
        """Count a packet block whose interface its section did not describe."""
        self.skipped[UNKNOWN_INTERFACE] += 1
        if interface not in self.unknown_interfaces:
            self.unknown_interfaces.add(interface)
            self.notes.append(
                f"{self.path}: pcapng packets name interface {interface}, which "
                f"their section does not describe ({n_interfaces} described); "
                "they are skipped"
            )

    def _read_epb(self, body, length, offset):
        """The interface, time in ticks, data and wire length of a packet block.

        ``body`` is the block past its 8-byte header, trailing length
        included. The interface is ``(link_type, ticks per second)``; None
        for a block whose interface is not described (counted in
        ``skipped``).
        """
        scapy = self._scapy
        if length < 32:
            raise CorruptCaptureError(
                "a pcapng enhanced packet block cannot be read; a body holding "
                "its 20 bytes of fixed fields is accepted; got "
                f"{length - 12} body bytes",
                self.path,
                offset,
            )
        interface, high, low, caplen, wire_length = struct.unpack_from(
            scapy.endian + "5I", body
        )
        if caplen > length - 32:
            raise CorruptCaptureError(
                "a pcapng enhanced packet block claims more captured bytes than "
                f"it holds; at most its {length - 32} bytes are accepted; got "
                f"{caplen} captured bytes",
                self.path,
                offset,
            )
        interfaces = scapy.interfaces
        if interface >= len(interfaces):
            self._unknown_interface(interface, len(interfaces))
            return None
        link_type, _, options = interfaces[interface]
        return (
            (link_type & LINK_TYPE_MASK, options["tsresol"]),
            (high << 32) | low,
            body[20 : 20 + caplen],
            wire_length,
        )

    def _parse_block(self, block_type, body, offset):
        """Parse a checked block body with scapy; None for no packet."""
        name, parse = _PCAPNG_BLOCKS[block_type]
        if block_type in _CAPLEN_AT_12 and len(body) >= 20:
            (caplen,) = struct.unpack_from(self._scapy.endian + "I", body, 12)
            if caplen > len(body) - 20:
                raise CorruptCaptureError(
                    f"a pcapng {name} block claims more captured bytes than it "
                    f"holds; at most its {len(body) - 20} bytes are accepted; "
                    f"got {caplen} captured bytes",
                    self.path,
                    offset,
                )
        try:
            return parse(self._scapy, body, _READ_ALL)
        except (EOFError, struct.error, Scapy_Exception) as exc:
            # scapy raises EOFError for a body too short for its fixed fields
            # or an option of the wrong size.
            raise CorruptCaptureError(
                f"a pcapng {name} block cannot be read; a body holding its "
                f"fixed fields and well-formed options is accepted; got "
                f"{len(body)} body bytes ({exc!r})",
                self.path,
                offset,
            ) from exc

    def close(self):
        """Close the file."""
        if self._file is not self._raw:
            self._file.close()
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def iter_records(path):
    """Yield the packet records of one capture file.

    Parameters
    ----------
    path : str or path-like
        A classic pcap or pcapng file, possibly gzip-compressed.

    Yields
    ------
    link_type : int
        The LINKTYPE_* value of the packet's interface.
    time : float
        Timestamp in seconds since the epoch.
    data : bytes
        The captured bytes, no record header.
    wire_length : int
        The packet's length on the wire.

    Raises
    ------
    CaptureError
        See :class:`CaptureReader`; errors past the file header come after
        every complete record has been yielded.

    Examples
    --------
    >>> import os, struct, tempfile
    >>> from skfocal.capture import iter_records
    >>> path = os.path.join(tempfile.mkdtemp(), "one.pcap")
    >>> header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    >>> record = struct.pack("<IIII", 1, 0, 4, 4) + bytes.fromhex("45000004")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(header + record)
    >>> [(link, t, data.hex(), wire) for link, t, data, wire in iter_records(path)]
    [(101, 1.0, '45000004', 4)]
    """
    with CaptureReader(path) as reader:
        yield from reader
