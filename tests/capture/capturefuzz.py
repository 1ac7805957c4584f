"""Mutations of real captures and the contract every read of them must keep.

Shared by ``tests/capture/test_fuzz.py`` (driven by hypothesis) and
``benchmarks/fuzz_captures.py`` (driven by ``random.Random``): both hand a
``random.Random`` to :func:`mutate`, so one engine serves the short and the
long run.
"""

import contextlib
import gzip
import logging
import signal
import struct
import time
import tracemalloc
import warnings
from pathlib import Path

from skfocal.capture import CaptureError, CaptureWarning, read_sessions

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# (folder under shared/data, file, bytes kept from its start): classic pcap
# in both byte orders and with nanoseconds, pcapng with several interfaces,
# name resolution, statistics, decryption secrets and custom blocks, and
# eight link types between them.
SEED_FILES = (
    ("ndpi-pcaps/pcap", "iqiyi.pcap", None),  # raw IP (101)
    ("ndpi-pcaps/pcap", "rtcp_multiple_pkts_in_the_same_datagram.pcap", None),
    ("ndpi-pcaps/pcap", "someip_sd_sample.pcap", None),  # nanosecond, PPI
    ("ndpi-pcaps/pcap", "nfsv3.pcap", 8_000),  # big-endian Ethernet
    ("ndpi-pcaps/pcap", "BGP_Cisco_hdlc_slarp.pcap", None),  # Cisco HDLC
    ("ndpi-pcaps/pcap", "rdp.pcap", None),  # BSD loopback (0)
    ("ndpi-pcaps/pcap", "http2.pcapng", None),  # Linux cooked, statistics
    ("ndpi-pcaps/pcap", "kerberos_fuzz.pcapng", None),  # raw IPv4, names
    ("ndpi-pcaps/pcap", "dns-google-nsid.pcapng", None),  # three interfaces
    ("ndpi-pcaps/pcap", "mpeg.pcap", None),  # pcapng with a custom block
    ("ndpi-pcaps/pcap", "quic-v2.pcapng", 12_000),  # decryption secrets
    ("ustc-tfc2016", "Facetime.pcap", 20_000),
    ("ustc-tfc2016", "Tinba.pcap", 20_000),
)

# Values a length field is set to: zero and tiny, the smallest valid block
# lengths, 16- and 32-bit edges, "negative-looking" values and the bounds
# the reader enforces (262144 bytes, 16 MiB).
INTERESTING_32 = (
    0, 1, 3, 4, 8, 11, 12, 16, 20, 27, 28, 0xFF, 0xFFFF, 0x10000,
    0x40000, 0x40001, 0x1000000, 0x1000004, 0x7FFFFFFF, 0x7FFFFFFC,
    0x80000000, 0x80000001, 0x80000004, 0xFFFFFFF0, 0xFFFFFFFC, 0xFFFFFFFF,
)  # fmt: skip
INTERESTING_16 = (0, 1, 3, 4, 8, 0x7FFF, 0x8000, 0xFFFC, 0xFFFF)

MAGICS = (
    b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
    b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"\xa1\xb2\xcd\x34", b"\x1f\x8b\x08\x00",
)  # fmt: skip
_PCAP_ENDIAN = {b"\xa1\xb2\xc3\xd4": ">", b"\xd4\xc3\xb2\xa1": "<",
                b"\xa1\xb2\x3c\x4d": ">", b"\x4d\x3c\xb2\xa1": "<"}  # fmt: skip
_NG_ENDIAN = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}

# A hang detector, not a speed test: the seeds read in milliseconds.
TIME_LIMIT = 5.0
# Reading a 25 KB input allocates far less; a length field trusted blindly
# allocates far more.
MEMORY_LIMIT = 32 * 1024 * 1024


