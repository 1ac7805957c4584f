"""Split a capture into one classic pcap file per session, as SplitCap does."""

import os
import struct
import warnings
from collections import OrderedDict
from pathlib import Path

from skfocal.capture._errors import CaptureWarning
from skfocal.capture._reader import CaptureReader
from skfocal.capture._grouping import _collection_paused, _Grouping
from skfocal.capture._sessions import _check_positive_int, _validate
from skfocal.capture._state import address_text

# A pcapng capture becomes nanosecond pcap, little-endian; its records keep
# their bytes, its timestamps their nanoseconds. libpcap's largest snapshot
# length stands for the interfaces' own.
_NANOSECOND_HEADER = struct.Struct("<IHHiIII")
_NANOSECOND_MAGIC = 0xA1B23C4D
_SNAPLEN = 262144
_PROTOCOL_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


class _Writers:
    """Output files appended to a record at a time, at most ``max_open`` open.

    The least recently written file is closed when one more must open; it
    is opened again, to append, when its session has another packet.
    """

    def __init__(self, max_open):
        self.max_open = max_open
        self.handles = OrderedDict()
        self.started = set()

    def write(self, path, header, record):
        handle = self.handles.get(path)
        if handle is None:
            if len(self.handles) >= self.max_open:
                self.handles.popitem(last=False)[1].close()
            if path in self.started:
                handle = open(path, "ab")
            else:
                handle = open(path, "wb")
                handle.write(header)
                self.started.add(path)
            self.handles[path] = handle
        else:
            self.handles.move_to_end(path)
        handle.write(record)

    def close(self):
        while self.handles:
            self.handles.popitem()[1].close()


def _session_name(stem, state):
    """``<stem>.<proto>_<src>_<sport>_<dst>_<dport>``, safe on every system."""
    if state.protocol is None:
        return f"{stem}.all"
    protocol = _PROTOCOL_NAMES.get(state.protocol, f"IP{state.protocol}")
    src = address_text(state.src).replace(":", "-")
    dst = address_text(state.dst).replace(":", "-")
    if state.sport is None:
        return f"{stem}.{protocol}_{src}_{dst}"
    return f"{stem}.{protocol}_{src}_{state.sport}_{dst}_{state.dport}"


class _Splitter:
    """The packet hook of a grouping: each used record goes to its file."""

    def __init__(self, reader, out_dir, max_open):
        self.reader = reader
        self.records = reader.stamped()
        self.current = None
        self.out_dir = out_dir
        self.stem = Path(reader.path).name
        for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
            self.stem = self.stem.removesuffix(suffix)
        self.writers = _Writers(max_open)
        # OpenSession -> {link type: path}; names taken, with their count.
        self.paths = {}
        self.names = {}
        if reader.format == "pcap":
            self.file_header = reader.file_header
            # Little-endian magics start d4 c3 (micro-) or 4d 3c (nanoseconds).
            endian = "<" if reader.file_header[:1] in (b"\xd4", b"\x4d") else ">"
            self.record_header = struct.Struct(endian + "IIII").pack
            self.nanoseconds = False
        else:
            self.file_header = None
            self.record_header = struct.Struct("<IIII").pack
            self.nanoseconds = True

    @property
    def skipped(self):
        return self.reader.skipped

    @property
    def notes(self):
        return self.reader.notes

    def __iter__(self):
        # The grouping reads the records through here; the hook below then
        # finds the current one's timestamp as stored.
        for record in self.records:
            self.current = record
            yield record[:4]

    def _path(self, state, link_type):
        files = self.paths.setdefault(state, {})
        path = files.get(link_type)
        if path is None:
            name = _session_name(self.stem, state)
            if files:
                # A 5-tuple seen on interfaces of two link types: a classic
                # pcap has one, so each gets its own file.
                name += f".linktype{link_type}"
            count = self.names[name] = self.names.get(name, 0) + 1
            if count > 1:
                name += f"-{count}"
            path = files[link_type] = os.path.join(self.out_dir, name + ".pcap")
        return path

    def __call__(self, state):
        link_type, _, data, wire_length, stamp = self.current
        path = self._path(state, link_type)
        if self.nanoseconds:
            seconds, fraction = divmod(stamp, 10**9)
            header = _NANOSECOND_HEADER.pack(_NANOSECOND_MAGIC, 2, 4, 0, 0, _SNAPLEN,
                                             link_type)  # fmt: skip
        else:
            seconds, fraction = stamp
            # The input's own header, with this packet's link type (a
            # classic pcap has one anyway).
            header = self.file_header
        record = self.record_header(seconds, fraction, len(data), wire_length)
        self.writers.write(path, header, record + data)


