"""The numpy path over classic pcap gives exactly the general path's sessions."""

import contextlib
import dataclasses
import random
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pcapbuilders import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    ethernet,
    ipv4,
    ipv6,
    ng_block,
    ng_interface,
    ng_packet,
    ng_section,
    pcap_bytes,
    tcp,
    udp,
)

from skfocal.capture import CaptureError, CaptureWarning, Session, _fastgroup, _fastpcap
from skfocal.capture import _sessions as sessions_module
from skfocal.capture import read_sessions
from skfocal.capture._state import OpenSession

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
               b"\x4d\x3c\xb2\xa1")  # fmt: skip
OPTIONS = [
    {},
    {"unit": "flow", "idle_timeout": 2.5, "max_bytes": 200},
    {"unit": "capture", "max_bytes": 100},
    {"non_tcp_udp": "key", "include_vlan": True, "tunnels": "outer"},
    {"tunnels": "outer"},
]


def _read(path, fast, **kwargs):
    """Sessions and the error or warnings of one path, as comparable values."""
    saved = sessions_module.FAST_PATH, sessions_module.FAST_PATH_MIN_BYTES
    # Every classic pcap takes the numpy path, however small.
    sessions_module.FAST_PATH, sessions_module.FAST_PATH_MIN_BYTES = fast, 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                found = read_sessions(path, **kwargs)
            except CaptureError as exc:
                return type(exc), str(exc)
    finally:
        sessions_module.FAST_PATH, sessions_module.FAST_PATH_MIN_BYTES = saved
    messages = [str(warning.message) for warning in caught]
    return list(found), found.stats, messages


def assert_same(path, **kwargs):
    general = _read(path, False, **kwargs)
    fast = _read(path, True, **kwargs)
    assert fast == general, (path, kwargs)
    return general


def _classic(folder):
    if not folder.exists():
        pytest.skip(f"needs the real captures at {folder}, absent on this machine")
    return [path for path in sorted(folder.iterdir())
            if path.read_bytes()[:4] in PCAP_MAGICS]  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.parametrize("options", OPTIONS[:2] + OPTIONS[3:])
def test_shared_classic_captures_read_the_same(options):
    paths = _classic(SHARED_DATA / "ustc-tfc2016")
    paths += _classic(SHARED_DATA / "ndpi-pcaps" / "pcap")
    assert len(paths) > 200
    for path in paths:
        assert_same(path, **options)


@pytest.mark.shared_data
@pytest.mark.parametrize("options", OPTIONS[:2] + OPTIONS[3:])
def test_shared_pcapng_captures_read_the_same(options):
    folder = SHARED_DATA / "ndpi-pcaps" / "pcap"
    if not folder.exists():
        pytest.skip(f"needs the real captures at {folder}, absent on this machine")
    paths = [path for path in sorted(folder.iterdir())
             if path.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"]  # fmt: skip
    assert len(paths) > 100
    for path in paths:
        assert_same(path, **options)


def test_fast_path_is_taken_for_classic_pcap_only(tmp_path, monkeypatch):
    calls = []
    original = sessions_module.PcapBatches

    def spy(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(sessions_module, "PcapBatches", spy)
    monkeypatch.setattr(sessions_module, "FAST_PATH_MIN_BYTES", 0)
    packet = ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, b"x")))
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_bytes([packet]))
    (one,) = read_sessions(path)
    assert calls == [str(path)] and one.n_packets == 1

    import gzip

    zipped = tmp_path / "a.pcap.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    assert read_sessions(zipped) == [dataclasses.replace(one, capture=str(zipped))]
    assert calls == [str(path)]


