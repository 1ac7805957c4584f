"""Broken and hostile captures: documented errors naming file and offset."""

import gzip
import re
import struct
import tracemalloc
import warnings
from pathlib import Path

import pytest
from pcapbuilders import (
    ng_block,
    ng_interface,
    ng_packet,
    ng_section,
    pcap_bytes,
    tcp4,
    udp4,
)

from skfocal.capture import (
    CaptureError,
    CaptureWarning,
    CorruptCaptureError,
    NotACaptureError,
    TruncatedCaptureError,
    UnsupportedFormatError,
    read_sessions,
)
from skfocal.capture._reader import CaptureReader

FIRST = tcp4(b"hello")
SECOND = udp4(b"dns?")
PCAP = pcap_bytes([FIRST, SECOND])
SECOND_RECORD = 24 + 16 + len(FIRST)
NG_HEAD = ng_section() + ng_interface(1)
NG = NG_HEAD + ng_packet(0, 1, FIRST) + ng_packet(0, 2, SECOND)
NG_SECOND = len(NG_HEAD) + len(ng_packet(0, 1, FIRST))


def _patch(data, offset, fmt, value):
    stop = offset + struct.calcsize(fmt)
    return data[:offset] + struct.pack(fmt, value) + data[stop:]


# (name, content, error, offset, what the message says was wrong and got)
BROKEN = [
    ("text.pcap", b"GET / HTTP/1.1\r\n", NotACaptureError, 0,
     r"unknown magic number; .* is accepted; got 47455420"),
    ("empty.pcap", b"", NotACaptureError, 0, r"the file is empty; .*; got 0 bytes"),
    ("kuznetzov.pcap", bytes.fromhex("a1b2cd34") + bytes(20), UnsupportedFormatError,
     0, r"Kuznetzov.*accepted; got magic a1b2cd34"),
    ("v3.pcap", pcap_bytes([], version=(3, 0)), UnsupportedFormatError, 4,
     r"pcap version is not read; version 2\.x is accepted; got version 3\.0"),
    ("v2.pcapng", _patch(NG, 12, "<H", 2), UnsupportedFormatError, 12,
     r"pcapng version 1\.x is accepted; got pcapng version 2\.0"),
    ("short-header.pcap", PCAP[:10], TruncatedCaptureError, 10,
     r"inside the 24-byte pcap file header; .*; got 10 bytes"),
    ("short-record-header.pcap", PCAP[: SECOND_RECORD + 5], TruncatedCaptureError,
     SECOND_RECORD, r"16-byte header is accepted; got 5 bytes"),
    ("short-record.pcap", PCAP[: SECOND_RECORD + 16 + 3], TruncatedCaptureError,
     SECOND_RECORD, rf"the {len(SECOND)} captured bytes .* accepted; got 3 bytes"),
    ("huge-caplen.pcap", _patch(PCAP, SECOND_RECORD + 8, "<I", 0xFFFFFFFF),
     CorruptCaptureError, SECOND_RECORD,
     r"captured length is too large; at most 262144 .*; got 4294967295"),
    ("negative-caplen.pcap", _patch(PCAP, SECOND_RECORD + 8, "<I", 0x80000000),
     CorruptCaptureError, SECOND_RECORD, r"got 2147483648 captured bytes"),
    ("short-section.pcapng", NG[:12], TruncatedCaptureError, 0,
     r"section header block; .* accepted; got 12 bytes"),
    ("byte-order.pcapng", NG[:8] + b"XXXX" + NG[12:], CorruptCaptureError, 8,
     r"byte-order magic is invalid; .*; got 58585858"),
    ("huge-section.pcapng", _patch(NG, 4, "<I", 0xFFFFFFF0), CorruptCaptureError, 4,
     r"section header block length is invalid; a multiple of 4 from 28 to "
     r"16777216 is accepted; got 4294967280"),
    ("huge-block.pcapng", _patch(NG, NG_SECOND + 4, "<I", 0x80000000),
     CorruptCaptureError, NG_SECOND + 4, r"from 12 to 16777216 .*; got 2147483648"),
    ("zero-block.pcapng", _patch(NG, NG_SECOND + 4, "<I", 0), CorruptCaptureError,
     NG_SECOND + 4, r"block length is invalid; .*; got 0"),
    ("odd-block.pcapng", _patch(NG, NG_SECOND + 4, "<I", 45), CorruptCaptureError,
     NG_SECOND + 4, r"a multiple of 4 .*; got 45"),
    ("past-end.pcapng", _patch(NG, NG_SECOND + 4, "<I", 4096),
     TruncatedCaptureError, NG_SECOND,
     r"ends inside a pcapng block; the whole block of 4096 bytes .*; got \d+ bytes"),
    ("short-block-header.pcapng", NG + b"\x06\x00\x00", TruncatedCaptureError,
     len(NG), r"8-byte header is accepted; got 3 bytes"),
    ("trailer.pcapng", _patch(NG, len(NG) - 4, "<I", 12), CorruptCaptureError,
     len(NG) - 4, r"two length fields disagree; .* accepted; got 12"),
    ("epb-caplen.pcapng", _patch(NG, NG_SECOND + 20, "<I", 0xFFFFFFFF),
     CorruptCaptureError, NG_SECOND,
     r"enhanced packet block claims more captured bytes than it holds; "
     r"at most its \d+ bytes are accepted; got 4294967295"),
    ("short-epb.pcapng", NG_HEAD + ng_block(6, bytes(8)), CorruptCaptureError,
     len(NG_HEAD), r"enhanced packet block cannot be read; .*; got 8 body bytes"),
    ("short-idb.pcapng", ng_section() + ng_block(1, b"\x01\x00"), CorruptCaptureError,
     len(ng_section()), r"interface description block cannot be read"),
    ("truncated.pcap.gz", gzip.compress(PCAP)[:-12], TruncatedCaptureError, None,
     r"gzip stream ends before its end-of-stream marker; .*; got the error"),
    ("corrupt.pcap.gz", gzip.compress(PCAP)[:-8] + b"\x00" * 8, CorruptCaptureError,
     None, r"gzip stream cannot be decompressed; .*; got the error"),
]  # fmt: skip


