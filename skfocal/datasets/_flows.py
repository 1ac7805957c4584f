"""Label sessions from a flow table such as nDPI's verdicts (flows.csv)."""

import csv
import ipaddress
import os
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from skfocal.capture import SessionList, read_sessions

__all__ = ["LabellingReport", "label_sessions", "load_labelled_captures"]

_TRANSPORTS = {"TCP": 6, "UDP": 17}
_REQUIRED = ("pcap", "transport", "src", "sport", "dst", "dport")


@dataclass
class LabellingReport:
    """How a flow table was joined to sessions.

    Attributes
    ----------
    rows : int
        Rows of the table that belong to the captures that were read.
    rows_matched : int
        Of those, rows matched to at least one session.
    sessions_labelled : int
        Sessions that received a label.
    sessions_unlabelled : int
        Sessions no row matched; they are left out of ``X``.
    ambiguous : int
        Endpoint pairs listed more than once with different labels (a reused
        port): their sessions were paired with the rows in time order.
    unmatched_rows : list of dict
        The rows no session matched, for inspection.
    rows_elsewhere : int
        Rows naming a capture none of the sessions came from (a capture
        not read, or read without any session); not counted in ``rows``.
    rows_other_transport : int
        Rows of those captures whose transport is neither TCP nor UDP; not
        counted in ``rows``.

    Examples
    --------
    >>> report = LabellingReport(rows=4, rows_matched=3, sessions_labelled=3)
    >>> report.match_rate
    0.75
    """

    rows: int = 0
    rows_matched: int = 0
    sessions_labelled: int = 0
    sessions_unlabelled: int = 0
    ambiguous: int = 0
    unmatched_rows: list = field(default_factory=list, repr=False)
    rows_elsewhere: int = 0
    rows_other_transport: int = 0

    @property
    def match_rate(self):
        """Fraction of the table's rows matched to a session."""
        return self.rows_matched / self.rows if self.rows else 0.0

    def summary(self):
        """One paragraph in the user's words."""
        return (
            f"{self.rows_matched} of {self.rows} labelled flows matched to a "
            f"session ({100 * self.match_rate:.1f}%); {self.sessions_labelled} "
            f"sessions labelled, {self.sessions_unlabelled} left out without a "
            f"label; {self.ambiguous} ambiguous endpoint pairs; not counted: "
            f"{self.rows_elsewhere} rows of captures that gave no session, "
            f"{self.rows_other_transport} rows of other transports"
        )


def _address(text):
    # nDPI and our reader may print one IPv6 address differently.
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return text.strip()


def _key(capture, protocol, a, a_port, b, b_port):
    ends = frozenset([(_address(a), int(a_port)), (_address(b), int(b_port))])
    return (os.path.basename(capture), protocol, ends)


def _read_table(flows, label_column):
    try:
        with open(flows, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in (*_REQUIRED, label_column) if c not in columns]
            if missing:
                raise ValueError(
                    f"The flow table {os.fspath(flows)!r} lacks the columns "
                    f"{missing}; it needs {list(_REQUIRED)} and the label "
                    f"column. Received columns: {columns}"
                )
            return list(reader)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"The flow table {os.fspath(flows)!r} is not UTF-8 text; a CSV "
            f"file is accepted. Received a byte {exc.object[exc.start]:#04x} "
            f"at position {exc.start} that UTF-8 does not allow there."
        ) from None


