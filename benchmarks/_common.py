"""Helpers shared by the benchmark scripts: paths, arguments, summaries, output."""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

# The real data sits beside the checkout, never inside it.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"

# The three smallest ISCX classes (262, 402 and 486 sessions).
ISCX_MINORITY = ("Vpn_Email", "Vpn_P2p", "Vpn_Streaming")

# nDPI categories with fewer labelled sessions are set aside; the sessions
# are split grouped by capture file into NDPI_FOLDS folds.
NDPI_MIN_SESSIONS = 20
NDPI_FOLDS = 5
NDPI_SPLIT_SEED = 0
NDPI_SPLIT = (f"StratifiedGroupKFold({NDPI_FOLDS}, shuffle=True, "
              f"random_state={NDPI_SPLIT_SEED}); groups are capture files")


def load_ndpi(data):
    """The labelled nDPI sessions of the categories kept, with their captures.

    Returns ``(sessions, y, groups, set_aside)``: the sessions, their nDPI
    category, their capture file, and the session count of each category
    set aside for having fewer than ``NDPI_MIN_SESSIONS``.
    """
    import warnings

    from skfocal.datasets import load_labelled_captures

    folder = Path(data) / "ndpi-pcaps"
    with warnings.catch_warnings():
        # Skipped link types and truncated records are expected here: the
        # suite's captures are deliberately varied, some malformed.
        warnings.simplefilter("ignore")
        sessions, y, groups = load_labelled_captures(
            folder / "pcap", folder / "flows.csv", label_column="category")
    labels, counts = np.unique(y, return_counts=True)
    kept = labels[counts >= NDPI_MIN_SESSIONS]
    set_aside = {str(k): int(v) for k, v in zip(labels, counts)
                 if v < NDPI_MIN_SESSIONS}
    mask = np.isin(y, kept)
    sessions = [s for s, keep in zip(sessions, mask) if keep]
    return sessions, y[mask].astype(str), groups[mask].astype(str), set_aside


def ndpi_fold(y, groups, fold):
    """Train and test indices of one fold grouped by capture file.

    One partition serves every caller: StratifiedGroupKFold assigns
    captures greedily, so reshuffling it per seed would give nearly the
    same first fold every time.
    """
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    folds = StratifiedGroupKFold(NDPI_FOLDS, shuffle=True,
                                 random_state=NDPI_SPLIT_SEED)
    with warnings.catch_warnings():
        # Classes held by fewer captures than folds are expected.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(folds.split(np.zeros(len(y)), y, groups))
    return splits[fold % NDPI_FOLDS]
METRICS = ("precision", "recall", "f1")


def make_parser(doc, name, *, seeds, epochs):
    """An argument parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(doc.splitlines()[1:]),
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"the shared data folder (default: {DEFAULT_DATA})")
    parser.add_argument("--quick", action="store_true",
                        help="a small run for CI: fewer rows, seeds and epochs")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"repetitions, seeds 0..N-1 (default: {seeds})")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default: {epochs})")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=RESULTS / name,
                        help=f"output folder (default: docs/results/{name})")
    return parser


def code_version():
    """The checkout's git commit, with '+changes' if the code differs from it.

    None outside a git checkout. Only ``skfocal/`` and ``benchmarks/`` count:
    results written under ``docs/`` do not change what a run computes.
    """
    root = Path(__file__).resolve().parents[1]

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip

    try:
        head = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--", "skfocal", "benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if changes else "")


def environment():
    """Versions and machine, stored with every result."""
    import imblearn
    import keras
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "imbalanced-learn": imblearn.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpus": os.cpu_count(),
        "code": code_version(),
        "argv": sys.argv[1:],
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def stats(values):
    """Mean, sample standard deviation and the values themselves."""
    values = [float(v) for v in values]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "values": values}


def pm(summary, scale=100, digits=1):
    """Format a :func:`stats` dict as 'mean ± std' (percent by default)."""
    return (f"{scale * summary['mean']:.{digits}f} ± "
            f"{scale * summary['std']:.{digits}f}")


def summarize_reports(reports, classes):
    """Aggregate per-seed ``class_report`` dicts into mean ± std per metric.

    Returns per-class precision, recall and F1, their mean over ``classes``
    (the minority summary), and the overall scores.
    """
    out = {"classes": {}, "minority_mean": {}}
    all_classes = reports[0]["classes"]
    for label in all_classes:
        out["classes"][label] = {
            m: stats([r["classes"][label][m] for r in reports]) for m in METRICS
        }
        out["classes"][label]["support"] = all_classes[label]["support"]
    for m in METRICS:
        out["minority_mean"][m] = stats(
            [np.mean([r["classes"][c][m] for c in classes]) for r in reports]
        )
    for key in ("macro_f1", "balanced_accuracy", "accuracy", "geometric_mean"):
        out[key] = stats([r[key] for r in reports])
    return out


def count_overlap(X_train, X_test):
    """Test rows identical to at least one training row."""
    seen = {row.tobytes() for row in np.ascontiguousarray(X_train)}
    return np.array([row.tobytes() in seen for row in np.ascontiguousarray(X_test)])


def write_outputs(out, name, payload, tables):
    """Write ``name.json``, and the tables in order to ``name.md``.

    The tables also go to ``name.rst`` as reStructuredText, which the
    results page of the docs includes, so that its tables are the ones
    measured.
    """
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.json", "w") as f:
        json.dump(payload, f, indent=1, default=_json_default)
    text = "\n\n".join(tables) + "\n"
    with open(out / f"{name}.md", "w") as f:
        f.write(text)
    with open(out / f"{name}.rst", "w") as f:
        f.write(markdown_to_rst(text))


def markdown_to_rst(text):
    """Turn the Markdown tables of ``text`` into reStructuredText simple tables.

    Lines outside tables are kept as they are (paragraphs read the same in
    both). Cells must not start a line with a reST markup character, which
    holds for the benchmarks' tables.
    """
    out, block = [], []

    def flush():
        if not block:
            return
        rows = [[cell.strip() for cell in line.strip()[1:-1].split("|")]
                for line in block if not set(line) <= set("|-: ")]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        rule = "  ".join("=" * w for w in widths)
        lines = [rule, _rst_row(rows[0], widths), rule]
        lines += [_rst_row(row, widths) for row in rows[1:]]
        out.extend([*lines, rule])
        block.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            block.append(line)
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def _rst_row(cells, widths):
    # An empty first cell would end the table: reST reads it as a blank.
    cells = [cells[0] or "\\", *cells[1:]]
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def markdown_table(header, rows, align=None):
    """A Markdown table; ``align`` is one of 'l'/'r' per column."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def grouped_bars(ax, groups, series, values, errors=None, *, ylabel=None,
                 ylim=None):
    """Bars of ``values[s][g]`` for each series ``s``, grouped by ``g``."""
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, name in enumerate(series):
        err = None if errors is None else errors[i]
        ax.bar(x + (i - (n - 1) / 2) * width, values[i], width, yerr=err,
               label=name, capsize=2)
    ax.set_xticks(x, groups)
    if ylabel:
        ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)


def new_figure(*args, **kwargs):
    """A matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(fig, path):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class Clock:
    """Elapsed wall time since creation, for progress lines."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.start

    def stamp(self):
        return f"[{self() / 60:5.1f} min]"
