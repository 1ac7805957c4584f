"""Grouping one capture's packets into sessions under a byte budget."""

import contextlib
import gc
import logging
import math
import operator
from collections import Counter

import numpy as np

from skfocal.capture._errors import CaptureError
from skfocal.capture._fastgroup import SessionArrays, batch_keys, group_batch
from skfocal.capture._headers import NOT_TCP_UDP, TCP, UDP, parse_network
from skfocal.capture._linktypes import LINK_TYPES, network_layer
from skfocal.capture._records import ExtractionStats
from skfocal.capture._state import (
    FIN_BOTH_WAYS,
    FIN_ONE_WAY,
    FIN_OTHER_WAY,
    RST_SEEN,
    TCP_FIN,
    TCP_FIN_RST,
    TCP_RST,
    TCP_SYN,
    TCP_SYN_ACK,
    OpenSession,
    new_packet,
    restarts,
)

logger = logging.getLogger("skfocal")


def _closing_bits(state, flags, src, sport, dst, dport, bidirectional):
    """The ``OpenSession.closing`` bits a packet with FIN or RST sets."""
    bits = RST_SEEN if flags & TCP_RST else 0
    if flags & TCP_FIN:
        if not bidirectional or (src == dst and sport == dport):
            # A flow sees one direction only, whose FIN ends it; a session
            # between an endpoint and itself cannot tell the two apart.
            bits |= FIN_BOTH_WAYS
        elif src == state.src and sport == state.sport:
            bits |= FIN_ONE_WAY
        else:
            bits |= FIN_OTHER_WAY
    return bits


