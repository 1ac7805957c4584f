"""Figures: confusion matrices, per-class scores, a session as its image."""

import math

import numpy as np

__all__ = [
    "plot_class_scores",
    "plot_confusion_matrix",
    "plot_session_image",
    "session_regions",
]

# Byte regions of a session image, in the order they appear in a packet.
REGION_KINDS = ("link", "network", "transport", "payload", "padding")
_REGION_COLORS = {
    "link": "#1f77b4",
    "network": "#2ca02c",
    "transport": "#ff7f0e",
    "payload": "#d62728",
    "padding": "#7f7f7f",
}
_METRIC_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1"}


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def plot_confusion_matrix(y_true, y_pred, *, labels=None, ax=None, title=None):
    """Draw a confusion matrix: counts written, colours row-normalised.

    Each cell shows how many samples of the true class (row) were predicted
    as the class of its column. The colour is the count divided by the
    row's total, so a rare class's row is as visible as a large one's: its
    diagonal cell is that class's recall.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        The classes, in the order of rows and columns; by default the sorted
        union of ``y_true`` and ``y_pred``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    See Also
    --------
    skfocal.reports.class_report : The same predictions as a table.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfocal.plotting import plot_confusion_matrix
    >>> ax = plot_confusion_matrix(["a", "a", "b"], ["a", "b", "b"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = np.asarray(labels)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)

    n = len(labels)
    side = max(4.0, 0.55 * n + 2.0)
    ax = _new_axes(ax, (side + 1.0, side))
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                       label="fraction of the true class")
    size = 9 if n <= 10 else max(5, 9 - (n - 10) // 3)
    for i in range(n):
        for j in range(n):
            if counts[i, j] or i == j:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                        fontsize=size,
                        color="white" if fractions[i, j] > 0.6 else "black")
    names = [str(label) for label in labels]
    ax.set_xticks(range(n), names, rotation=45, ha="right",
                  rotation_mode="anchor", fontsize=size)
    ax.set_yticks(range(n), names, fontsize=size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return ax


def _as_reports(reports):
    """Accept {name: class_report} or compare()'s list of results."""
    if isinstance(reports, dict) and "classes" in reports:
        return {"": reports}
    if isinstance(reports, dict):
        return dict(reports)
    return {result["setting"]: result["report"] for result in reports}


def plot_class_scores(reports, *, metrics=("precision", "recall", "f1"),
                      axes=None):
    """Draw per-class scores as grouped bars, one bar per setting.

    One panel per metric; in each, the classes along the x axis (with their
    test support), and for every class one bar per setting, so that the
    settings can be compared class by class -- the small classes first of
    all.

    Parameters
    ----------
    reports : dict or list of dict
        Either ``{setting name: report}`` with reports from
        :func:`skfocal.reports.class_report`, a single such report, or the
        ``'results'`` list of :func:`skfocal.comparison.compare`.
    metrics : sequence of {'precision', 'recall', 'f1'}, \
            default=('precision', 'recall', 'f1')
        The scores to draw, one panel each.
    axes : sequence of matplotlib.axes.Axes, default=None
        One axes per metric; a new figure when None.

    Returns
    -------
    axes : list of matplotlib.axes.Axes
        The axes drawn on, one per metric.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfocal.plotting import plot_class_scores
    >>> from skfocal.reports import class_report
    >>> reports = {
    ...     "cross-entropy": class_report(["a", "a", "b"], ["a", "a", "a"]),
    ...     "focal": class_report(["a", "a", "b"], ["a", "b", "b"]),
    ... }
    >>> axes = plot_class_scores(reports, metrics=["recall", "f1"])
    >>> len(axes), len(axes[0].patches)
    (2, 4)
    """
    unknown = [m for m in metrics if m not in _METRIC_NAMES]
    if unknown or not len(metrics):
        raise ValueError(
            f"metrics must be a non-empty subset of {list(_METRIC_NAMES)}. "
            f"Received: metrics={list(metrics)!r}"
        )
    reports = _as_reports(reports)
    classes = list(next(iter(reports.values()))["classes"])
    support = next(iter(reports.values()))["classes"]

    if axes is None:
        import matplotlib.pyplot as plt

        width = max(6.0, 0.45 * len(classes) * max(len(reports), 2) + 2.0)
        fig, axes = plt.subplots(len(metrics), 1, squeeze=False, sharex=True,
                                 figsize=(width, 2.6 * len(metrics) + 1.2),
                                 layout="constrained")
        axes = list(axes[:, 0])
    axes = list(axes)
    if len(axes) != len(metrics):
        raise ValueError(
            f"axes must hold one axes per metric ({len(metrics)}). "
            f"Received {len(axes)} axes."
        )

    x = np.arange(len(classes))
    bar = 0.8 / len(reports)
    for ax, metric in zip(axes, metrics):
        for k, (name, report) in enumerate(reports.items()):
            values = [report["classes"].get(c, {}).get(metric, 0.0)
                      for c in classes]
            ax.bar(x - 0.4 + bar * (k + 0.5), values, bar, label=name or None)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(_METRIC_NAMES[metric])
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    names = [f"{c}\n({support[c]['support']})" for c in classes]
    axes[-1].set_xticks(x, names, rotation=45 if len(classes) > 6 else 0,
                        ha="right" if len(classes) > 6 else "center",
                        fontsize=8)
    axes[-1].set_xlabel("class (test support)")
    if len(reports) > 1 or next(iter(reports)):
        axes[0].legend(fontsize=8, ncols=min(len(reports), 4),
                       loc="lower left", bbox_to_anchor=(0, 1.02),
                       frameon=False)
    return axes


