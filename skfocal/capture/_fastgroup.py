"""Grouping a batch of packet arrays into sessions, with numpy."""

from itertools import repeat

import numpy as np

from skfocal.capture._records import Packet
from skfocal.capture._state import (
    FIN_BOTH_WAYS,
    FIN_ONE_WAY,
    FIN_OTHER_WAY,
    RST_SEEN,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    TCP_SYN_ACK,
    address_text,
    new_session,
)

# Packet.__new__ fills defaults in Python; all eight fields are at hand.
_new_tuple = tuple.__new__

_HASH = np.uint64(0x9E3779B97F4A7C15)


class KeyCollision(Exception):
    """Two different session keys of a capture share one 64-bit digest.

    The fast path tells keys apart by their digests; the caller reads the
    capture on the general path instead, which compares whole keys.
    """


def batch_keys(batch, bidirectional, include_vlan):
    """The session key of every packet of a batch.

    Keys are rows of six 64-bit words: protocol, address width and VLAN
    index; the two endpoints' addresses (big-endian, so that comparing the
    words compares the packed addresses) and their ports. For a session,
    the endpoints come in the order :meth:`_Grouping.run` puts them in.
    Each key is known by a 64-bit digest of its row.

    Returns
    -------
    digests : ndarray of shape (n_keys,), dtype=uint64
        The distinct keys' digests, sorted.
    rows : ndarray of shape (n_keys, 6), dtype=uint64
        The distinct keys, in the order of ``digests``.
    key_ids : ndarray of shape (n_packets,)
        Each packet's index into ``digests``.
    order : ndarray of shape (n_packets,)
        The packets sorted by key, then in capture order.
    ways : ndarray of shape (n_packets,)
        The ``OpenSession.closing`` bit a FIN of each packet sets:
        ``FIN_ONE_WAY`` from the key's first endpoint, ``FIN_OTHER_WAY``
        from its second, ``FIN_BOTH_WAYS`` for a flow or a session between
        an endpoint and itself.

    Raises
    ------
    KeyCollision
        If two different keys of the batch have the same digest.
    """
    src = batch.src.view(">u8").astype(np.uint64)
    dst = batch.dst.view(">u8").astype(np.uint64)
    # Ports None (protocols other than TCP and UDP) order as 0, as in run().
    sport = np.maximum(batch.sport, 0).astype(np.uint64)
    dport = np.maximum(batch.dport, 0).astype(np.uint64)
    if bidirectional:
        same = (src[:, 0] == dst[:, 0]) & (src[:, 1] == dst[:, 1])
        swap = (src[:, 0] > dst[:, 0]) | (
            (src[:, 0] == dst[:, 0]) & (src[:, 1] > dst[:, 1])
        )
        swap |= same & (sport > dport)
        ways = np.where(swap, FIN_OTHER_WAY, FIN_ONE_WAY)
        ways[same & (sport == dport)] = FIN_BOTH_WAYS
        src, dst = np.where(swap[:, None], dst, src), np.where(swap[:, None], src, dst)
        sport, dport = np.where(swap, dport, sport), np.where(swap, sport, dport)

    else:
        ways = np.full(len(src), FIN_BOTH_WAYS)

    head = batch.protocol | batch.width << 8
    if include_vlan:
        head = head | batch.vlan << 16
    rows = np.empty((len(head), 6), dtype=np.uint64)
    rows[:, 0] = head
    rows[:, 1:3] = src
    rows[:, 3:5] = dst
    rows[:, 5] = sport << np.uint64(16) | dport

    digest = key_digests(rows)
    order = _stable_order(digest)
    ordered = digest[order]
    group_first = np.empty(len(order), dtype=bool)
    group_first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=group_first[1:])
    key_ids = np.empty(len(order), dtype=np.int64)
    key_ids[order] = np.cumsum(group_first) - 1
    first = order[group_first]
    if not np.array_equal(rows, rows[first][key_ids]):
        raise KeyCollision
    return ordered[group_first], rows[first], key_ids, order, ways


def _stable_order(digest):
    """The indices that sort ``digest``, ties in index order.

    Sorting 64-bit digests is much faster than sorting 48-byte rows, and
    sorting values faster than a stable argsort: each digest's low bits
    are replaced by its index, and the sorted values give the order. Two
    digests that differ in their low bits only come out interleaved; then
    the stable argsort is done after all.
    """
    n = len(digest)
    shift = np.uint64(max(n.bit_length(), 1))
    combined = digest >> shift << shift | np.arange(n, dtype=np.uint64)
    low = (np.uint64(1) << shift) - np.uint64(1)
    order = (np.sort(combined) & low).astype(np.int64)
    ordered = digest[order]
    if n > 1 and not (ordered[1:] >= ordered[:-1]).all():
        order = np.argsort(digest, kind="stable")
    return order


