"""Open sessions: what a session carries while its packets arrive."""

import socket

from skfocal.capture._records import Packet, Session

TCP_FIN = 0x01
TCP_RST = 0x04
TCP_FIN_RST = 0x05
TCP_SYN_ACK = 0x12
TCP_SYN = 0x02

# What an open session saw of its end, as bits of ``OpenSession.closing``:
# a FIN from either endpoint (which is which is the grouping's business, so
# long as it stays the same within a session) and a RST from any. A SYN
# without ACK starts a new session once RST_SEEN or both FIN bits are set.
FIN_ONE_WAY = 0x01
FIN_OTHER_WAY = 0x02
FIN_BOTH_WAYS = 0x03
RST_SEEN = 0x04


def restarts(closing):
    """Whether a SYN without ACK starts a new session after ``closing``."""
    return closing & RST_SEEN or closing & FIN_BOTH_WAYS == FIN_BOTH_WAYS


class OpenSession:
    """A session still taking packets: counts, budgets and kept packets."""

    __slots__ = (
        "seq",
        "protocol",
        "src",
        "sport",
        "dst",
        "dport",
        "link_type",
        "first_time",
        "last_time",
        "n_packets",
        "n_bytes",
        "packets",
        "link_bytes",
        "network_bytes",
        "payload_bytes",
        "closing",
    )

    def __init__(self, seq, protocol, src, sport, dst, dport, link_type, time):
        self.seq = seq
        self.protocol = protocol
        self.src = src
        self.sport = sport
        self.dst = dst
        self.dport = dport
        self.link_type = link_type
        self.first_time = time
        self.last_time = time
        self.n_packets = 0
        self.n_bytes = 0
        self.packets = []
        self.link_bytes = 0
        self.network_bytes = 0
        self.payload_bytes = 0
        # FIN and RST bits seen (see RST_SEEN): with a RST, or a FIN both
        # ways, a fresh SYN opens a new session.
        self.closing = 0

    def close(self, capture, texts):
        """The Session; ``texts`` caches address texts across sessions."""
        src = texts.get(self.src)
        if src is None:
            src = texts[self.src] = address_text(self.src)
        dst = texts.get(self.dst)
        if dst is None:
            dst = texts[self.dst] = address_text(self.dst)

        return new_session(capture, self.protocol, src, self.sport, dst, self.dport,
                           self.first_time, self.n_packets, self.n_bytes,
                           tuple(self.packets), self.link_type)  # fmt: skip


def new_session(capture, protocol, src, sport, dst, dport, first_time, n_packets,
                n_bytes, packets, link_type):  # fmt: skip
    """A Session from all its fields, in order.

    A frozen dataclass sets each field through ``object.__setattr__``,
    which costs more than reading the session did; the instance gets its
    dict whole instead. test_fastpath checks it equals ``Session(...)``.
    """
    session = _new_session(Session)
    _set_attribute(session, "__dict__", {
        "capture": capture,
        "protocol": protocol,
        "src": src,
        "sport": sport,
        "dst": dst,
        "dport": dport,
        "first_time": first_time,
        "n_packets": n_packets,
        "n_bytes": n_bytes,
        "packets": packets,
        "link_type": link_type,
    })  # fmt: skip
    return session


_new_session = object.__new__
_set_attribute = object.__setattr__


def address_text(packed):
    if packed is None:
        return None
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, packed)


def new_packet(fields):
    """A Packet from its eight fields, in order.

    ``Packet(...)`` fills defaults and checks the arguments; the readers
    always pass all eight, and this costs half as much per kept packet.
    """
    return _new_tuple(Packet, fields)


_new_tuple = tuple.__new__
