"""read_sessions: grouping, splitting, byte budgets, errors and statistics."""

import logging
import math
import warnings

import pytest
from pcapbuilders import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    ethernet,
    ipv4,
    pcap_bytes,
    tcp,
    tcp4,
    udp4,
    write_pcap,
)

import skfocal
from skfocal.capture import (
    CaptureWarning,
    NotACaptureError,
    SessionList,
    TruncatedCaptureError,
    read_sessions,
)

CLIENT = dict(src="10.0.0.1", dst="10.0.0.2", sport=40000, dport=80)
SERVER = dict(src="10.0.0.2", dst="10.0.0.1", sport=80, dport=40000)


def _check_stats(sessions):
    stats = sessions.stats
    assert stats.packets_read == stats.packets_used + sum(
        stats.packets_skipped.values()
    )
    assert stats.sessions == len(sessions)


def test_top_level_export():
    assert skfocal.read_sessions is read_sessions


def test_session_joins_directions_flow_does_not(capture):
    path = capture([tcp4(b"GET", **CLIENT), tcp4(b"OK", **SERVER), tcp4(**CLIENT)])
    (session,) = read_sessions(path)
    assert session.five_tuple == (6, "10.0.0.1", 40000, "10.0.0.2", 80)
    assert session.n_packets == 3
    flows = read_sessions(path, unit="flow")
    assert [f.five_tuple for f in flows] == [
        (6, "10.0.0.1", 40000, "10.0.0.2", 80),
        (6, "10.0.0.2", 80, "10.0.0.1", 40000),
    ]
    assert [f.n_packets for f in flows] == [2, 1]
    _check_stats(flows)


def test_client_is_the_source_of_the_first_packet(capture):
    (session,) = read_sessions(capture([tcp4(b"OK", **SERVER), tcp4(**CLIENT)]))
    assert (session.src, session.sport) == ("10.0.0.2", 80)


def test_idle_timeout_splits_a_key(capture):
    packets = [(0.0, udp4(b"a")), (3.0, udp4(b"b")), (20.0, udp4(b"c"))]
    path = capture(packets)
    assert [s.n_packets for s in read_sessions(path)] == [3]
    split = read_sessions(path, idle_timeout=5)
    assert [(s.first_time, s.n_packets) for s in split] == [(0.0, 2), (20.0, 1)]
    _check_stats(split)


def _tcp(flags, time, side=CLIENT, payload=b""):
    return (time, tcp4(payload, flags=flags, **side))


def test_syn_after_fin_both_ways_starts_a_new_session(capture):
    packets = [
        _tcp(SYN, 1), _tcp(SYN | ACK, 2, SERVER), _tcp(ACK, 3),
        _tcp(PSH | ACK, 4, payload=b"req"), _tcp(FIN | ACK, 5),
        _tcp(FIN | ACK, 6, SERVER), _tcp(ACK, 7),
        _tcp(SYN, 8), _tcp(SYN | ACK, 9, SERVER),
    ]  # fmt: skip
    sessions = read_sessions(capture(packets))
    assert [(s.first_time, s.n_packets) for s in sessions] == [(1.0, 7), (8.0, 2)]
    assert sessions[1].src == "10.0.0.1"


def test_syn_after_rst_starts_a_new_session_but_syn_ack_does_not(capture):
    packets = [_tcp(SYN, 1), _tcp(RST | ACK, 2, SERVER), _tcp(SYN | ACK, 3, SERVER),
               _tcp(SYN, 4)]  # fmt: skip
    sessions = read_sessions(capture(packets))
    assert [(s.first_time, s.n_packets) for s in sessions] == [(1.0, 3), (4.0, 1)]


@pytest.fixture(params=["general", "numpy"])
def both_paths(request, monkeypatch):
    """Read with the general path, then with the numpy one, however small."""
    from skfocal.capture import _sessions

    monkeypatch.setattr(_sessions, "FAST_PATH", request.param == "numpy")
    monkeypatch.setattr(_sessions, "FAST_PATH_MIN_BYTES", 0)