def _read_all(path):
    with CaptureReader(path) as reader:
        return list(reader)


@pytest.mark.parametrize(
    "name, content, error, offset, match", BROKEN, ids=[row[0] for row in BROKEN]
)
def test_each_error_names_file_offset_accepted_and_received(
    tmp_path, name, content, error, offset, match
):
    path = tmp_path / name
    path.write_bytes(content)
    where = re.escape(f"{name} at byte {offset}: ") if offset is not None else ""
    with pytest.raises(error, match=f"{where}.*{match}") as info:
        _read_all(path)
    assert type(info.value) is error
    assert info.value.path == str(path)
    if offset is not None:
        assert info.value.offset == offset
    # One shape everywhere: what was wrong; what is accepted; what was got.
    wrong, accepted, received = info.value.reason.split("; ")[-3:]
    assert "accepted" in accepted and received.startswith("got "), info.value.reason


@pytest.mark.parametrize(
    "name, content, error, offset, match", BROKEN, ids=[row[0] for row in BROKEN]
)
def test_read_sessions_raises_each_error_under_raise(
    tmp_path, name, content, error, offset, match
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=match):
        read_sessions(path, on_error="raise")


@pytest.mark.parametrize(
    "content",
    [
        _patch(PCAP, SECOND_RECORD + 8, "<I", 0xFFFFFFFF),
        _patch(NG, 4, "<I", 0xFFFFFFF0),
        _patch(NG, NG_SECOND + 4, "<I", 0xFFFFFFFC),
        _patch(NG, NG_SECOND + 4, "<I", 0x00FFFFF0),  # under 16 MiB, past the end
        gzip.compress(_patch(NG, NG_SECOND + 4, "<I", 0x00FFFFF0)),
        _patch(NG, NG_SECOND + 20, "<I", 0xFFFFFFFF),
    ],
    ids=["caplen", "section", "block", "block-past-end", "gzip-block", "epb"],
)
def test_length_fields_allocate_nothing_beyond_the_file(tmp_path, content):
    # A 1 KB file whose length fields claim megabytes or gigabytes: the
    # reader refuses or finds the end of the file without allocating them.
    path = tmp_path / "hostile.cap"
    path.write_bytes(content)
    tracemalloc.start()
    try:
        with pytest.raises(CaptureError):
            _read_all(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_long_records_are_read_whole(tmp_path):
    # 9000-byte jumbo frames and 65535-byte offload super-packets are packets.
    jumbo, offload = tcp4(b"j" * 9000), tcp4(b"o" * 65_000)
    path = tmp_path / "long.pcap"
    path.write_bytes(pcap_bytes([jumbo, offload]))
    assert [record[2] for record in _read_all(path)] == [jumbo, offload]


def test_directory_with_broken_captures_uses_the_good_ones(tmp_path):
    (tmp_path / "a-good.pcap").write_bytes(PCAP)
    (tmp_path / "b-text.pcap").write_bytes(b"not a capture at all")
    (tmp_path / "c-huge.pcapng").write_bytes(_patch(NG, 4, "<I", 0xFFFFFFF0))
    # Broken part-way: its first record is used, the break is reported.
    (tmp_path / "d-cut.pcap").write_bytes(PCAP[: SECOND_RECORD + 7])
    (tmp_path / "e-good.pcapng").write_bytes(NG)

    with pytest.warns(CaptureWarning) as caught:
        sessions = read_sessions(tmp_path)
    stats = sessions.stats
    assert len(caught) == 3
    assert sorted(stats.captures_failed) == [
        str(tmp_path / "b-text.pcap"),
        str(tmp_path / "c-huge.pcapng"),
    ]
    failed = {Path(path).name: reason for path, reason in stats.captures_failed.items()}
    assert "unknown magic number" in failed["b-text.pcap"]
    assert "got 4294967280" in failed["c-huge.pcapng"]
    assert stats.captures_read == 3
    assert [line for line in stats.warnings if "d-cut.pcap at byte" in line]
    assert {session.capture for session in sessions} == {
        str(tmp_path / "a-good.pcap"),
        str(tmp_path / "d-cut.pcap"),
        str(tmp_path / "e-good.pcapng"),
    }
    assert stats.packets_read == 5
    skipped = sum(stats.packets_skipped.values())
    assert stats.packets_read == stats.packets_used + skipped
    assert stats.sessions == len(sessions) == 5

    summary = stats.summary()
    assert "5 captures: 3 read, 2 failed" in summary
    assert f"failed capture {tmp_path / 'b-text.pcap'}: unknown magic number" in summary
    assert f"failed capture {tmp_path / 'c-huge.pcapng'}: the section header" in summary
    assert "d-cut.pcap at byte" in summary


def test_directory_with_a_broken_capture_is_fatal_under_raise(tmp_path):
    (tmp_path / "a-good.pcap").write_bytes(PCAP)
    (tmp_path / "b-cut.pcap").write_bytes(PCAP[: SECOND_RECORD + 7])
    (tmp_path / "c-text.pcap").write_bytes(b"not a capture at all")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cut = rf"b-cut\.pcap at byte {SECOND_RECORD}: "
        with pytest.raises(TruncatedCaptureError, match=cut):
            read_sessions(tmp_path, on_error="raise")
    (tmp_path / "b-cut.pcap").unlink()
    with pytest.raises(NotACaptureError, match=r"c-text\.pcap at byte 0"):
        read_sessions(tmp_path, on_error="raise")


def test_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pcap"):
        read_sessions(tmp_path / "nowhere.pcap")


def test_snapshot_length_does_not_lift_the_captured_length_bound(tmp_path):
    # A hostile header claims a 4 GB snapshot length; the 2 GB record after
    # it is still corrupt, on the numpy path and the general one alike.
    data = pcap_bytes([FIRST, SECOND], snaplen=0xFFFFFFFF)
    data = _patch(data, SECOND_RECORD + 8, "<I", 0x80000000)
    for name, content in (("big.pcap", data), ("big.pcap.gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CorruptCaptureError, match="got 2147483648") as info:
            read_sessions(path, on_error="raise")
        assert info.value.offset == SECOND_RECORD
        with pytest.warns(CaptureWarning, match="at most 262144"):
            sessions = read_sessions(path)
        assert sessions.stats.packets_read == 1


def test_packets_of_an_undescribed_interface_are_skipped_and_counted(tmp_path):
    # The block framing is sound: the packets after it are read.
    path = tmp_path / "stray.pcapng"
    path.write_bytes(NG_HEAD + ng_packet(5, 1, FIRST) + ng_packet(0, 2, SECOND)
                     + ng_packet(5, 3, FIRST))  # fmt: skip
    with pytest.warns(CaptureWarning, match=r"interface 5, which their section "
                                            r"does not describe \(1 described\)"):
        sessions = read_sessions(path)
    stats = sessions.stats
    assert (stats.packets_read, stats.packets_used) == (3, 1)
    assert stats.packets_skipped == {"pcapng unknown interface": 2}
    assert [s.protocol for s in sessions] == [17]
    assert len(stats.warnings) == 1


def test_a_capture_named_twice_is_read_once(tmp_path):
    path = tmp_path / "a.pcap"
    path.write_bytes(PCAP)
    with pytest.warns(CaptureWarning, match="2 repeated names of capture files "
                                            "were left out"):
        sessions = read_sessions([path, tmp_path, str(path)])
    assert sessions.stats.captures_read == 1
    assert len(sessions) == 2


def test_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="holds no file"):
        read_sessions(tmp_path)
