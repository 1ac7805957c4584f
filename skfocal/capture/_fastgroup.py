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
    OpenSession,
)

# Packet.__new__ fills defaults in Python; all eight fields are at hand.
_new_tuple = tuple.__new__

_HASH = np.uint64(0x9E3779B97F4A7C15)


def batch_keys(batch, bidirectional, include_vlan):
    """The session key of every packet of a batch.

    Keys are rows of six 64-bit words: protocol, address width and VLAN
    index; the two endpoints' addresses (big-endian, so that comparing the
    words compares the packed addresses) and their ports. For a session,
    the endpoints come in the order :meth:`_Grouping.run` puts them in.

    Returns
    -------
    keys : list of bytes
        The distinct keys, as bytes for the table of open sessions.
    key_ids : ndarray of shape (n_packets,)
        Each packet's index into ``keys``.
    ways : ndarray of shape (n_packets,)
        The ``OpenSession.closing`` bit a FIN of each packet sets:
        ``FIN_ONE_WAY`` from the key's first endpoint, ``FIN_OTHER_WAY``
        from its second, ``FIN_BOTH_WAYS`` for a flow or a session between
        an endpoint and itself.
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

    # Sorting 64-bit hashes is much faster than sorting 48-byte rows; a
    # collision is caught by the comparison below and sorts the rows then.
    digest = rows[:, 0].copy()
    for column in range(1, 6):
        digest = (digest * _HASH) ^ rows[:, column]
    digest ^= digest >> np.uint64(29)
    _, first, key_ids = np.unique(digest, return_index=True, return_inverse=True)
    if not np.array_equal(rows, rows[first][key_ids]):
        _, first, key_ids = np.unique(
            rows, axis=0, return_index=True, return_inverse=True
        )
    key_ids = key_ids.ravel()
    data = rows[first].tobytes()
    keys = [data[start : start + 48] for start in range(0, len(data), 48)]
    return keys, key_ids, ways


def _closing_bits(flags, ways):
    """The ``OpenSession.closing`` bits each packet sets."""
    bits = np.where(flags & TCP_RST != 0, RST_SEEN, 0)
    return bits | np.where(flags & TCP_FIN != 0, ways, 0)


# The eight values of OpenSession.closing, and whether a SYN restarts each.
_STATES = np.arange(8, dtype=np.int8)
_RESTARTS = (_STATES & RST_SEEN != 0) | (_STATES & FIN_BOTH_WAYS == FIN_BOTH_WAYS)


def _splits(time, flags, bits, group_first, carried, options):
    """Where a packet starts a new session of a key that already had one.

    Packets come sorted by key, then capture order. ``carried`` holds, per
    packet, the open session its key had before the batch (None if none)
    -- only read at the first packet of each key.

    A gap above ``idle_timeout`` since the key's previous packet splits;
    so does a SYN without ACK when the session saw a RST, or a FIN both
    ways (see :func:`_restarts`).
    """
    n = len(time)
    has_state = np.array([state is not None for state in carried], dtype=bool)

    previous = np.empty(n)
    previous[1:] = time[:-1]
    previous[group_first] = [
        state.last_time if state is not None else np.nan for state in carried
    ]
    idle_timeout = options[2]
    if idle_timeout is None:
        idle = np.zeros(n, dtype=bool)
    else:
        # NaN (no session yet) compares False: no split.
        with np.errstate(invalid="ignore"):
            idle = time - previous > idle_timeout

    syn = flags & TCP_SYN_ACK == TCP_SYN
    closing = [0 if state is None else state.closing for state in carried]
    return idle | _restarts(syn, bits, idle, group_first, closing), has_state


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


def group_batch(batch, keys, key_ids, ways, table, closed, n_used, options,
                link_type, kinds):  # fmt: skip
    """Add one batch's packets to the open sessions in ``table``.

    Sessions that end inside the batch go to ``closed``. The byte budget
    is applied to totals over all of a session's packets, kept or not:
    while the network total is below ``max_bytes`` every packet is kept,
    and after it only packets with payload are, while the payload total is
    below it; a packet left out then has no payload, or comes after the
    payload total reached the budget. Both give what run() keeps.
    """
    unit, max_bytes = options[:2]
    n = len(key_ids)
    order = np.argsort(key_ids, kind="stable")
    sorted_ids = key_ids[order]
    group_first = np.empty(n, dtype=bool)
    group_first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=group_first[1:])

    states = [table.get(key) for key in keys]
    carried = [states[key] for key in sorted_ids[group_first].tolist()]
    time = batch.time[order]
    flags = batch.flags[order]
    bits = _closing_bits(flags, ways[order])
    if unit == "capture":
        split = np.zeros(n, dtype=bool)
        has_state = np.array([carried[0] is not None])
    else:
        split, has_state = _splits(time, flags, bits, group_first, carried,
                                   options)  # fmt: skip

    # Segments: runs of one session within the sorted packets.
    begins = group_first | split
    firsts = np.flatnonzero(begins)
    segment = np.cumsum(begins) - 1
    continued = np.zeros(n, dtype=bool)
    continued[group_first] = has_state
    continued = continued[firsts] & ~split[firsts]

    end = batch.end[order]
    network = end - batch.network[order]
    payload = end - batch.payload[order]
    base_network = np.zeros(len(firsts), dtype=np.int64)
    base_payload = np.zeros(len(firsts), dtype=np.int64)
    for index in np.flatnonzero(continued).tolist():
        state = states[sorted_ids[firsts[index]]]
        base_network[index] = state.network_bytes
        base_payload[index] = state.payload_bytes
    total_network = _segment_totals(network, firsts, segment, base_network)
    total_payload = _segment_totals(payload, firsts, segment, base_payload)
    keep = (total_network < max_bytes) | ((payload > 0) & (total_payload < max_bytes))

    # Per segment: counts and sums for the session, then its state.
    counts = np.diff(firsts, append=n).tolist()
    sizes = np.add.reduceat(batch.size[order], firsts).tolist()
    networks = np.add.reduceat(network, firsts).tolist()
    payloads = np.add.reduceat(payload, firsts).tolist()
    finished = np.bitwise_or.reduceat(bits, firsts).tolist()
    lasts = time[np.append(firsts[1:], n) - 1].tolist()
    rows = order[firsts]
    segment_states = []
    fields = _first_fields(batch, rows, unit)
    for index, key in enumerate(sorted_ids[firsts].tolist()):
        if continued[index]:
            state = states[key]
        else:
            if states[key] is not None:
                closed.append(states[key])
            state = states[key] = _open(fields, index, n_used, link_type, unit)
        state.n_packets += counts[index]
        state.n_bytes += sizes[index]
        state.last_time = lasts[index]
        state.network_bytes += networks[index]
        state.payload_bytes += payloads[index]
        state.closing |= finished[index]
        segment_states.append(state.packets)
    for key, state in zip(keys, states):
        table[key] = state

    _keep_packets(batch, order[keep], segment[keep], segment_states, kinds)


def _segment_totals(values, firsts, segment, base):
    """Running totals of ``values`` before each packet, within its segment."""
    running = np.cumsum(values) - values
    return running - running[firsts][segment] + base[segment]


def _first_fields(batch, rows, unit):
    """What a new session takes from its first packet, as Python values."""
    if unit == "capture":
        return None, batch.time[rows].tolist(), rows.tolist()
    width = batch.width[rows].tolist()
    src = batch.src[rows].tobytes()
    dst = batch.dst[rows].tobytes()
    src = [src[16 * i : 16 * i + w] for i, w in enumerate(width)]
    dst = [dst[16 * i : 16 * i + w] for i, w in enumerate(width)]
    ports = [
        [None if port < 0 else port for port in batch.sport[rows].tolist()],
        [None if port < 0 else port for port in batch.dport[rows].tolist()],
    ]
    protocol = batch.protocol[rows].tolist()
    return (protocol, src, dst, ports), batch.time[rows].tolist(), rows.tolist()


def _open(fields, index, n_used, link_type, unit):
    keyed, times, rows = fields
    seq = n_used + rows[index] + 1
    if unit == "capture":
        return OpenSession(0, None, None, None, None, None, link_type, times[index])
    protocol, src, dst, (sport, dport) = keyed
    return OpenSession(seq, protocol[index], src[index], sport[index], dst[index],
                       dport[index], link_type, times[index])  # fmt: skip


def _keep_packets(batch, rows, segments, packet_lists, kinds):
    """Append the kept packets, in capture order, to their sessions' lists."""
    if not len(rows):
        return
    # Built column by column with map(), which runs in C: a Python loop per
    # kept packet would cost more than everything else on the fast path.
    start = batch.start[rows]
    datas = map(batch.chunk.__getitem__, map(slice, start.tolist(),
                                             (start + batch.end[rows]).tolist()))
    transport = batch.transport[rows]
    kind = batch.spans[rows]
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
    bounds = np.flatnonzero(np.diff(segments)) + 1
    starts = [0, *bounds.tolist()]
    stops = [*bounds.tolist(), len(packets)]
    for segment, first, stop in zip(segments[starts].tolist(), starts, stops):
        packet_lists[segment].extend(packets[first:stop])