def test_syn_after_fin_one_way_stays_in_the_session(capture, both_paths):
    # A half-close: the client's FIN, then a SYN (a retransmission or a
    # port reuse too early) belongs to the session still open the other way.
    packets = [
        _tcp(SYN, 1), _tcp(SYN | ACK, 2, SERVER), _tcp(FIN | ACK, 3),
        _tcp(SYN, 4), _tcp(PSH | ACK, 5, SERVER, payload=b"late"),
        _tcp(FIN | ACK, 6, SERVER), _tcp(SYN, 7), _tcp(SYN | ACK, 8, SERVER),
    ]  # fmt: skip
    sessions = read_sessions(capture(packets))
    assert [(s.first_time, s.n_packets) for s in sessions] == [(1.0, 6), (7.0, 2)]


def test_syn_after_rst_either_way_starts_a_new_session(capture, both_paths):
    for side in (CLIENT, SERVER):
        packets = [_tcp(SYN, 1), _tcp(RST, 2, side), _tcp(SYN, 3), _tcp(SYN, 4)]
        sessions = read_sessions(capture(packets))
        assert [(s.first_time, s.n_packets) for s in sessions] == [(1.0, 2), (3.0, 2)]


def test_fin_both_ways_counts_across_an_idle_split(capture, both_paths):
    # The FIN before the idle gap belongs to the earlier session: the later
    # one saw a FIN one way only, and the SYN stays in it.
    packets = [_tcp(FIN | ACK, 1), _tcp(PSH | ACK, 100), _tcp(FIN | ACK, 101, SERVER),
               _tcp(SYN, 102)]  # fmt: skip
    sessions = read_sessions(capture(packets), idle_timeout=10)
    assert [(s.first_time, s.n_packets) for s in sessions] == [(1.0, 1), (100.0, 3)]


def test_a_flow_restarts_after_its_own_fin(capture, both_paths):
    packets = [_tcp(SYN, 1), _tcp(FIN | ACK, 2), _tcp(SYN, 3)]
    flows = read_sessions(capture(packets), unit="flow")
    assert [(f.first_time, f.n_packets) for f in flows] == [(1.0, 2), (3.0, 1)]


def test_min_packets_drops_short_sessions_and_counts_them(capture, both_paths):
    packets = [udp4(sport=1), udp4(sport=2), udp4(sport=2), udp4(sport=3),
               udp4(sport=3), udp4(sport=3)]  # fmt: skip
    path = capture(packets)
    sessions = read_sessions(path, min_packets=2)
    assert [(s.sport, s.n_packets) for s in sessions] == [(2, 2), (3, 3)]
    stats = sessions.stats
    assert stats.sessions_dropped == {"fewer than 2 packets": 1}
    assert (stats.packets_read, stats.packets_used) == (6, 5)
    assert stats.packets_skipped == {"in sessions of fewer than 2 packets": 1}
    _check_stats(sessions)
    assert "2 sessions, 1 dropped" in stats.summary()
    assert "dropped 1 sessions: fewer than 2 packets" in stats.summary()

    assert read_sessions(path).stats.sessions_dropped == {}
    assert len(read_sessions(path, unit="capture", min_packets=7)) == 0
    assert len(read_sessions(capture([]), unit="capture")) == 1


def test_verbose_shows_a_progress_bar_over_captures(capture, capsys):
    paths = [capture([udp4()]), capture([udp4(), udp4(sport=7)])]
    read_sessions(paths)
    assert capsys.readouterr() == ("", "")
    read_sessions(paths, verbose=1)
    out, err = capsys.readouterr()
    assert f"{paths[1]}: 2 sessions" in out
    assert "reading captures" in err and "2/2" in err