def session_regions(session, *, layers="all", n_bytes=784):
    """Where each packet's headers and payload land in a session's image.

    Follows :class:`~skfocal.PcapImageTransformer`: the packets'
    bytes are concatenated in capture order from the point ``layers``
    chooses, cut at ``n_bytes``; the rest of the row is zero padding.

    Parameters
    ----------
    session : Session
        A session from :func:`skfocal.read_sessions`.
    layers : {'l7', 'ip', 'all'}, default='all'
        Where each packet's bytes start, as in the transformer.
    n_bytes : int, default=784
        Length of the row.

    Returns
    -------
    regions : list of (int, int, str, int)
        ``(start, stop, kind, packet)`` byte ranges of the row, in order and
        covering it: ``kind`` is one of ``'link'``, ``'network'``,
        ``'transport'``, ``'payload'`` or ``'padding'``; ``packet`` is the
        index of the packet in ``session.packets`` (-1 for padding).

    Examples
    --------
    >>> from skfocal import Packet, Session
    >>> packet = Packet(0.0, bytes(14 + 20 + 8) + b"hi", 14, 34, 42)
    >>> s = Session("a.pcap", 17, "10.0.0.1", 1, "10.0.0.2", 53, 0.0, 1, 44,
    ...             (packet,))
    >>> session_regions(s, n_bytes=64)
    [(0, 14, 'link', 0), (14, 34, 'network', 0), (34, 42, 'transport', 0), \
(42, 44, 'payload', 0), (44, 64, 'padding', -1)]
    >>> session_regions(s, layers="l7", n_bytes=4)
    [(0, 2, 'payload', 0), (2, 4, 'padding', -1)]
    """
    if layers not in ("l7", "ip", "all"):
        raise ValueError(
            f"layers must be one of 'l7', 'ip' or 'all'. Received: {layers!r}"
        )
    regions, filled = [], 0
    for index, packet in enumerate(session.packets):
        if filled >= n_bytes:
            break
        start = {"l7": packet.payload_offset, "ip": packet.network_offset,
                 "all": 0}[layers]
        bounds = [0, packet.network_offset, packet.transport_offset,
                  packet.payload_offset, len(packet.data)]
        for kind, lo, hi in zip(REGION_KINDS, bounds, bounds[1:]):
            lo, hi = max(lo, start), min(hi, len(packet.data))
            take = min(hi - lo, n_bytes - filled)
            if take > 0:
                regions.append((filled, filled + take, kind, index))
                filled += take
    if filled < n_bytes:
        regions.append((filled, n_bytes, "padding", -1))
    return regions


