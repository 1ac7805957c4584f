"""The records that cross from capture reading to imaging."""

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple


class Packet(NamedTuple):
    """One captured packet of a session, as kept for imaging.

    ``data`` starts at the link layer and ends at the end of the IP packet
    (Ethernet padding and trailers cut off). No pcap file or record header
    byte is ever part of it. The offsets index into ``data``.

    Attributes
    ----------
    time : float
        Capture timestamp in seconds since the epoch.
    data : bytes
        The packet from the link-layer header to the end of the IP packet.
    network_offset : int
        Where the network (IPv4/IPv6) header starts in ``data``.
    transport_offset : int
        Where the transport (TCP/UDP) header starts in ``data``.
    payload_offset : int
        Where the transport payload (layer 7) starts in ``data``.
    address_spans : tuple of (int, int)
        ``(start, stop)`` byte ranges in ``data`` holding MAC and IP
        addresses, for anonymisation.
    port_spans : tuple of (int, int)
        ``(start, stop)`` byte ranges in ``data`` holding transport ports.
    wire_length : int
        The packet's length on the wire, as the capture recorded it.

    Examples
    --------
    >>> from skfocal import Packet
    >>> ip_tcp = bytes(20) + bytes(20)  # IPv4 and TCP headers, raw IP link
    >>> packet = Packet(0.0, ip_tcp + b"hello", 0, 20, 40,
    ...                 address_spans=((12, 20),), port_spans=((20, 24),))
    >>> packet.data[packet.payload_offset:]
    b'hello'
    """

    time: float
    data: bytes
    network_offset: int
    transport_offset: int
    payload_offset: int
    address_spans: tuple = ()
    port_spans: tuple = ()
    wire_length: int = 0


@dataclass(frozen=True)
class Session:
    """A bidirectional session (or one-way flow) read from a capture.

    The client is the source of the session's first packet.

    Attributes
    ----------
    capture : str
        Path of the capture file the session came from.
    protocol : int or None
        IP protocol number (6 for TCP, 17 for UDP); None for a whole-capture
        sample.
    src, dst : str or None
        Client and server IP addresses in their usual text form.
    sport, dport : int or None
        Client and server ports.
    first_time : float
        Timestamp of the first packet.
    n_packets : int
        How many packets the session had, kept for imaging or not.
    n_bytes : int
        Sum of the captured lengths of all its packets.
    packets : tuple of Packet
        The first packets of the session, in capture order: as many as the
        byte budget of the reader needed (see ``max_bytes`` of
        :func:`read_sessions`).
    link_type : int
        The link-layer type (LINKTYPE_*) of the packets.

    Examples
    --------
    >>> from skfocal import Session
    >>> s = Session("a.pcap", 6, "10.0.0.1", 51000, "10.0.0.2", 443, 0.0, 12, 4096)
    >>> s.five_tuple
    (6, '10.0.0.1', 51000, '10.0.0.2', 443)
    >>> s
    Session(TCP 10.0.0.1:51000 -> 10.0.0.2:443, packets=12, capture='a.pcap')
    """

    capture: str
    protocol: int | None
    src: str | None
    sport: int | None
    dst: str | None
    dport: int | None
    first_time: float
    n_packets: int
    n_bytes: int
    packets: tuple = ()
    link_type: int = 1

    @property
    def five_tuple(self):
        """``(protocol, src, sport, dst, dport)``, the client first."""
        return (self.protocol, self.src, self.sport, self.dst, self.dport)

    def __repr__(self):
        return (
            f"Session({_PROTOCOL_NAMES.get(self.protocol, self.protocol)} "
            f"{self.src}:{self.sport} -> {self.dst}:{self.dport}, "
            f"packets={self.n_packets}, capture={self.capture!r})"
        )


_PROTOCOL_NAMES = {6: "TCP", 17: "UDP"}