def test_closed_session_equals_a_constructed_one():
    state = OpenSession(1, 6, bytes([10, 0, 0, 1]), 1234, bytes(16), 80, 1, 2.5)
    state.n_packets, state.n_bytes = 3, 180
    made = state.close("a.pcap", {None: None})
    expected = Session("a.pcap", 6, "10.0.0.1", 1234, "::", 80, 2.5, 3, 180, (), 1)
    assert made == expected and hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert dataclasses.asdict(made) == dataclasses.asdict(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.sport = 1


# Synthetic captures: a pool of hosts and ports so that keys repeat, every
# framing the numpy path reads or hands on, and TCP flags that split.
HOSTS4 = ["10.0.0.1", "10.0.0.2", "192.168.1.9"]
HOSTS6 = ["2001:db8::1", "2001:db8::2"]
FLAGS = [SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST, SYN | FIN]
KINDS = ["tcp4", "udp4", "tcp6", "udp6", "vlan", "options", "fragment",
         "first-fragment", "4in4", "arp", "icmp", "snapped", "bad-tcp",
         "trailer", "gtp", "hop-by-hop", "tiny", "zero-length", "v6-zero",
         "6in4", "gre", "icmp6", "esp6", "ah4"]  # fmt: skip


def _packet(kind, a, b, sport, dport, flags, payload):
    src4, dst4 = HOSTS4[a % 3], HOSTS4[b % 3]
    src6, dst6 = HOSTS6[a % 2], HOSTS6[b % 2]
    segment = tcp(sport, dport, payload, flags=flags)
    if kind == "tcp4":
        return ethernet(ipv4(src4, dst4, 6, segment))
    if kind == "udp4":
        return ethernet(ipv4(src4, dst4, 17, udp(sport, dport, payload)))
    if kind == "tcp6":
        return ethernet(ipv6(src6, dst6, 6, segment), 0x86DD)
    if kind == "udp6":
        return ethernet(ipv6(src6, dst6, 17, udp(sport, dport, payload)), 0x86DD)
    if kind == "vlan":
        return ethernet(ipv4(src4, dst4, 6, segment), tags=((0x8100, a),))
    if kind == "options":
        return ethernet(ipv4(src4, dst4, 6, segment, options=b"\x01" * 4))
    if kind == "fragment":
        return ethernet(ipv4(src4, dst4, 6, segment, fragment=0x0010))
    if kind == "first-fragment":
        return ethernet(ipv4(src4, dst4, 6, segment, fragment=0x2000))
    if kind == "4in4":
        return ethernet(ipv4(dst4, src4, 4, ipv4(src4, dst4, 6, segment)))
    if kind == "6in4":
        return ethernet(ipv4(src4, dst4, 41, ipv6(src6, dst6, 17, udp(1, 2))))
    if kind == "arp":
        return ethernet(bytes(28), 0x0806)
    if kind == "icmp":
        return ethernet(ipv4(src4, dst4, 1, b"\x08\x00" + payload))
    if kind == "icmp6":
        return ethernet(ipv6(src6, dst6, 58, b"\x80\x00" + payload), 0x86DD)
    if kind == "esp6":
        return ethernet(ipv6(src6, dst6, 50, bytes(8) + payload), 0x86DD)
    if kind == "ah4":
        # IPv4 does not walk AH: another protocol, whatever follows.
        return ethernet(ipv4(src4, dst4, 51, bytes([6, 4]) + bytes(22) + segment))
    if kind == "gre":
        return ethernet(ipv4(dst4, src4, 47, b"\x00\x00\x08\x00"
                             + ipv4(src4, dst4, 6, segment)))  # fmt: skip
    if kind == "snapped":
        return ethernet(ipv4(src4, dst4, 6, segment))[:40 + len(payload) // 2]
    if kind == "bad-tcp":
        return ethernet(ipv4(src4, dst4, 6, segment[:12] + b"\x30" + segment[13:]))
    if kind == "trailer":
        return ethernet(ipv4(src4, dst4, 17, udp(sport, dport, payload))) + bytes(7)
    if kind == "gtp":
        return ethernet(ipv4(src4, dst4, 17, udp(2152, dport, payload)))
    if kind == "hop-by-hop":
        return ethernet(ipv6(src6, dst6, 0, bytes([6, 0]) + bytes(6) + segment),
                        0x86DD)  # fmt: skip
    if kind == "tiny":
        return bytes(10)
    if kind == "zero-length":
        return ethernet(ipv4(src4, dst4, 6, segment, total_length=0))
    return ethernet(ipv6(src6, dst6, 17, udp(sport, dport), payload_length=0),
                    0x86DD)  # fmt: skip


def _raw_ip(frame):
    # Link type 101 carries what Ethernet carries, without its header.
    return frame[14:] if len(frame) > 14 else frame


# Mostly plain TCP between few endpoints, so that sessions see FIN, RST and
# SYN in every order, with the other kinds mixed in.
packets = st.lists(
    st.tuples(
        st.sampled_from(KINDS + ["tcp4"] * 25 + ["tcp6"] * 5),
        st.integers(0, 1), st.integers(0, 1),
        st.sampled_from([80, 5000]), st.sampled_from([80, 5000]),
        st.sampled_from(FLAGS), st.integers(0, 300),
        st.sampled_from([0.0, 0.1, 1.0, 3.0, -0.5]),
    ),  # fmt: skip
    max_size=80,
)


def _capture(draw_packets, magic, link_type):
    frames = []
    time = 1000.0
    for kind, a, b, sport, dport, flags, size, gap in draw_packets:
        time += gap
        frame = _packet(kind, a, b, sport, dport, flags, bytes(range(256)) * 2)
        frame = frame[: 14 + 60 + size] if kind != "snapped" else frame
        if link_type == 101:
            frame = _raw_ip(frame)
        frames.append((round(time, 3), frame))
    return pcap_bytes(frames, magic=magic, link_type=link_type)


def _write(content):
    file = tempfile.NamedTemporaryFile(suffix=".pcap", delete=False)
    with file:
        file.write(content)
    return Path(file.name)


@contextlib.contextmanager
def _chunk_size(size):
    """Read with chunks of ``size`` bytes (None: the default) for a while.

    Hypothesis tests cannot take pytest's function-scoped monkeypatch.
    """
    saved = _fastpcap.CHUNK_SIZE
    _fastpcap.CHUNK_SIZE = size or saved
    try:
        yield
    finally:
        _fastpcap.CHUNK_SIZE = saved


@settings(max_examples=120, deadline=None)
@given(
    packets,
    st.sampled_from(["a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"]),
    st.sampled_from([1, 101, 113]),
    st.sampled_from(OPTIONS),
    st.sampled_from([None, 90, 333]),
)
def test_synthetic_captures_read_the_same(draw, magic, link_type, options, chunk):
    path = _write(_capture(draw, magic, link_type))
    # Small chunks put records across chunk ends and sessions across batches.
    try:
        with _chunk_size(chunk):
            assert_same(path, **options)
    finally:
        path.unlink()


def _pcapng(draw_packets, layout):
    """A pcapng of the drawn packets, laid out with the drawn blocks.

    ``layout`` holds, per packet, what comes with it: nothing, a block the
    reader skips, a new interface, a new section (the other byte order),
    an unknown interface id, a simple packet block or an option. Returns
    the file and each block's offset, byte order and type.
    """
    content, blocks = bytearray(), []

    def add(block, endian, block_type):
        blocks.append((len(content), endian, block_type))
        content.extend(block)

    endian = "<"
    add(ng_section(endian), endian, 0x0A0D0D0A)
    add(ng_interface(1, endian=endian), endian, 1)
    interfaces = [(1, None)]
    time = 1_000_000
    for (kind, a, b, sport, dport, flags, size, gap), extra in zip(draw_packets,
                                                                   layout):
        if extra == "section":
            endian = ">" if endian == "<" else "<"
            add(ng_section(endian), endian, 0x0A0D0D0A)
            add(ng_interface(101, endian=endian), endian, 1)
            interfaces = [(101, None)]
        elif extra == "interface":
            link_type = [1, 101, 113][len(interfaces) % 3]
            tsresol = [None, 9, 0x80 | 20][len(interfaces) % 3]
            add(ng_interface(link_type, tsresol=tsresol, endian=endian), endian, 1)
            interfaces.append((link_type, tsresol))
        elif extra == "skipped":
            block_type = [4, 5, 0xBAD][size % 3]
            add(ng_block(block_type, bytes(size % 40), endian), endian, block_type)
        time += int(abs(gap) * 1_000_000) + 1
        frame = _packet(kind, a, b, sport, dport, flags, bytes(range(256)) * 2)
        frame = frame[: 14 + 60 + size] if kind != "snapped" else frame
        interface = len(interfaces) if extra == "unknown" else len(interfaces) - 1
        link_type, tsresol = interfaces[-1]
        if link_type == 101:
            frame = _raw_ip(frame)
        elif link_type == 113:
            frame = bytes(14) + frame[12:]  # Linux cooked v1: a 16-byte header
        ticks = time * {None: 1, 9: 1000, 0x80 | 20: 1}[tsresol]
        if extra == "simple":
            body = struct.pack(endian + "I", len(frame)) + frame
            add(ng_block(3, body, endian), endian, 3)
            continue
        options = b""
        if extra == "option":
            options = struct.pack(endian + "HH", 1, 4) + b"note"
        add(ng_packet(interface, ticks, frame, endian=endian, options=options),
            endian, 6)  # fmt: skip
    return bytes(content), blocks


layouts = st.lists(st.sampled_from(
    [None] * 12 + ["skipped", "interface", "section", "unknown", "simple", "option"]
), min_size=80, max_size=80)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(packets, layouts, st.sampled_from(OPTIONS), st.sampled_from([None, 90, 333]))
def test_synthetic_pcapng_read_the_same(draw, layout, options, chunk):
    content, _ = _pcapng(draw, layout)
    path = _write(content)
    # Small chunks put blocks across chunk ends and sessions across batches.
    try:
        with _chunk_size(chunk):
            assert_same(path, **options)
    finally:
        path.unlink()


@settings(max_examples=80, deadline=None)
@given(packets, layouts, st.data())
def test_truncated_and_corrupt_pcapng_fail_the_same(draw, layout, data):
    content, blocks = _pcapng(draw, layout)
    content = bytearray(content)
    action = data.draw(st.sampled_from(["cut", "length", "trailer", "caplen"]))
    if action == "cut":
        content = content[: data.draw(st.integers(28, len(content)))]
    else:
        # A block's length, trailing length or (an EPB's) captured length.
        offset, endian, block_type = data.draw(st.sampled_from(blocks[1:]))
        value = data.draw(st.sampled_from([0, 3, 36, 1 << 17, 0xFFFFFFFF]))
        (length,) = struct.unpack_from(endian + "I", content, offset + 4)
        at = {"length": offset + 4, "trailer": offset + length - 4,
              "caplen": offset + 20}[action]  # fmt: skip
        if at + 4 <= len(content):  # an interface block has no caplen
            struct.pack_into(endian + "I", content, at, value)
    path = _write(bytes(content))
    try:
        with _chunk_size(data.draw(st.sampled_from([None, 100]))):
            for on_error in ("warn", "raise"):
                assert_same(path, on_error=on_error)
    finally:
        path.unlink()


def test_gzip_captures_read_the_same(tmp_path):
    import gzip

    rng = random.Random(3)
    draw = [("tcp4", rng.randint(0, 1), rng.randint(0, 1), rng.choice([80, 5000]),
             rng.choice([80, 5000]), rng.choice(FLAGS), rng.randint(0, 300), 0.1)
            for _ in range(300)]  # fmt: skip
    for name, content in [("a.pcap.gz", _capture(draw, "d4c3b2a1", 1)),
                          ("a.pcapng.gz", _pcapng(draw, [None] * 300)[0])]:  # fmt: skip
        path = tmp_path / name
        path.write_bytes(gzip.compress(content))
        for options in OPTIONS:
            assert_same(path, **options)


@pytest.mark.parametrize("seed", range(24))
def test_random_long_captures_read_the_same(seed, monkeypatch):
    # Hypothesis keeps its lists short; long ones give each session FIN, RST
    # and SYN in many orders, and the restart rule many chances to slip.
    rng = random.Random(seed)
    draw = [
        (rng.choice(KINDS + ["tcp4"] * 40), rng.randint(0, 1), rng.randint(0, 1),
         rng.choice([80, 5000]), rng.choice([80, 5000]), rng.choice(FLAGS),
         rng.choice([0, 0, 10, 300]), rng.choice([0.0, 0.1, 1.0, 3.0, -0.5]))
        for _ in range(300)
    ]  # fmt: skip
    magic = ["a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"][seed % 4]
    path = _write(_capture(draw, magic, [1, 101][seed % 2]))
    monkeypatch.setattr(_fastpcap, "CHUNK_SIZE", [1 << 20, 2000, 150][seed % 3])
    try:
        for options in OPTIONS:
            assert_same(path, **options)
    finally:
        path.unlink()


@pytest.mark.parametrize("chunk", [1 << 20, 150])
def test_keys_sharing_a_digest_fall_back_to_the_general_path(chunk, monkeypatch):
    # Every key gets one digest: within a batch (one large chunk) and
    # between batches (a chunk per record or two) the clash must be seen.
    rng = random.Random(7)
    draw = [("tcp4", rng.randint(0, 1), rng.randint(0, 1), rng.choice([80, 5000]),
             rng.choice([80, 5000]), ACK, 10, 0.1) for _ in range(40)]  # fmt: skip
    path = _write(_capture(draw, "d4c3b2a1", 1))
    expected = _read(path, False)
    assert len(expected[0]) > 1
    monkeypatch.setattr(_fastpcap, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(
        _fastgroup, "key_digests", lambda rows: np.zeros(len(rows), dtype=np.uint64)
    )
    runs = []
    general = sessions_module._Grouping.run
    monkeypatch.setattr(sessions_module._Grouping, "run",
                        lambda self, reader: runs.append(1) or general(self, reader))
    try:
        assert _read(path, True) == expected
        assert runs == [1]
    finally:
        path.unlink()


@pytest.mark.parametrize("seed", range(5))
def test_packets_are_ordered_by_digest_then_capture_order(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    # Few distinct digests, so that ties are many; with seed 0 they differ
    # in their lowest bits only, which the fast sort cannot tell apart.
    pool = rng.integers(0, 2**63, 40, dtype=np.uint64)
    if seed == 0:
        pool = np.arange(40, dtype=np.uint64) + np.uint64(2**40)
    digest = pool[rng.integers(0, len(pool), n)]
    order = _fastgroup._stable_order(digest)
    assert order.tolist() == np.argsort(digest, kind="stable").tolist()


@settings(max_examples=60, deadline=None)
@given(packets, st.data())
def test_truncated_and_corrupt_captures_fail_the_same(draw, data):
    content = bytearray(_capture(draw, "d4c3b2a1", 1))
    action = data.draw(st.sampled_from(["cut", "caplen", "caplen-last"]))
    if action == "cut":
        content = content[: data.draw(st.integers(24, len(content)))]
    elif len(content) > 24:
        # A record header's captured length beyond libpcap's bound.
        offsets, offset = [], 24
        while offset < len(content):
            offsets.append(offset)
            offset += 16 + struct.unpack_from("<I", content, offset + 8)[0]
        where = offsets[-1] if action == "caplen-last" else random.Random(
            len(offsets)).choice(offsets)  # fmt: skip
        struct.pack_into("<I", content, where + 8, 262145 + len(offsets))
    path = _write(bytes(content))
    try:
        for on_error in ("warn", "raise"):
            assert_same(path, on_error=on_error)
    finally:
        path.unlink()


def test_a_record_longer_than_the_chunk_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(_fastpcap, "CHUNK_SIZE", 64)
    segment = tcp(1, 2, bytes(5000))
    frames = [ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, segment))] * 3
    path = tmp_path / "long.pcap"
    path.write_bytes(pcap_bytes(frames))
    found, _, _ = assert_same(path, max_bytes=100_000)
    assert [len(p.data) for p in found[0].packets] == [5054] * 3


@pytest.mark.parametrize("magic", ["a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"])
def test_times_are_the_same_floats(tmp_path, magic):
    frames = [(1_600_000_000.123457 + i / 7, ethernet(ipv4(
        "10.0.0.1", "10.0.0.2", 17, udp(53, 5353 + i, b"q")))) for i in range(9)]
    path = tmp_path / "times.pcap"
    path.write_bytes(pcap_bytes(frames, magic=magic))
    found, _, _ = assert_same(path)
    assert len(found) == 9


def test_unknown_link_type_counts_the_same(tmp_path):
    path = tmp_path / "link.pcap"
    path.write_bytes(pcap_bytes([bytes(40)] * 4, link_type=147))
    found, stats, messages = assert_same(path)
    assert not found and stats.packets_skipped == {"link type 147": 4}
    assert len(messages) == 1 and "147" in messages[0]


def test_caplen_larger_than_wire_length_is_noted_the_same(tmp_path):
    frame = ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, b"abc")))
    path = tmp_path / "oversized.pcap"
    path.write_bytes(pcap_bytes([(1.0, frame, 10), (2.0, frame)]))
    _, stats, _ = assert_same(path)
    assert any("1 packets have more captured bytes" in line for line in stats.warnings)


def test_empty_capture_reads_the_same(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(pcap_bytes([]))
    for unit in ("session", "capture"):
        assert_same(path, unit=unit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        (whole,) = read_sessions(path, unit="capture")
    assert whole.n_packets == 0