def _outline_segments(grid):
    """Edges between cells of different regions, and around the image."""
    side = grid.shape[0]
    segments = []
    rows, cols = np.nonzero(grid[:-1, :] != grid[1:, :])
    segments += [[(c - 0.5, r + 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols)]
    rows, cols = np.nonzero(grid[:, :-1] != grid[:, 1:])
    segments += [[(c + 0.5, r - 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols)]
    edge = side - 0.5
    segments += [[(-0.5, -0.5), (edge, -0.5)], [(edge, -0.5), (edge, edge)],
                 [(edge, edge), (-0.5, edge)], [(-0.5, edge), (-0.5, -0.5)]]
    return segments


def plot_session_image(session, *, layers="all", n_bytes=784, anonymize=True,
                       ax=None, legend=True, title=None):
    """Draw a session as its square image, with its byte regions outlined.

    The grey levels are the bytes of
    :class:`~skfocal.PcapImageTransformer` with the same ``layers``,
    ``n_bytes`` and ``anonymize``, read row by row. Over them, a light tint
    and an outline mark each region (see :func:`session_regions`): link,
    network and transport headers, payload and the zero padding; each
    packet's first byte carries its number, from 1.

    Parameters
    ----------
    session : Session
        A session from :func:`skfocal.read_sessions`.
    layers : {'l7', 'ip', 'all'}, default='all'
        Where each packet's bytes start, as in the transformer; ``'all'``
        shows every header.
    n_bytes : int, default=784
        Bytes of the image, a square number (784 is 28x28).
    anonymize : bool, default=True
        Zero the MAC and IP addresses, as the transformer does.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    legend : bool, default=True
        Show which colour is which region.
    title : str, default=None
        Title of the axes; by default the session's 5-tuple.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfocal import Packet, Session
    >>> from skfocal.plotting import plot_session_image
    >>> packet = Packet(0.0, bytes(14 + 20 + 8) + b"hello", 14, 34, 42)
    >>> s = Session("a.pcap", 17, "10.0.0.1", 1, "10.0.0.2", 53, 0.0, 1, 47,
    ...             (packet,))
    >>> ax = plot_session_image(s, n_bytes=64)
    >>> ax.images[0].get_array().shape
    (8, 8, 4)
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    from skfocal._transformer import session_bytes

    side = math.isqrt(n_bytes)
    if side * side != n_bytes:
        raise ValueError(
            "n_bytes must be a square number (784 = 28x28, 1024 = 32x32, ...). "
            f"Received: n_bytes={n_bytes!r}"
        )
    row = session_bytes(session, layers=layers, n_bytes=n_bytes,
                        anonymize=anonymize)
    regions = session_regions(session, layers=layers, n_bytes=n_bytes)

    # One RGBA image: the grey byte value, tinted by the region's colour.
    grey = row.astype(float) / 255
    rgba = np.repeat(grey[:, None], 4, axis=1)
    rgba[:, 3] = 1.0
    grid = np.zeros(n_bytes, dtype=int)
    for number, (start, stop, kind, _) in enumerate(regions):
        tint = np.asarray(to_rgba(_REGION_COLORS[kind]))[:3]
        rgba[start:stop, :3] = 0.55 * rgba[start:stop, :3] + 0.45 * tint
        grid[start:stop] = number
    ax = _new_axes(ax, (6.4, 5.2))
    ax.imshow(rgba.reshape(side, side, 4), interpolation="nearest")
    ax.add_collection(LineCollection(_outline_segments(grid.reshape(side, side)),
                                     colors="white", linewidths=1.2))

    font = max(4, min(8, 200 // side))
    for start, _, kind, packet in regions:
        if kind != "padding" and (start == 0 or packet != _packet_before(
                regions, start)):
            ax.text(start % side, start // side, str(packet + 1), ha="center",
                    va="center", fontsize=font, color="white", weight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is None:
        title = (f"{_protocol_name(session.protocol)} {session.src}:{session.sport}"
                 f" -> {session.dst}:{session.dport}, layers={layers!r}")
    ax.set_title(title, fontsize=9)
    if legend:
        skipped = {"l7": 3, "ip": 1, "all": 0}[layers]
        shown = REGION_KINDS[skipped:]
        ax.legend(handles=[Patch(color=_REGION_COLORS[k], label=k) for k in shown],
                  loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8,
                  frameon=False, title="bytes", title_fontsize=8)
    return ax


def _packet_before(regions, start):
    for lo, hi, _, packet in regions:
        if hi == start:
            return packet
    return None


def _protocol_name(protocol):
    return {6: "TCP", 17: "UDP"}.get(protocol, str(protocol))