@dataclass
class ExtractionStats:
    """What one extraction read, used and skipped, with reasons.

    The accounting invariant holds for every extraction:
    ``packets_read == packets_used + sum(packets_skipped.values())``.

    Attributes
    ----------
    captures_read : int
        Capture files read to the end (a truncated file counts here too).
    captures_failed : dict of str to str
        Capture files that could not be read at all, with the reason.
    packets_read : int
        Packet records read from the captures.
    packets_used : int
        Packets that became part of a session.
    packets_skipped : collections.Counter
        Packets not used, by reason (for example ``'non-ip'``,
        ``'link type 105'``, ``'not tcp/udp'``, ``'malformed ip'``).
    sessions : int
        Sessions emitted.
    sessions_dropped : collections.Counter
        Sessions grouped but not emitted, by reason (for example
        ``'fewer than 3 packets'``, see ``min_packets`` of
        :func:`read_sessions`).
    warnings : list of str
        Problems worth a user's attention (truncated files, caplen larger
        than the wire length, ...), one line each.

    Examples
    --------
    >>> from collections import Counter
    >>> from skfocal import ExtractionStats
    >>> stats = ExtractionStats(captures_read=1, packets_read=10, packets_used=8,
    ...                         packets_skipped=Counter({"non-ip": 2}), sessions=3)
    >>> print(stats.summary())
    1 captures: 1 read, 0 failed
    10 packets: 8 used, 2 skipped
      skipped 2 packets: non-ip
    3 sessions
    """

    captures_read: int = 0
    captures_failed: dict = field(default_factory=dict)
    packets_read: int = 0
    packets_used: int = 0
    packets_skipped: Counter = field(default_factory=Counter)
    sessions: int = 0
    warnings: list = field(default_factory=list)
    sessions_dropped: Counter = field(default_factory=Counter)

    def update(self, other):
        """Add the counts of ``other`` to these ones."""
        self.captures_read += other.captures_read
        self.captures_failed.update(other.captures_failed)
        self.packets_read += other.packets_read
        self.packets_used += other.packets_used
        self.packets_skipped.update(other.packets_skipped)
        self.sessions += other.sessions
        self.warnings.extend(other.warnings)
        self.sessions_dropped.update(other.sessions_dropped)
        return self

    def summary(self):
        """One paragraph in the user's words: captures, packets, sessions."""
        n_captures = self.captures_read + len(self.captures_failed)
        lines = [
            f"{n_captures} captures: {self.captures_read} read, "
            f"{len(self.captures_failed)} failed",
            f"{self.packets_read} packets: {self.packets_used} used, "
            f"{sum(self.packets_skipped.values())} skipped",
        ]
        for reason, count in self.packets_skipped.most_common():
            lines.append(f"  skipped {count} packets: {reason}")
        for path, reason in sorted(self.captures_failed.items()):
            lines.append(f"  failed capture {path}: {reason}")
        if self.warnings:
            count = len(self.warnings)
            lines.append(f"{count} warning{'s' if count > 1 else ''}:")
            lines.extend(f"  {line}" for line in self.warnings)
        lines.append(f"{self.sessions} sessions")
        n_dropped = sum(self.sessions_dropped.values())
        if n_dropped:
            lines[-1] += f", {n_dropped} dropped"
            for reason, count in self.sessions_dropped.most_common():
                lines.append(f"  dropped {count} sessions: {reason}")
        return "\n".join(lines)


class SessionList(list):
    """A list of :class:`Session` with the :class:`ExtractionStats` of the read.

    It behaves as a plain list everywhere (indexing, slicing, scikit-learn's
    splitters); ``stats`` tells what was read to make it.

    Parameters
    ----------
    sessions : iterable of Session, default=()
        The sessions.
    stats : ExtractionStats, default=None
        What the read that made them counted; empty statistics when None.

    Examples
    --------
    >>> from skfocal import SessionList
    >>> sessions = SessionList([])
    >>> len(sessions), sessions.stats.sessions
    (0, 0)
    """

    def __init__(self, sessions=(), stats=None):
        super().__init__(sessions)
        self.stats = stats if stats is not None else ExtractionStats()