class _Grouping:
    """The sessions of one capture, grouped as its records are read.

    Parameters
    ----------
    capture : str
        The capture's path, as the sessions will name it.
    options : tuple
        ``(unit, max_bytes, idle_timeout, include_vlan, keep_other, tunnels)``
        as checked by :func:`read_sessions`.

    Attributes
    ----------
    sessions : list of Session
        Filled by :meth:`run`, ordered by first packet time.
    error : CaptureError or None
        The truncation or corruption that ended the reading early.
    stats : ExtractionStats
        The packet counts of this capture.
    unknown_links : collections.Counter
        Packets skipped per link type that is not read.
    oversized : int
        Packets with more captured bytes than their wire length.
    on_packet : callable or None
        Called by :meth:`run` with the open session of each packet used,
        right after the packet was added to it.
    """

    def __init__(self, capture, options):
        self.capture = capture
        self.options = options
        self.sessions = []
        self.error = None
        self.stats = ExtractionStats()
        self.unknown_links = Counter()
        self.skipped = Counter()
        self.oversized = 0
        self.on_packet = None
        self.notes = []

    def run(self, reader):
        """Read every record of ``reader``; keep any CaptureError in ``error``."""
        capture = self.capture
        unit, max_bytes, idle_timeout, include_vlan, keep_other, tunnels = (
            self.options
        )
        by_capture = unit == "capture"
        bidirectional = unit == "session"
        debug = logger.isEnabledFor(logging.DEBUG)
        on_packet = self.on_packet

        # The loop keeps its state in locals: attribute look-ups per packet
        # cost more than the parsing they would serve.
        table = {}
        closed = []
        skipped = self.skipped
        unknown_links = self.unknown_links
        oversized = n_read = n_used = 0
        whole = None

        try:
            for link_type, time, data, wire_length in reader:
                n_read += 1
                size = len(data)
                if size > wire_length:
                    oversized += 1

                layer = network_layer(link_type, data)
                if layer.__class__ is str:
                    if link_type in LINK_TYPES:
                        skipped[layer] += 1
                    else:
                        unknown_links[link_type] += 1
                    if debug:
                        logger.debug(
                            "%s: packet %d skipped: %s", capture, n_read, layer
                        )
                    continue
                network_offset, network, vlan, link_spans = layer

                header = parse_network(data, network_offset, network, tunnels)
                if header.__class__ is str:
                    skipped[header] += 1
                    if debug:
                        logger.debug(
                            "%s: packet %d skipped: %s", capture, n_read, header
                        )
                    continue
                (protocol, src, dst, sport, dport, transport_offset, payload_offset,
                 end, flags, ip_spans, port_spans) = header  # fmt: skip
                if protocol != TCP and protocol != UDP and not keep_other:
                    skipped[NOT_TCP_UDP] += 1
                    if debug:
                        logger.debug(
                            "%s: packet %d skipped: %s", capture, n_read, NOT_TCP_UDP
                        )
                    continue
                n_used += 1

                if by_capture:
                    state = whole
                    if state is None:
                        state = whole = OpenSession(
                            0, None, None, None, None, None, link_type, time
                        )
                else:
                    if not bidirectional:
                        key = (protocol, src, sport, dst, dport)
                    elif src < dst or (src == dst and (sport or 0) <= (dport or 0)):
                        key = (protocol, src, sport, dst, dport)
                    else:
                        key = (protocol, dst, dport, src, sport)
                    if include_vlan:
                        key += (vlan,)

                    state = table.get(key)
                    if state is not None and (
                        (
                            idle_timeout is not None
                            and time - state.last_time > idle_timeout
                        )
                        or (
                            flags & TCP_SYN_ACK == TCP_SYN
                            and restarts(state.closing)
                        )
                    ):
                        closed.append(state)
                        state = None
                    if state is None:
                        state = table[key] = OpenSession(
                            n_used, protocol, src, sport, dst, dport, link_type, time
                        )
                    if flags & TCP_FIN_RST:
                        state.closing |= _closing_bits(
                            state, flags, src, sport, dst, dport, bidirectional
                        )

                state.n_packets += 1
                state.n_bytes += size
                state.last_time = time
                if on_packet is not None:
                    on_packet(state)

                # Keep the packet while it can still add bytes to an image of
                # any layer; a packet without payload adds nothing to a payload
                # image, which keeps long runs of bare ACKs out of memory.
                payload_size = end - payload_offset
                if (
                    state.link_bytes < max_bytes
                    or state.network_bytes < max_bytes
                    or (payload_size and state.payload_bytes < max_bytes)
                ):
                    state.packets.append(
                        new_packet((
                            time,
                            data if end == size else data[:end],
                            network_offset,
                            transport_offset,
                            payload_offset,
                            link_spans + ip_spans,
                            port_spans,
                            wire_length,
                        ))
                    )  # fmt: skip
                    state.link_bytes += end
                    state.network_bytes += end - network_offset
                    state.payload_bytes += payload_size
        except CaptureError as exc:
            self.error = exc

        # Records the reader read but could not hand on: counted here too.
        if reader.skipped:
            n_read += reader.skipped.total()
            skipped.update(reader.skipped)
            self.notes.extend(reader.notes)

        if whole is not None:
            closed.append(whole)
        return self._finish(self._close(closed + list(table.values())), n_read,
                            n_used, skipped, oversized)  # fmt: skip

    def _close(self, opened):
        """Close the open sessions ``opened``, in order of first packet."""
        if self.options[0] == "capture" and not opened:
            # A readable capture always gives its sample, so that captures and
            # labels stay aligned; an empty one has no first time.
            opened = [OpenSession(0, None, None, None, None, None, 1, math.nan)]
        opened.sort(key=_session_order)
        texts = {None: None}
        return [state.close(self.capture, texts) for state in opened]

    def _finish(self, sessions, n_read, n_used, skipped, oversized):
        """Keep the sessions; fill the stats."""
        self.sessions = sessions
        stats = self.stats
        stats.packets_read = n_read
        stats.packets_used = n_used
        for link, count in self.unknown_links.items():
            skipped[f"link type {link}"] += count
        stats.packets_skipped = skipped
        stats.sessions = len(self.sessions)
        self.oversized = oversized
        return self

    def run_batches(self, batches):
        """Group the batches of a :class:`PacketBatches` into sessions.

        The same sessions as :meth:`run` over the same records, computed a
        batch at a time with numpy: keys, idle and TCP restart splits, byte
        budgets and the sessions' counts are arrays; Python touches each
        new session and each kept packet, not each packet.
        """
        unit, max_bytes, idle_timeout, include_vlan = self.options[:4]
        sessions = SessionArrays()
        n_used = 0
        for batch in batches:
            n = len(batch.time)
            if not n:
                continue
            if unit == "capture":
                # One key for the whole capture.
                keys = (np.zeros(1, dtype=np.uint64), np.zeros((1, 6), np.uint64),
                        np.zeros(n, dtype=np.int64), np.arange(n),
                        np.full(n, FIN_BOTH_WAYS))  # fmt: skip
            else:
                keys = batch_keys(batch, unit == "session", include_vlan)
            group_batch(batch, keys, sessions, n_used, self.options)
            n_used += n

        self.error = batches.error
        self.notes.extend(batches.notes)
        if sessions.size:
            found = sessions.close(self.capture, unit)
        else:
            found = self._close([])
        return self._finish(found, batches.n_read, n_used, batches.skipped,
                            batches.oversized)  # fmt: skip


_session_order = operator.attrgetter("first_time", "seq")


@contextlib.contextmanager
def _collection_paused():
    """Pause the cyclic garbage collector while a capture is grouped.

    Grouping allocates a few containers per packet kept (Packet, spans,
    Session) and none of them form cycles; the collector's passes over the
    ever larger heap would otherwise take about half of the reading time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