def test_vlan_out_of_the_key_unless_asked(capture):
    one = ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2)), tags=((0x8100, 10),))
    two = ethernet(ipv4("10.0.0.2", "10.0.0.1", 6, tcp(2, 1)), tags=((0x8100, 20),))
    path = capture([one, two])
    assert len(read_sessions(path)) == 1
    assert len(read_sessions(path, include_vlan=True)) == 2


def test_byte_budget_keeps_first_packets_and_counts_all(capture):
    packets = [tcp4(b"x" * 100, **CLIENT) for _ in range(10)]
    (session,) = read_sessions(capture(packets), max_bytes=300)
    # Payload total reaches 300 after the third packet.
    assert len(session.packets) == 3
    assert session.n_packets == 10
    assert session.n_bytes == 10 * len(packets[0])


def test_budget_counts_any_layer_still_short(capture):
    # 54 header bytes + 10 payload bytes: link-layer bytes fill 200 after 4
    # packets, payload bytes after 20.
    packets = [tcp4(b"y" * 10, **CLIENT) for _ in range(30)]
    (session,) = read_sessions(capture(packets), max_bytes=200)
    assert len(session.packets) == 20


def test_bare_acks_do_not_grow_memory(capture):
    packets = [tcp4(b"z" * 5, **CLIENT)] + [tcp4(flags=ACK, **SERVER)] * 2000
    (session,) = read_sessions(capture(packets), max_bytes=784)
    assert session.n_packets == 2001
    # Network-layer bytes (45, then 40 an ACK) pass 784 after 20 packets; the
    # ACKs after that add no payload and are not kept.
    assert len(session.packets) == 20