def key_digests(rows):
    """A 64-bit digest of each key row (multiply-xor over its six words)."""
    digest = rows[:, 0].copy()
    for column in range(1, 6):
        digest = (digest * _HASH) ^ rows[:, column]
    digest ^= digest >> np.uint64(29)
    return digest


def _closing_bits(flags, ways):
    """The ``OpenSession.closing`` bits each packet sets."""
    bits = np.where(flags & TCP_RST != 0, RST_SEEN, 0)
    return bits | np.where(flags & TCP_FIN != 0, ways, 0)


# The eight values of OpenSession.closing, and whether a SYN restarts each.
_STATES = np.arange(8, dtype=np.int8)
_RESTARTS = (_STATES & RST_SEEN != 0) | (_STATES & FIN_BOTH_WAYS == FIN_BOTH_WAYS)


def _splits(time, flags, bits, group_first, carried, sessions, options):
    """Where a packet starts a new session of a key that already had one.

    Packets come sorted by key, then capture order. ``carried`` holds, per
    key, the row in ``sessions`` of the session it had open before the
    batch (-1 if none).

    A gap above ``idle_timeout`` since the key's previous packet splits;
    so does a SYN without ACK when the session saw a RST, or a FIN both
    ways (see :func:`_restarts`).
    """
    n = len(time)
    has_state = carried >= 0
    rows = np.maximum(carried, 0)
    idle_timeout = options[2]
    if idle_timeout is None:
        idle = np.zeros(n, dtype=bool)
    else:
        previous = np.empty(n)
        previous[1:] = time[:-1]
        previous[group_first] = np.where(has_state, sessions.last_time[rows], np.nan)
        # NaN (no session yet) compares False: no split.
        with np.errstate(invalid="ignore"):
            idle = time - previous > idle_timeout

    syn = flags & TCP_SYN_ACK == TCP_SYN
    closing = np.where(has_state, sessions.closing[rows], 0)
    return idle | _restarts(syn, bits, idle, group_first, closing)


def _restarts(syn, bits, idle, group_first, closing):
    """Which SYNs find their session closed and start a new one.

    Whether a session is closed depends on where it started, which depends
    on the SYNs before: a state machine over ``OpenSession.closing``. Each
    packet maps the state before it to the state after it; these maps, as
    tables of eight entries, are composed by a parallel prefix scan (log2 n
    numpy steps) instead of a loop. Only packets that can change the state
    -- a key's first, idle splits, SYNs, FIN/RST -- take part; the others
    leave it as it is.
    """
    restart = np.zeros(len(syn), dtype=bool)
    events = np.flatnonzero(group_first | idle | syn | (bits != 0))
    if not syn.any():
        return restart
    event_syn = syn[events]
    event_bits = bits[events].astype(np.int8)[:, None]
    first = group_first[events]

    # The state after each event, from the state before it.
    kept = np.where(event_syn[:, None] & _RESTARTS, 0, _STATES).astype(np.int8)
    tables = kept | event_bits
    tables[idle[events]] = event_bits[idle[events]]
    # A key's first packet starts from its carried state, whatever came before.
    before_first = np.asarray(closing, dtype=np.int8)
    after_first = tables[np.flatnonzero(first), before_first]
    tables[first] = after_first[:, None]

    scan = tables
    step = 1
    while step < len(scan):
        # scan[k] becomes scan[k] after scan[k - step]: composed maps.
        head = scan[:step]
        tail = np.take_along_axis(scan[step:], scan[:-step], axis=1)
        scan = np.concatenate([head, tail])
        step *= 2
    # The first event is a key's first packet: every composed map is constant.
    before = np.empty(len(events), dtype=np.int8)
    before[1:] = scan[:-1, 0]
    before[first] = before_first
    restart[events] = event_syn & _RESTARTS[before] & ~idle[events]
    return restart


