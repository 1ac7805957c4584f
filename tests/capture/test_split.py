"""split_capture: one classic pcap per session, all packets, bytes unchanged."""

import struct
import warnings
from pathlib import Path

import pytest
from pcapbuilders import (
    ACK,
    FIN,
    SYN,
    ethernet,
    ipv4,
    ipv6,
    ng_interface,
    ng_packet,
    ng_section,
    pcap_bytes,
    tcp,
    tcp4,
    udp,
    udp4,
)
from scapy.utils import RawPcapReader

from skfocal.capture import CaptureWarning, read_sessions, split_capture

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

CLIENT = dict(src="10.0.0.1", dst="10.0.0.2", sport=40000, dport=80)
SERVER = dict(src="10.0.0.2", dst="10.0.0.1", sport=80, dport=40000)


def _records(path):
    """``(record header, data)`` of every record of a classic pcap."""
    raw = Path(path).read_bytes()
    endian = "<" if raw[:1] in (b"\xd4", b"\x4d") else ">"
    records, offset = [], 24
    while offset < len(raw):
        header = raw[offset : offset + 16]
        caplen = struct.unpack(endian + "IIII", header)[2]
        records.append((header, raw[offset + 16 : offset + 16 + caplen]))
        offset += 16 + caplen
    return records


def _check_outputs(capture, written):
    """Each output reads back as its session, with every packet of it."""
    sessions = read_sessions(capture, max_bytes=1 << 30)
    assert len(written) == len(sessions)
    for path, session in zip(written, sessions):
        (whole,) = read_sessions(path, unit="capture", max_bytes=1 << 30)
        assert (whole.n_packets, whole.n_bytes) == (session.n_packets, session.n_bytes)
        assert whole.first_time == session.first_time
        assert [p.data for p in whole.packets] == [p.data for p in session.packets]
        # scapy reads it too, as Wireshark would, with the same packets.
        with RawPcapReader(path) as reader:
            assert reader.linktype == session.link_type
            datas = [data for data, _ in reader]
        assert datas == [data for _, data in _records(path)]
        assert len(datas) == session.n_packets
    used = sum(len(_records(path)) for path in written)
    assert used == sessions.stats.packets_used


def test_each_session_gets_a_file_with_the_input_records(tmp_path):
    packets = [
        (1.25, tcp4(b"", flags=SYN, **CLIENT)),
        (1.5, udp4(b"q", sport=5353, dport=53)),
        (2.0, tcp4(b"", flags=SYN | ACK, **SERVER)),
        (2.5, ethernet(bytes(28), 0x0806)),  # ARP: used by no session
        (3.0, ethernet(ipv6("2001:db8::1", "2001:db8::2", 17, udp(7, 9, b"v6")),
                       0x86DD)),
        (3.5, tcp4(b"GET", **CLIENT)),
        (4.0, udp4(b"a", sport=53, dport=5353, src="10.0.0.2", dst="10.0.0.1")),
    ]
    capture = tmp_path / "in.pcap"
    capture.write_bytes(pcap_bytes(packets, magic="a1b23c4d"))
    written = split_capture(capture, tmp_path / "out")

    assert [Path(path).name for path in written] == [
        "in.TCP_10.0.0.1_40000_10.0.0.2_80.pcap",
        "in.UDP_10.0.0.1_5353_10.0.0.2_53.pcap",
        "in.UDP_2001-db8--1_7_2001-db8--2_9.pcap",
    ]
    _check_outputs(capture, written)
    # Byte for byte: the input's file header, then its records unchanged.
    header = capture.read_bytes()[:24]
    records = _records(capture)
    assert Path(written[0]).read_bytes() == header + b"".join(
        head + data for head, data in (records[0], records[2], records[5])
    )


def test_a_reused_5_tuple_gets_numbered_files_and_few_files_stay_open(tmp_path):
    def syn_fin(time, sport):
        return [
            (time, tcp4(flags=SYN, **dict(CLIENT, sport=sport))),
            (time + 0.1, tcp4(flags=FIN | ACK, **dict(CLIENT, sport=sport))),
            (time + 0.2, tcp4(flags=FIN | ACK, **dict(SERVER, dport=sport))),
        ]

    # Interleaved sessions with max_open=1: every file is closed and opened
    # again to append.
    packets = sorted(syn_fin(1, 1000) + syn_fin(1.05, 2000) + syn_fin(5, 1000))
    capture = tmp_path / "reuse.pcap"
    capture.write_bytes(pcap_bytes(packets))
    written = split_capture(capture, tmp_path, max_open=1)
    assert [Path(path).name for path in written] == [
        "reuse.TCP_10.0.0.1_1000_10.0.0.2_80.pcap",
        "reuse.TCP_10.0.0.1_2000_10.0.0.2_80.pcap",
        "reuse.TCP_10.0.0.1_1000_10.0.0.2_80-2.pcap",
    ]
    _check_outputs(capture, written)


def test_pcapng_becomes_nanosecond_pcap_with_the_interface_link_type(tmp_path):
    raw = ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, b"raw ip"))
    capture = tmp_path / "two.pcapng"
    capture.write_bytes(
        ng_section() + ng_interface(1) + ng_interface(101, tsresol=9)
        + ng_packet(0, 1_700_000_000_123_456, udp4(b"eth"))
        + ng_packet(1, 1_700_000_001_987_654_321, raw)
    )  # fmt: skip
    written = split_capture(capture, tmp_path / "out")
    assert len(written) == 2
    _check_outputs(capture, written)
    stamps = []
    for path in written:
        head = Path(path).read_bytes()[:24]
        assert head[:4] == bytes.fromhex("4d3cb2a1")  # nanoseconds, little-endian
        ((record, _),) = _records(path)
        stamps.append(struct.unpack("<II", record[:8]))
    assert stamps == [(1_700_000_000, 123_456_000), (1_700_000_001, 987_654_321)]
    links = [struct.unpack("<I", Path(p).read_bytes()[20:24])[0] for p in written]
    assert links == [1, 101]


def test_min_packets_units_and_truncated_captures(tmp_path):
    packets = [udp4(sport=1), udp4(sport=2), udp4(sport=2), tcp4()]
    capture = tmp_path / "few.pcap"
    capture.write_bytes(pcap_bytes(packets))
    written = split_capture(capture, tmp_path / "min", min_packets=2)
    name = "few.UDP_10.0.0.1_2_10.0.0.2_53.pcap"
    assert [Path(path).name for path in written] == [name]
    assert [path.name for path in (tmp_path / "min").iterdir()] == [name]

    (whole,) = split_capture(capture, tmp_path / "whole", unit="capture")
    assert Path(whole).name == "few.all.pcap"
    assert len(_records(whole)) == 4
    assert len(split_capture(capture, tmp_path / "flows", unit="flow")) == 3

    cut = tmp_path / "cut.pcap"
    cut.write_bytes(pcap_bytes(packets)[:-5])
    with pytest.warns(CaptureWarning, match="split a capture in part"):
        assert len(split_capture(cut, tmp_path / "cut")) == 2
    with pytest.raises(ValueError, match="'max_open' .* Got 0"):
        split_capture(capture, tmp_path, max_open=0)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name", ["ustc-tfc2016/Facetime.pcap", "ndpi-pcaps/pcap/quic-mvfst-27.pcapng"]
)
def test_real_captures_split_into_their_sessions(tmp_path, name):
    capture = SHARED_DATA / name
    if not capture.exists():
        pytest.skip(f"needs the real capture {capture}, absent on this machine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = split_capture(capture, tmp_path, max_open=16)
    assert len(set(written)) == len(written) > 0
    _check_outputs(capture, written)
