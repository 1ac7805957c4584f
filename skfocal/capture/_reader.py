"""Packet records from classic pcap and pcapng files, told apart by magic."""

import gzip
import os
import struct
import zlib

from scapy.error import Scapy_Exception
from scapy.utils import MTU, RawPcapNgReader, RawPcapReader

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
_GZIP_MAGIC = b"\x1f\x8b"

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
# libpcap refuses longer records whatever the snapshot length says; a larger
# captured length is a corrupt record header, not a packet.
_MAX_CAPLEN = 262144
# scapy reads at most this much of one classic record and skips the rest.
_SCAPY_MAX_READ = MTU * 4
# scapy cuts each record to ``size`` (MTU by default); ask for all of it.
_READ_ALL = 1 << 31

_SCAPY_ERRORS = (Scapy_Exception, struct.error, OverflowError, ValueError, IndexError)


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

    Raises
    ------
    NotACaptureError
        The file starts with no known capture magic number.
    UnsupportedFormatError
        A known format in a variant or version that is not read.
    CorruptCaptureError
        The file header contradicts the format.
    TruncatedCaptureError
        The file ends inside its file header.

    Notes
    -----
    Iterating yields ``(link_type, time, data, wire_length)`` tuples: the
    LINKTYPE_* value, the timestamp in seconds since the epoch, the captured
    bytes and the length on the wire. It raises
    :class:`TruncatedCaptureError` when the file ends inside a record and
    :class:`CorruptCaptureError` for a record or block that contradicts the
    format (a captured length above 262144 bytes and the snapshot length, a
    pcapng block whose two length fields differ). pcapng packets whose
    interface id names no interface are dropped, as scapy does, and the
    ``if_tsoffset`` option is not applied.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._raw = open(self.path, "rb")
        try:
            self._open()
        except BaseException:
            self._raw.close()
            raise

    def _open(self):
        self._file = self._raw
        if self._raw.peek(2)[:2] == _GZIP_MAGIC:
            self._file = gzip.GzipFile(fileobj=self._raw)
        try:
            magic = self._file.read(4)
            if magic in PCAP_MAGICS:
                self._open_pcap(magic)
            elif magic == PCAPNG_MAGIC:
                self._open_pcapng(magic)
            else:
                self._refuse_magic(magic)
        except (OSError, EOFError, zlib.error) as exc:
            if self._file is self._raw:
                raise
            raise CorruptCaptureError(
                f"the gzip stream cannot be decompressed ({exc}); {_ACCEPTED} "
                "is accepted",
                self.path,
            ) from exc

    def _refuse_magic(self, magic):
        if not magic:
            raise NotACaptureError(
                f"the file is empty; {_ACCEPTED} is accepted", self.path, 0
            )
        if magic in _UNSUPPORTED_MAGICS:
            raise UnsupportedFormatError(
                f"the magic number {magic.hex()} is {_UNSUPPORTED_MAGICS[magic]}, "
                f"which is not read; {_ACCEPTED} is accepted",
                self.path,
                0,
            )
        raise NotACaptureError(
            f"unknown magic number {magic.hex()}; {_ACCEPTED} is accepted",
            self.path,
            0,
        )

    def _open_pcap(self, magic):
        header = self._file.read(20)
        if len(header) < 20:
            raise TruncatedCaptureError(
                f"the file ends after {4 + len(header)} bytes, inside the "
                "24-byte pcap file header",
                self.path,
                4 + len(header),
            )
        endian, self._scale = PCAP_MAGICS[magic]
        major, minor, _, _, snaplen, link_type = struct.unpack(
            endian + "HHiIII", header
        )
        if major != 2:
            raise UnsupportedFormatError(
                f"pcap version {major}.{minor} is not read; version 2.x is "
                "accepted",
                self.path,
                4,
            )

        # scapy reads the header again; hand it the stream just past the magic.
        self._file.seek(4)
        self._scapy = RawPcapReader.__new__(RawPcapReader)
        try:
            RawPcapReader.__init__(self._scapy, self.path, self._file, magic)
        except Scapy_Exception as exc:
            raise CorruptCaptureError(
                f"scapy refused the pcap file header ({exc})", self.path, 0
            ) from exc
        self.format = "pcap"
        self.nanosecond = self._scale < 1e-6
        self._link_type = link_type & LINK_TYPE_MASK
        self._max_caplen = max(snaplen, _MAX_CAPLEN)

    def _open_pcapng(self, magic):
        # Check the fixed part of the first section header here, because
        # scapy reports every problem in it as one "malformed" message.
        header = self._file.read(20)
        if len(header) < 20:
            raise TruncatedCaptureError(
                f"the file ends after {4 + len(header)} bytes, inside the "
                "first pcapng section header block",
                self.path,
                4 + len(header),
            )
        order = header[4:8]
        if order not in (b"\x1a\x2b\x3c\x4d", b"\x4d\x3c\x2b\x1a"):
            raise CorruptCaptureError(
                f"the section header's byte-order magic is {order.hex()}; "
                "1a2b3c4d in either byte order is accepted",
                self.path,
                8,
            )
        endian = ">" if order == b"\x1a\x2b\x3c\x4d" else "<"
        block_length, major, minor = struct.unpack_from(endian + "I4xHH", header)
        if major != 1:
            raise UnsupportedFormatError(
                f"pcapng version {major}.{minor} is not read; version 1.x is "
                "accepted",
                self.path,
                12,
            )
        if block_length < 28 or block_length % 4:
            raise CorruptCaptureError(
                f"the section header block length is {block_length}; a multiple "
                "of 4 of at least 28 is accepted",
                self.path,
                4,
            )

        self._file.seek(4)
        self._scapy = _SectionedPcapNgReader.__new__(_SectionedPcapNgReader)
        try:
            _SectionedPcapNgReader.__init__(self._scapy, self.path, self._file, magic)
        except Scapy_Exception as exc:
            if not self._file.read(1):
                raise TruncatedCaptureError(
                    "the file ends inside the first section header block",
                    self.path,
                    0,
                ) from exc
            raise CorruptCaptureError(
                f"scapy refused the first section header block ({exc})",
                self.path,
                0,
            ) from exc
        self.format = "pcapng"
        self.nanosecond = False

    def __iter__(self):
        if self.format == "pcap":
            return self._iter_pcap()
        return self._iter_pcapng()

    def _iter_pcap(self):
        read_packet = self._scapy._read_packet
        link_type = self._link_type
        scale = self._scale
        max_caplen = self._max_caplen

        # Offsets are counted, not asked of the file: tell() is a system call.
        offset = 24
        while True:
            try:
                data, (sec, frac, wire_length, caplen) = read_packet(_READ_ALL)
            except EOFError:
                break
            if caplen > max_caplen:
                raise CorruptCaptureError(
                    f"a packet record claims {caplen} captured bytes; at most "
                    f"{max_caplen} (the larger of the snapshot length and "
                    f"{_MAX_CAPLEN}) are accepted",
                    self.path,
                    offset,
                )
            if len(data) < caplen and len(data) < _SCAPY_MAX_READ:
                raise TruncatedCaptureError(
                    f"the file ends {len(data)} bytes into a packet of {caplen} "
                    "captured bytes",
                    self.path,
                    offset,
                )
            yield link_type, sec + frac * scale, data, wire_length
            offset += 16 + caplen

        end = self._file.tell()
        if end > offset:
            raise TruncatedCaptureError(
                f"the file ends {end - offset} bytes into a 16-byte packet record "
                "header",
                self.path,
                offset,
            )

    def _iter_pcapng(self):
        read_block = self._scapy._read_block
        tell = self._file.tell
        time = 0.0
        while True:
            start = tell()
            try:
                record = read_block(_READ_ALL)
            except EOFError:
                self._check_end(start)
                return
            except (*_SCAPY_ERRORS, OSError, zlib.error) as exc:
                raise CorruptCaptureError(
                    f"the block cannot be read ({exc})", self.path, start
                ) from exc
            if record is None:
                continue

            data, meta = record
            # Simple packet blocks carry no timestamp: keep the previous one.
            if meta.tshigh is not None:
                time = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
            yield meta.linktype & LINK_TYPE_MASK, time, data, meta.wirelen

    def _check_end(self, start):
        """Tell a clean end of file from a truncated or corrupt last block."""
        if self._file.tell() == start:
            return
        if not self._file.read(1):
            raise TruncatedCaptureError(
                "the file ends inside a block (a block must end with its length "
                "repeated)",
                self.path,
                start,
            )
        raise CorruptCaptureError(
            "the block's length fields are invalid or disagree, or its body "
            "contradicts its type",
            self.path,
            start,
        )

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
    """
    with CaptureReader(path) as reader:
        yield from reader