def split_capture(
    path,
    out_dir,
    *,
    unit="session",
    idle_timeout=None,
    include_vlan=False,
    non_tcp_udp="skip",
    tunnels="inner",
    min_packets=1,
    on_error="warn",
    max_open=64,
):
    """Write each session of a capture to a classic pcap file of its own.

    What SplitCap does for USTC-TK2016, with the sessions of
    :func:`read_sessions`: the same keys, splits and skipped packets, and
    every packet of a session, not only the first ``max_bytes``. Each output
    file is a classic pcap that Wireshark and libpcap read: the input's file
    header for a classic pcap (so that record headers, timestamps and bytes
    are copied unchanged), a nanosecond pcap with the interface's link type
    for pcapng. Packets no session uses are not written.

    Parameters
    ----------
    path : str or path-like
        The capture file: classic pcap or pcapng, possibly gzip-compressed.
    out_dir : str or path-like
        Folder of the output files, created if missing. Files there with
        the same names are overwritten.
    unit : {'session', 'flow', 'capture'}, default='session'
        As for :func:`read_sessions`; ``'capture'`` writes the used packets
        of the whole capture to one file.
    idle_timeout, include_vlan, non_tcp_udp, tunnels, min_packets
        As for :func:`read_sessions`. Files of sessions with fewer than
        ``min_packets`` packets are removed at the end.
    on_error : {'warn', 'raise'}, default='warn'
        A capture truncated or corrupt part-way: the sessions of its
        complete records are written, then a :class:`CaptureWarning` is
        given (``'warn'``) or the :class:`CaptureError` raised.
    max_open : int, default=64
        Output files open at once. The reading streams: a packet is written
        when it is read, and only the least recently written files stay
        open; a file closed early is reopened to append. Memory grows with
        the number of sessions, not with their packets.

    Returns
    -------
    paths : list of str
        The files written, ordered as the sessions of :func:`read_sessions`
        (by first packet time, then capture order). Its ``stats`` attribute,
        an :class:`ExtractionStats`, counts the packets read, written
        (``packets_used``) and skipped by reason, and the sessions written
        and dropped.

    Raises
    ------
    CaptureError
        The file is not a capture that can be read at all; with
        ``on_error='raise'``, also for a capture read only in part.

    Notes
    -----
    Output names are ``<capture stem>.<protocol>_<client address>_<client
    port>_<server address>_<server port>.pcap``, with IPv6 colons written as
    ``-``; ports are left out for protocols without them. A 5-tuple that
    holds several sessions (a port reused, an idle gap) gets ``-2``, ``-3``,
    ... after the first. A session whose packets came on interfaces of
    different link types (pcapng) gets one file per link type, the later
    ones named with ``.linktype<N>``.

    Examples
    --------
    >>> from skfocal.capture import split_capture
    >>> split_capture("Facetime.pcap", "sessions/")  # doctest: +SKIP
    ['sessions/Facetime.UDP_1.1.58.254_16403_1.2.143.109_16403.pcap', ...]
    """
    _validate(unit, 1, idle_timeout, include_vlan, non_tcp_udp, tunnels,
              on_error, 0, min_packets, None)  # fmt: skip
    _check_positive_int("max_open", max_open, "split_capture")
    out_dir = os.fspath(out_dir)
    # A budget of one byte: the grouping keeps one packet per session, the
    # files get them all.
    options = (unit, 1, idle_timeout, include_vlan, non_tcp_udp == "key", tunnels)

    with CaptureReader(path) as reader, _collection_paused():
        # Only once the file is known to be a capture.
        os.makedirs(out_dir, exist_ok=True)
        splitter = _Splitter(reader, out_dir, max_open)
        grouping = _Grouping(os.fspath(path), options)
        grouping.on_packet = splitter
        try:
            grouping.run(splitter)
        finally:
            splitter.writers.close()

    states = sorted(splitter.paths, key=lambda state: (state.first_time, state.seq))
    written = _Written()
    stats = written.stats = grouping.stats
    stats.captures_read = 1
    for state in states:
        files = splitter.paths[state].values()
        if state.n_packets < min_packets:
            for name in files:
                os.remove(name)
            reason = f"fewer than {min_packets} packets"
            stats.sessions_dropped[reason] += 1
            stats.packets_used -= state.n_packets
            stats.packets_skipped[f"in sessions of {reason}"] += state.n_packets
        else:
            written.extend(files)
    stats.sessions = len(states) - sum(stats.sessions_dropped.values())
    if grouping.error is not None:
        if on_error == "raise":
            raise grouping.error
        stats.warnings.append(str(grouping.error))
        warnings.warn(f"split a capture in part: {grouping.error}", CaptureWarning,
                      stacklevel=2)  # fmt: skip
    return written


class _Written(list):
    """The paths split_capture wrote; ``stats`` counts what was read."""