def group_batch(batch, keys, sessions, n_used, options):
    """Add one batch's packets to the sessions of ``sessions``.

    ``sessions`` is the capture's :class:`SessionArrays`: its open sessions
    take the packets of their keys, and a packet that starts a new session
    adds a row. The byte budget is applied to totals over all of a
    session's packets, kept or not: while the network total is below
    ``max_bytes`` every packet is kept, and after it only packets with
    payload are, while the payload total is below it; a packet left out
    then has no payload, or comes after the payload total reached the
    budget. Both give what run() keeps.
    """
    unit, max_bytes = options[:2]
    digests, key_rows, key_ids, order, ways = keys
    n = len(key_ids)
    sorted_ids = key_ids[order]
    group_first = np.empty(n, dtype=bool)
    group_first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=group_first[1:])

    # The keys' ids are 0..n_keys-1, so the k-th run of packets is key k.
    carried = sessions.find(digests, key_rows)
    time = batch.time[order]
    flags = batch.flags[order]
    bits = _closing_bits(flags, ways[order])
    if unit == "capture":
        split = np.zeros(n, dtype=bool)
    else:
        split = _splits(time, flags, bits, group_first, carried, sessions,
                        options)  # fmt: skip

    # Segments: runs of one session within the sorted packets. The first
    # segment of a key goes on with its open session, unless it splits.
    begins = group_first | split
    firsts = np.flatnonzero(begins)
    segment = np.cumsum(begins) - 1
    rows = carried[sorted_ids[firsts]]
    new = (rows < 0) | split[firsts]
    rows[new] = sessions.open(batch, order[firsts[new]], n_used, unit)

    end = batch.end[order]
    network = end - batch.network[order]
    payload = end - batch.payload[order]
    total_network = _segment_totals(network, firsts, segment,
                                    sessions.network_bytes[rows])  # fmt: skip
    total_payload = _segment_totals(payload, firsts, segment,
                                    sessions.payload_bytes[rows])  # fmt: skip
    keep = (total_network < max_bytes) | ((payload > 0) & (total_payload < max_bytes))

    # A batch's segments are distinct sessions: plain indexing adds up.
    sessions.n_packets[rows] += np.diff(firsts, append=n)
    sessions.n_bytes[rows] += np.add.reduceat(batch.size[order], firsts)
    sessions.network_bytes[rows] += np.add.reduceat(network, firsts)
    sessions.payload_bytes[rows] += np.add.reduceat(payload, firsts)
    sessions.closing[rows] |= np.bitwise_or.reduceat(bits, firsts)
    sessions.last_time[rows] = time[np.append(firsts[1:], n) - 1]
    # Each key's session is now that of its last segment.
    last = np.append(np.flatnonzero(group_first)[1:], n) - 1
    sessions.reopen(digests, key_rows, rows[segment[last]])

    _keep_packets(batch, order[keep], rows[segment[keep]], sessions.packets)