def test_sessions_ordered_by_capture_then_first_time(tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    write_pcap(folder / "b.pcap", [(5.0, udp4(sport=1)), (6.0, udp4(sport=2))])
    write_pcap(folder / "a.pcap", [(9.0, udp4(sport=3)), (1.0, udp4(sport=4))])
    sessions = read_sessions(folder)
    assert [(s.capture.rsplit("/", 1)[-1], s.sport) for s in sessions] == [
        ("a.pcap", 4), ("a.pcap", 3), ("b.pcap", 1), ("b.pcap", 2),
    ]  # fmt: skip
    given = read_sessions([folder / "b.pcap", str(folder / "a.pcap")])
    assert [s.sport for s in given] == [1, 2, 4, 3]
    assert given.stats.captures_read == 2


def test_capture_unit_is_one_sample_per_file(capture):
    echo = ethernet(ipv4("10.0.0.1", "10.0.0.2", 1, b"\x08\x00" + bytes(6)))
    path = capture([udp4(b"a"), tcp4(b"b"), echo, udp4(b"c")])
    (whole,) = read_sessions(path, unit="capture")
    assert whole.five_tuple == (None, None, None, None, None)
    assert (whole.n_packets, whole.first_time, whole.capture) == (3, 1.0, str(path))
    assert [p.data[p.payload_offset :] for p in whole.packets] == [b"a", b"b", b"c"]
    (keyed,) = read_sessions(path, unit="capture", non_tcp_udp="key")
    assert keyed.n_packets == 4


def test_empty_capture(capture):
    path = capture([])
    sessions = read_sessions(path)
    assert isinstance(sessions, SessionList)
    assert len(sessions) == 0
    assert sessions.stats.captures_read == 1
    _check_stats(sessions)
    (empty,) = read_sessions(path, unit="capture")
    assert (empty.n_packets, empty.packets) == (0, ())
    assert math.isnan(empty.first_time)


def test_unreadable_capture_warns_or_raises(tmp_path, capture):
    good = capture([udp4()])
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture")
    with pytest.warns(CaptureWarning, match=r"bad\.pcap") as caught:
        sessions = read_sessions([bad, good])
    assert len(caught) == 1
    assert caught[0].filename == __file__
    assert len(sessions) == 1
    assert list(sessions.stats.captures_failed) == [str(bad)]
    assert "unknown magic number; " in sessions.stats.captures_failed[str(bad)]
    assert "got 74686973" in sessions.stats.captures_failed[str(bad)]
    assert sessions.stats.captures_read == 1
    with pytest.raises(NotACaptureError, match=r"bad\.pcap at byte 0"):
        read_sessions([good, bad], on_error="raise")


def test_truncated_capture_gives_complete_records_and_one_warning(tmp_path):
    path = tmp_path / "cut.pcap"
    path.write_bytes(pcap_bytes([udp4(sport=1), udp4(sport=2), udp4(sport=3)])[:-5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = read_sessions(path)
    assert [s.sport for s in sessions] == [1, 2]
    assert len(caught) == 1 and caught[0].category is CaptureWarning
    assert "cut.pcap" in str(caught[0].message)
    assert len(sessions.stats.warnings) == 1
    assert sessions.stats.captures_read == 1 and not sessions.stats.captures_failed
    _check_stats(sessions)
    with pytest.raises(TruncatedCaptureError):
        read_sessions(path, on_error="raise")


def test_caplen_above_wire_length_is_noted_once(capture):
    path = capture([(1.0, udp4(), 10), (2.0, udp4(), 10)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sessions = read_sessions(path)
    assert len(sessions) == 1
    (line,) = sessions.stats.warnings
    assert "2 packets have more captured bytes than their wire length" in line


def test_stats_add_up_over_captures(capture):
    arp = ethernet(bytes(28), 0x0806)
    first = capture([udp4(), arp, tcp4(), tcp4()[:30]])
    second = capture([arp, udp4(sport=9)])
    sessions = read_sessions([first, second])
    stats = sessions.stats
    assert (stats.packets_read, stats.packets_used, stats.sessions) == (6, 3, 3)
    assert stats.packets_skipped == {"non-ip": 2, "malformed ip": 1}
    _check_stats(sessions)
    assert "6 packets: 3 used, 3 skipped" in stats.summary()


def test_skipped_packets_are_logged_at_debug_level(capture, caplog):
    path = capture([ethernet(bytes(28), 0x0806)])
    with caplog.at_level(logging.DEBUG, logger="skfocal"):
        read_sessions(path)
    assert any("packet 1 skipped: non-ip" in r.getMessage() for r in caplog.records)


def test_verbose_prints_and_silent_prints_nothing(capture, capsys):
    path = capture([udp4()])
    read_sessions(path)
    assert capsys.readouterr().out == ""
    read_sessions(path, verbose=1)
    out = capsys.readouterr().out
    assert f"{path}: 1 sessions" in out and "1 packets: 1 used" in out


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unit": "packet"}, r"'unit' parameter .* among \{'capture', 'flow', "
                             r"'session'\}\. Got 'packet'"),
        ({"max_bytes": 0}, r"'max_bytes' .* \[1, inf\)\. Got 0"),
        ({"max_bytes": 7.5}, "Got 7.5"),
        ({"idle_timeout": -1}, r"'idle_timeout' .* None or a float"),
        ({"include_vlan": "yes"}, "'include_vlan' .* bool"),
        ({"non_tcp_udp": "drop"}, "'non_tcp_udp'"),
        ({"tunnels": "both"}, "'tunnels'"),
        ({"on_error": "ignore"}, "'on_error'"),
        ({"verbose": -1}, "'verbose'"),
        ({"min_packets": 0}, r"'min_packets' .* \[1, inf\)\. Got 0"),
        ({"n_jobs": 0}, r"'n_jobs' .* None or a nonzero int\. Got 0"),
    ],
)  # fmt: skip
def test_parameters_are_checked(capture, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_sessions(capture([udp4()]), **kwargs)


def test_missing_path_and_wrong_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pcap"):
        read_sessions(tmp_path / "nowhere.pcap")
    with pytest.raises(TypeError, match="paths must"):
        read_sessions(42)
    with pytest.raises(TypeError, match="int"):
        read_sessions([42])