def layout(data):
    """The records or blocks of a capture and the length fields in them.

    Returns ``(units, fields)``: ``(start, stop)`` byte ranges of the file
    header and each record or block, and ``(position, struct format)`` of
    each length field. The walk stops where the bytes stop making sense, so
    a mutated capture gives its readable prefix.
    """
    units, fields = [], []
    endian = _PCAP_ENDIAN.get(data[:4])
    if endian is not None and len(data) >= 24:
        units.append((0, 24))
        fields.append((16, endian + "I"))  # snapshot length
        start = 24
        while start + 16 <= len(data):
            (caplen,) = struct.unpack_from(endian + "I", data, start + 8)
            stop = start + 16 + caplen
            if stop > len(data):
                break
            units.append((start, stop))
            fields += [(start + 8, endian + "I"), (start + 12, endian + "I")]
            start = stop
        return units, fields

    start, endian = 0, "<"
    while start + 12 <= len(data):
        if data[start : start + 4] == b"\x0a\x0d\x0d\x0a":
            endian = _NG_ENDIAN.get(data[start + 8 : start + 12])
            if endian is None:
                break
        block_type, length = struct.unpack_from(endian + "II", data, start)
        stop = start + length
        if length < 12 or stop > len(data):
            break
        units.append((start, stop))
        fields += [(start + 4, endian + "I"), (stop - 4, endian + "I")]
        options = None
        if block_type == 6 and length >= 32:
            (caplen,) = struct.unpack_from(endian + "I", data, start + 20)
            fields += [(start + 20, endian + "I"), (start + 24, endian + "I")]
            options = start + 28 + caplen + (-caplen % 4)
        elif block_type == 1 and length >= 20:
            fields.append((start + 12, endian + "I"))  # snapshot length
            options = start + 16
        elif block_type == 0x0A0D0D0A:
            options = start + 24
        while options is not None and options + 4 <= stop - 4:
            fields.append((options + 2, endian + "H"))
            code, size = struct.unpack_from(endian + "HH", data, options)
            if code == 0:
                break
            options += 4 + size + (-size % 4)
        start = stop
    return units, fields


def head(data, limit):
    """The records or blocks of ``data`` that end within ``limit`` bytes."""
    if limit is None or len(data) <= limit:
        return data
    units, _ = layout(data)
    stop = max((stop for _, stop in units if stop <= limit), default=limit)
    return data[:stop]


def load_seeds():
    """The seed captures as ``(name, bytes)`` pairs; empty without the data."""
    seeds = []
    for folder, name, limit in SEED_FILES:
        path = SHARED_DATA / folder / name
        if path.exists():
            seeds.append((name, head(path.read_bytes(), limit)))
    if seeds:
        name, data = seeds[0]
        seeds.append((name + ".gz", gzip.compress(data, mtime=0)))
    return seeds


def _flip_bits(data, rnd, seeds):
    data = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 3, 8, 32))):
        position = rnd.randrange(len(data))
        data[position] ^= 1 << rnd.randrange(8)
    return bytes(data)


def _truncate(data, rnd, seeds):
    units, _ = layout(data)
    if units and rnd.random() < 0.6:
        # Near a boundary: inside a header, or just before a trailer.
        start, stop = rnd.choice(units)
        cut = rnd.choice((start + rnd.randrange(1, 17), stop - rnd.randrange(1, 9)))
    else:
        cut = rnd.randrange(len(data))
    return data[: max(cut, 0)]


def _set_length(data, rnd, seeds):
    _, fields = layout(data)
    if not fields:
        return _overwrite_word(data, rnd, seeds)
    position, fmt = rnd.choice(fields)
    size = struct.calcsize(fmt)
    (old,) = struct.unpack_from(fmt, data, position)
    top = (1 << (8 * size)) - 1
    choice = rnd.random()
    if choice < 0.6:
        value = rnd.choice(INTERESTING_32 if size == 4 else INTERESTING_16)
    elif choice < 0.8:
        value = old + rnd.choice((-8, -4, -1, 1, 4, 8, len(data)))
    else:
        value = rnd.randrange(top + 1)
    value &= top
    return data[:position] + struct.pack(fmt, value) + data[position + size :]


def _overwrite_word(data, rnd, seeds):
    if len(data) < 4:
        return data
    position = rnd.randrange(len(data) - 3)
    word = struct.pack(rnd.choice("<>") + "I", rnd.choice(INTERESTING_32))
    return data[:position] + word + data[position + 4 :]


def _duplicate_unit(data, rnd, seeds):
    units, _ = layout(data)
    if len(units) < 2:
        return _flip_bits(data, rnd, seeds)
    start, stop = rnd.choice(units[1:] if rnd.random() < 0.8 else units)
    _, at = rnd.choice(units)
    return data[:at] + data[start:stop] * rnd.choice((1, 2, 50)) + data[at:]


