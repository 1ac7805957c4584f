"""Records from classic pcap and pcapng files, and the capture error family."""

import gzip
import pickle
import struct

import pytest
from pcapbuilders import (
    ng_block,
    ng_interface,
    ng_packet,
    ng_section,
    pcap_bytes,
    tcp4,
    udp4,
    write_pcap,
)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, wrpcap

from skfocal.capture import (
    CaptureError,
    CorruptCaptureError,
    NotACaptureError,
    TruncatedCaptureError,
    UnsupportedFormatError,
    iter_records,
)
from skfocal.capture._reader import CaptureReader

FIRST = tcp4(b"hello")
SECOND = udp4(b"dns?")


@pytest.mark.parametrize("magic", ["a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"])
def test_all_four_classic_magics(tmp_path, magic):
    path = write_pcap(
        tmp_path / "any.name", [(1.5, FIRST, 1000), (2.25, SECOND)], magic=magic,
        link_type=1,
    )  # fmt: skip
    records = list(iter_records(path))
    assert records == [(1, 1.5, FIRST, 1000), (1, 2.25, SECOND, len(SECOND))]


def test_nanosecond_fraction_is_read_as_nanoseconds(tmp_path):
    data = pcap_bytes([FIRST], magic="4d3cb2a1")
    # Put 123456789 ns in the fraction field by hand: 24-byte header, then sec.
    data = data[:28] + struct.pack("<I", 123_456_789) + data[32:]
    path = tmp_path / "ns.pcap"
    path.write_bytes(data)
    ((_, time, _, _),) = iter_records(path)
    assert time == pytest.approx(1.123456789, abs=1e-9)
    with CaptureReader(path) as reader:
        assert (reader.format, reader.nanosecond) == ("pcap", True)


def test_format_comes_from_the_magic_not_the_name(tmp_path):
    pcap = write_pcap(tmp_path / "looks.pcapng", [FIRST])
    ng = tmp_path / "looks.pcap"
    ng.write_bytes(ng_section() + ng_interface(1) + ng_packet(0, 5_000_000, FIRST))
    assert list(iter_records(pcap)) == [(1, 1.0, FIRST, len(FIRST))]
    assert list(iter_records(ng)) == [(1, 5.0, FIRST, len(FIRST))]


def test_pcapng_interfaces_sections_and_unknown_blocks(tmp_path):
    raw = FIRST[14:]
    data = (
        ng_section()
        + ng_interface(1)  # microseconds by default
        + ng_interface(101, tsresol=9)  # nanoseconds
        + ng_packet(0, 1_500_000, FIRST)
        + ng_block(0x0BAD, b"skip me by my length")
        + ng_packet(1, 2_250_000_000, raw, wire_length=99)
        # A second section, big-endian, numbers its interfaces from 0 again.
        + ng_section(">")
        + ng_interface(113, tsresol=0x80 | 10, endian=">")  # 2**-10 s
        + ng_packet(0, 3 * 1024, b"cooked", endian=">")
    )
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    assert list(iter_records(path)) == [
        (1, 1.5, FIRST, len(FIRST)),
        (101, 2.25, raw, 99),
        (113, 3.0, b"cooked", 6),
    ]


def test_enhanced_packet_options_are_not_read(tmp_path):
    # A comment, then a flags option of the wrong size (4 bytes are the
    # standard): the packet's fields are all there, so it is read.
    options = (struct.pack("<HH", 1, 5) + b"hello\0\0\0"
               + struct.pack("<HH", 2, 2) + b"\x01\x00\0\0"
               + struct.pack("<HH", 0, 0))  # fmt: skip
    block = ng_packet(0, 1_000_000, FIRST)
    body = block[8:-4] + options
    path = tmp_path / "options.pcapng"
    path.write_bytes(ng_section() + ng_interface(1) + ng_block(6, body))
    assert list(iter_records(path)) == [(1, 1.0, FIRST, len(FIRST))]


@pytest.mark.parametrize("snaplen, kept", [(0, 54), (65535, 54), (20, 20)])
def test_simple_packet_blocks_keep_what_the_snaplen_allows(tmp_path, snaplen, kept):
    # A snaplen of 0 means no limit (scapy alone reads 0 bytes there). A
    # simple packet block has no time: it takes the last packet's.
    frame = tcp4()
    assert len(frame) == 54
    spb = ng_block(3, struct.pack("<I", len(frame)) + frame)
    path = tmp_path / "simple.pcapng"
    path.write_bytes(ng_section() + ng_interface(1, snaplen=snaplen)
                     + ng_packet(0, 2_000_000, FIRST) + spb)  # fmt: skip
    records = list(iter_records(path))
    assert records[1] == (1, 2.0, frame[:kept], len(frame))


def test_scapy_writers_are_read(tmp_path):
    frame = Ether() / IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=1, dport=2)
    frame.time = 7.5
    wrpcap(str(tmp_path / "w.pcap"), [frame])
    writer = PcapNgWriter(str(tmp_path / "w.pcapng"))
    writer.write(frame)
    writer.close()
    for name in ("w.pcap", "w.pcapng"):
        ((link, time, data, wire),) = iter_records(tmp_path / name)
        assert (link, time, data, wire) == (1, 7.5, bytes(frame), len(frame))