def label_sessions(sessions, flows, *, label_column="category"):
    """Join sessions to a table of labelled flows.

    A session matches a row when the capture file name, the transport and
    the unordered pair of endpoints (address, port) agree. Where one pair is
    listed several times in a capture (a reused port) and the labels
    disagree, sessions and rows are paired in time order and the pair is
    counted as ambiguous.

    Parameters
    ----------
    sessions : sequence of Session
        Sessions from :func:`skfocal.read_sessions`.
    flows : path-like
        A CSV file with the columns ``pcap, transport, src, sport, dst,
        dport`` and ``label_column``, like ``ndpi-pcaps/flows.csv``.
    label_column : str, default='category'
        The column holding the labels.

    Returns
    -------
    X : SessionList
        The labelled sessions, in their original order. ``X.stats`` is the
        extraction's statistics (when ``sessions`` had them) and
        ``X.labelling`` a :class:`LabellingReport`.
    y : ndarray of shape (n_sessions,), dtype=object
        The labels.
    groups : ndarray of shape (n_sessions,), dtype=object
        The capture file of each session, for grouped splits.

    Examples
    --------
    >>> import os, tempfile
    >>> from skfocal import Session
    >>> table = os.path.join(tempfile.mkdtemp(), "flows.csv")
    >>> with open(table, "w") as f:
    ...     _ = f.write("pcap,transport,src,sport,dst,dport,category\\n"
    ...                 "a.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,Web\\n")
    >>> session = Session("a.pcap", 6, "10.0.0.2", 80, "10.0.0.1", 1000,
    ...                   0.0, 3, 180)
    >>> X, y, groups = label_sessions([session], table)
    >>> list(y), list(groups), X.labelling.rows_matched
    (['Web'], ['a.pcap'], 1)
    """
    rows = _read_table(flows, label_column)
    captures = {os.path.basename(s.capture) for s in sessions}
    by_key = defaultdict(list)
    report = LabellingReport()
    for row in rows:
        if row["pcap"] not in captures:
            report.rows_elsewhere += 1
            continue
        protocol = _TRANSPORTS.get(row["transport"].strip().upper())
        if protocol is None:
            report.rows_other_transport += 1
            continue
        report.rows += 1
        key = _key(row["pcap"], protocol, row["src"], row["sport"],
                   row["dst"], row["dport"])
        by_key[key].append(row)

    sessions_by_key = defaultdict(list)
    for index, session in enumerate(sessions):
        if session.protocol in (6, 17) and session.sport is not None:
            key = _key(session.capture, session.protocol, session.src,
                       session.sport, session.dst, session.dport)
            sessions_by_key[key].append(index)

    labels = {}
    for key, key_rows in by_key.items():
        indices = sorted(sessions_by_key.get(key, ()),
                         key=lambda i: sessions[i].first_time)
        if not indices:
            report.unmatched_rows.extend(key_rows)
            continue
        values = {row[label_column] for row in key_rows}
        if len(values) == 1:
            value = values.pop()
            labels.update({i: value for i in indices})
            report.rows_matched += len(key_rows)
            continue
        report.ambiguous += 1
        for i, row in zip(indices, key_rows):
            labels[i] = row[label_column]
            report.rows_matched += 1
        report.unmatched_rows.extend(key_rows[len(indices):])

    kept = sorted(labels)
    report.sessions_labelled = len(kept)
    report.sessions_unlabelled = len(sessions) - len(kept)
    X = SessionList([sessions[i] for i in kept],
                    getattr(sessions, "stats", None))
    X.labelling = report
    y = np.asarray([labels[i] for i in kept], dtype=object)
    groups = np.asarray([sessions[i].capture for i in kept], dtype=object)
    return X, y, groups


def load_labelled_captures(paths, flows, *, label_column="category", **kwargs):
    """Read captures and label their sessions from a flow table.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        Capture files or folders of them.
    flows : path-like
        The flow table; see :func:`label_sessions`.
    label_column : str, default='category'
        The column holding the labels.
    **kwargs : dict
        Passed to :func:`skfocal.read_sessions` (``unit``, ``max_bytes``,
        ...).

    Returns
    -------
    X : SessionList
        The labelled sessions; ``X.stats`` and ``X.labelling`` tell what was
        read, skipped and matched.
    y : ndarray of shape (n_sessions,), dtype=object
        The labels.
    groups : ndarray of shape (n_sessions,), dtype=object
        The capture file of each session.

    Examples
    --------
    >>> from skfocal.datasets import load_labelled_captures
    >>> X, y, groups = load_labelled_captures(
    ...     "ndpi-pcaps/pcap", "ndpi-pcaps/flows.csv")  # doctest: +SKIP
    """
    sessions = read_sessions(paths, **kwargs)
    return label_sessions(sessions, flows, label_column=label_column)