def _splice(data, rnd, seeds):
    """Insert a record or block of another (or the same) seed."""
    _, other = rnd.choice(seeds)
    theirs, _ = layout(other)
    ours, _ = layout(data)
    if not theirs or not ours:
        return data + other[rnd.randrange(len(other)) :]
    start, stop = rnd.choice(theirs)
    _, at = rnd.choice(ours)
    return data[:at] + other[start:stop] + data[at:]


def _delete_unit(data, rnd, seeds):
    units, _ = layout(data)
    if len(units) < 2:
        return _truncate(data, rnd, seeds)
    start, stop = rnd.choice(units)
    return data[:start] + data[stop:]


def _change_magic(data, rnd, seeds):
    return rnd.choice(MAGICS) + data[4:]


def _insert_or_delete_bytes(data, rnd, seeds):
    position = rnd.randrange(len(data) + 1)
    size = rnd.choice((1, 2, 3, 4, 7, 16))
    if rnd.random() < 0.5:
        noise = bytes(rnd.randrange(256) for _ in range(size))
        return data[:position] + noise + data[position:]
    return data[:position] + data[position + size :]


MUTATIONS = (
    _flip_bits, _truncate, _set_length, _set_length, _overwrite_word,
    _duplicate_unit, _splice, _delete_unit, _change_magic, _insert_or_delete_bytes,
)  # fmt: skip


def mutate(data, rnd, seeds):
    """Apply one to four random mutations to ``data``; return the new bytes."""
    for _ in range(rnd.choice((1, 1, 1, 2, 2, 3, 4))):
        if not data:
            break
        data = rnd.choice(MUTATIONS)(data, rnd, seeds)
    return data


class Hang(Exception):
    """Reading one input took longer than the time limit."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise :class:`Hang` in the main thread after ``seconds``."""

    def alarm(signum, frame):
        raise Hang(f"reading took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def quiet_loggers():
    """Silence scapy's per-block and skfocal's per-capture log lines."""
    loggers = [logging.getLogger(name) for name in ("scapy", "skfocal")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def check_capture(path, data, *, measure_memory=False):
    """Read one input both ways and check the contract; return what happened.

    Returns ``(kind, seconds, peak)``: the documented error's class name
    under ``on_error='raise'`` (``'read'`` when none), the slower of the two
    reads and the peak traced allocation (0 unless ``measure_memory``).
    Anything else -- an undocumented exception, a broken invariant, a hang
    -- propagates.
    """
    path = str(path)
    if measure_memory:
        tracemalloc.start()
    try:
        began = time.perf_counter()
        with time_limit(TIME_LIMIT), warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureWarning)
            try:
                read_sessions(path, on_error="raise")
                error = None
            except CaptureError as exc:
                error = exc
        raise_seconds = time.perf_counter() - began

        began = time.perf_counter()
        with time_limit(TIME_LIMIT), warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureWarning)
            sessions = read_sessions(path, on_error="warn")
        warn_seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
    finally:
        if measure_memory:
            tracemalloc.stop()

    stats = sessions.stats
    skipped = sum(stats.packets_skipped.values())
    assert stats.packets_read == stats.packets_used + skipped, stats
    assert stats.sessions == len(sessions), stats
    assert stats.captures_read + len(stats.captures_failed) == 1, stats
    assert peak < MEMORY_LIMIT, f"peak allocation {peak} bytes"
    if error is None:
        assert not stats.captures_failed, stats
        return "read", max(raise_seconds, warn_seconds), peak

    # The error names the file and where in it; warn mode reports the same.
    assert error.path == path and str(error).startswith(path), error
    assert error.offset is None or 0 <= error.offset <= max(len(data), 1 << 20)
    if not path.endswith(".gz"):
        assert error.offset is not None and error.offset <= len(data), error
    assert "accepted" in error.reason and "got " in error.reason, error
    assert (
        stats.captures_failed.get(path) == error.reason
        or str(error) in stats.warnings
    ), (error, stats)
    return type(error).__name__, max(raise_seconds, warn_seconds), peak