def test_gzip_compressed_capture(tmp_path):
    path = tmp_path / "c.pcap.gz"
    path.write_bytes(gzip.compress(pcap_bytes([FIRST, SECOND])))
    assert [record[2] for record in iter_records(path)] == [FIRST, SECOND]


def test_empty_capture_has_no_records(tmp_path):
    path = write_pcap(tmp_path / "empty.pcap", [])
    assert list(iter_records(path)) == []
    ng = tmp_path / "empty.pcapng"
    ng.write_bytes(ng_section() + ng_interface(1))
    assert list(iter_records(ng)) == []


def test_bad_magic_names_file_magic_and_accepted_ones(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"GET / HTTP/1.1\r\n")
    with pytest.raises(NotACaptureError, match=r"notes\.txt at byte 0") as info:
        CaptureReader(path)
    message = str(info.value)
    assert "47455420" in message  # what was received
    assert "a1b2c3d4" in message and "0a0d0d0a" in message  # what is accepted
    assert info.value.path == str(path) and info.value.offset == 0
    assert isinstance(info.value, ValueError)


def test_empty_file_is_not_a_capture(tmp_path):
    path = tmp_path / "zero.pcap"
    path.write_bytes(b"")
    with pytest.raises(NotACaptureError, match=r"zero\.pcap.*empty"):
        CaptureReader(path)


@pytest.mark.parametrize(
    "content, error, match",
    [
        (bytes.fromhex("a1b2cd34") + bytes(20), UnsupportedFormatError, "Kuznetzov"),
        (pcap_bytes([], version=(3, 0)), UnsupportedFormatError, r"version 3\.0"),
        (pcap_bytes([])[:10], TruncatedCaptureError, "24-byte pcap file header"),
        (ng_section()[:12], TruncatedCaptureError, "section header"),
        (ng_section()[:8] + b"XXXX" + ng_section()[12:], CorruptCaptureError,
         r"byte-order magic is invalid.*got 58585858"),
        (ng_section()[:12] + b"\x02\x00" + ng_section()[14:], UnsupportedFormatError,
         r"pcapng version 2\.0"),
    ],
)  # fmt: skip
def test_unreadable_file_headers(tmp_path, content, error, match):
    path = tmp_path / "bad.cap"
    path.write_bytes(content)
    with pytest.raises(error, match=match):
        CaptureReader(path)


@pytest.mark.parametrize("cut", [5, 16 + 3])
def test_truncated_pcap_yields_complete_records_then_raises(tmp_path, cut):
    data = pcap_bytes([FIRST, SECOND, FIRST])
    path = tmp_path / "cut.pcap"
    # Cut inside the third record's header (5) or inside its packet bytes.
    third = 24 + 2 * 16 + len(FIRST) + len(SECOND)
    path.write_bytes(data[: third + cut])
    records = []
    with pytest.raises(TruncatedCaptureError, match=r"cut\.pcap at byte") as info:
        for record in iter_records(path):
            records.append(record[2])
    assert records == [FIRST, SECOND]
    assert info.value.offset == third


def test_truncated_pcapng_yields_complete_records_then_raises(tmp_path):
    data = ng_section() + ng_interface(1) + ng_packet(0, 1, FIRST)
    last = ng_packet(0, 2, SECOND)
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data + last[:-6])
    records = []
    with pytest.raises(TruncatedCaptureError) as info:
        for record in iter_records(path):
            records.append(record[2])
    assert records == [FIRST]
    assert info.value.offset == len(data)


def test_pcapng_block_with_disagreeing_lengths_is_corrupt(tmp_path):
    bad = bytearray(ng_packet(0, 2, SECOND))
    bad[-4:] = struct.pack("<I", 12)
    path = tmp_path / "bad.pcapng"
    path.write_bytes(
        ng_section() + ng_interface(1) + ng_packet(0, 1, FIRST) + bytes(bad)
        + ng_packet(0, 3, FIRST)
    )  # fmt: skip
    records = []
    with pytest.raises(CorruptCaptureError, match="length"):
        for record in iter_records(path):
            records.append(record[2])
    assert records == [FIRST]


def test_absurd_captured_length_is_corrupt(tmp_path):
    data = bytearray(pcap_bytes([FIRST, SECOND]))
    second = 24 + 16 + len(FIRST)
    data[second + 8 : second + 12] = struct.pack("<I", 5_000_000)
    path = tmp_path / "huge.pcap"
    path.write_bytes(bytes(data))
    records = []
    with pytest.raises(CorruptCaptureError, match="got 5000000 captured bytes") as info:
        for record in iter_records(path):
            records.append(record[2])
    assert records == [FIRST]
    assert info.value.offset == second


def test_errors_pickle_with_path_and_offset():
    error = TruncatedCaptureError("the file ends early", "a.pcap", 40)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TruncatedCaptureError
    assert (str(copy), copy.path, copy.offset) == (str(error), "a.pcap", 40)
    assert str(error) == "a.pcap at byte 40: the file ends early"
    assert issubclass(TruncatedCaptureError, CaptureError)