class SessionArrays:
    """The sessions of one capture on the fast path, a row each, as arrays.

    Rows are added as sessions start and never removed: a session that
    ends stays where it is. Each key seen has the row of its latest
    session, looked up by the key's digest in a sorted array (a dict of
    bytes keys costs more in Python than all the numpy work of a batch).
    :meth:`close` turns the rows into Sessions.
    """

    _INTEGERS = ("seq", "protocol", "width", "sport", "dport", "link_type",
                 "n_packets", "n_bytes", "network_bytes", "payload_bytes",
                 "closing")  # fmt: skip
    _FLOATS = ("first_time", "last_time")
    _ADDRESSES = ("src", "dst")

    def __init__(self):
        self.size = 0
        self.packets = []
        self._allocate(1024)
        # The keys seen, sorted by digest; each one's latest session.
        self.digests = np.zeros(0, dtype=np.uint64)
        self.keys = np.zeros((0, 6), dtype=np.uint64)
        self.latest = np.zeros(0, dtype=np.int64)

    def find(self, digests, keys):
        """The row of each key's latest session, -1 for a key not seen yet.

        Raises KeyCollision if a key has the digest of another one seen.
        """
        if not len(self.digests):
            return np.full(len(digests), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.digests, digests), len(self.digests) - 1)
        seen = self.digests[at] == digests
        if not np.array_equal(self.keys[at[seen]], keys[seen]):
            raise KeyCollision
        return np.where(seen, self.latest[at], -1)

    def reopen(self, digests, keys, rows):
        """Record ``rows`` as the latest sessions of the keys ``digests``."""
        at = np.searchsorted(self.digests, digests)
        inside = at < len(self.digests)
        seen = np.zeros(len(digests), dtype=bool)
        seen[inside] = self.digests[at[inside]] == digests[inside]
        self.latest[at[seen]] = rows[seen]
        fresh = ~seen
        if fresh.any():
            # Both are sorted: inserting at the search positions keeps order.
            where = at[fresh]
            self.digests = np.insert(self.digests, where, digests[fresh])
            self.keys = np.insert(self.keys, where, keys[fresh], axis=0)
            self.latest = np.insert(self.latest, where, rows[fresh])

    def _allocate(self, capacity):
        old, self.capacity = self.size, capacity
        for names, dtype, shape in ((self._INTEGERS, np.int64, ()),
                                    (self._FLOATS, np.float64, ()),
                                    (self._ADDRESSES, np.uint8, (16,))):  # fmt: skip
            for name in names:
                array = np.zeros((capacity, *shape), dtype=dtype)
                if old:
                    array[:old] = getattr(self, name)[:old]
                setattr(self, name, array)

    def open(self, batch, rows, n_used, unit):
        """Add a session for each packet of ``rows``, its first; their rows."""
        k = len(rows)
        start = self.size
        if start + k > self.capacity:
            self._allocate(max(2 * self.capacity, start + k))
        new = slice(start, start + k)
        self.size += k
        # A session's sequence number is its first packet's among those used.
        self.seq[new] = 0 if unit == "capture" else n_used + rows + 1
        self.first_time[new] = self.last_time[new] = batch.time[rows]
        self.link_type[new] = batch.link_type
        for name in ("protocol", "width", "sport", "dport", "src", "dst"):
            getattr(self, name)[new] = getattr(batch, name)[rows]
        self.packets.extend([] for _ in range(k))
        return np.arange(start, start + k)

    def close(self, capture, unit):
        """The Sessions, in order of first packet (then of first seen)."""
        size = self.size
        order = np.lexsort((self.seq[:size], self.first_time[:size]))
        first_time = self.first_time[order].tolist()
        n_packets = self.n_packets[order].tolist()
        n_bytes = self.n_bytes[order].tolist()
        link_type = self.link_type[order].tolist()
        packets = self.packets
        if unit == "capture":
            return [new_session(capture, None, None, None, None, None,
                                first_time[i], n_packets[i], n_bytes[i],
                                tuple(packets[row]), link_type[i])
                    for i, row in enumerate(order.tolist())]  # fmt: skip

        texts = {}
        width = self.width[order].tolist()
        protocol = self.protocol[order].tolist()
        sport = [None if port < 0 else port for port in self.sport[order].tolist()]
        dport = [None if port < 0 else port for port in self.dport[order].tolist()]
        src = self.src[order].tobytes()
        dst = self.dst[order].tobytes()
        found = []
        for i, row in enumerate(order.tolist()):
            a = src[16 * i : 16 * i + width[i]]
            b = dst[16 * i : 16 * i + width[i]]
            a_text = texts.get(a)
            if a_text is None:
                a_text = texts[a] = address_text(a)
            b_text = texts.get(b)
            if b_text is None:
                b_text = texts[b] = address_text(b)
            found.append(new_session(
                capture, protocol[i], a_text, sport[i], b_text, dport[i],
                first_time[i], n_packets[i], n_bytes[i], tuple(packets[row]),
                link_type[i],
            ))  # fmt: skip
        return found


def _segment_totals(values, firsts, segment, base):
    """Running totals of ``values`` before each packet, within its segment."""
    running = np.cumsum(values) - values
    return running - running[firsts][segment] + base[segment]


def _keep_packets(batch, rows, sessions, packet_lists):
    """Append the kept packets, in capture order, to their sessions' lists.

    ``sessions`` holds each kept packet's session row, in runs.
    """
    if not len(rows):
        return
    # Built column by column with map(), which runs in C: a Python loop per
    # kept packet would cost more than everything else on the fast path.
    start = batch.start[rows]
    datas = map(batch.chunk.__getitem__, map(slice, start.tolist(),
                                             (start + batch.end[rows]).tolist()))
    transport = batch.transport[rows]
    kind = batch.spans[rows]
    kinds = batch.kinds
    table = [kinds.get(index) for index in range(max(kinds) + 1)]
    spans = list(map(table.__getitem__, kind.tolist()))
    ports = {
        offset: ((offset, offset + 2), (offset + 2, offset + 4))
        for offset in np.unique(transport).tolist()
    }
    port_spans = list(map(ports.__getitem__, transport.tolist()))
    if batch.slow:
        for index in np.flatnonzero(kind == 0).tolist():
            spans[index], port_spans[index] = batch.slow[rows[index]]
    packets = list(map(_new_tuple, repeat(Packet), zip(
        batch.time[rows].tolist(), datas, batch.network[rows].tolist(),
        transport.tolist(), batch.payload[rows].tolist(), spans, port_spans,
        batch.wire[rows].tolist(),
    )))  # fmt: skip

    # Kept packets come sorted by session: hand each session its run.
    bounds = np.flatnonzero(np.diff(sessions)) + 1
    starts = [0, *bounds.tolist()]
    stops = [*bounds.tolist(), len(packets)]
    for row, first, stop in zip(sessions[starts].tolist(), starts, stops):
        packet_lists[row].extend(packets[first:stop])
