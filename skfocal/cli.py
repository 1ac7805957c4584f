"""The ``skfocal`` command: extract sessions, compare losses."""

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings

import numpy as np

__all__ = ["main"]

_EPILOG_EXTRACT = """\
example:
  skfocal extract ../shared/data/ndpi-pcaps/pcap \\
      --labels ../shared/data/ndpi-pcaps/flows.csv --label-column category \\
      -o ndpi.npz
"""

_EPILOG_COMPARE = """\
example:
  skfocal compare ../shared/data/iscx-vpn2016-12class-session-l7 \\
      --alphas 0.25 improved --baselines ros --epochs 5 --cv 3 -o runs/iscx
"""


class CommandError(Exception):
    """A problem with the user's input, reported in one line."""


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what C++ code writes to file descriptor 2 meanwhile.

    TensorFlow's native runtime prints notes (a CUDA probe on CPU machines)
    while it is imported, before its own log level applies. Python errors
    are unaffected: they are raised, not written, inside this block.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_classifier():
    with _quiet_native_stderr():
        from skfocal import FocalCNNClassifier
    return FocalCNNClassifier


def _alpha(text):
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skfocal",
        description="Classify network traffic with rare classes: captures to "
                    "session images, focal-loss CNNs, honest comparisons.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    extract = commands.add_parser(
        "extract", help="read captures into session images (.npz)",
        description="Read captures (pcap, pcapng; files or folders) into "
                    "sessions and write one image row per session.",
        epilog=_EPILOG_EXTRACT, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    extract.add_argument("captures", nargs="+", metavar="CAPTURE",
                         help="capture files or folders of them")
    extract.add_argument("-o", "--output", required=True, help="the .npz to write")
    extract.add_argument("--labels", metavar="CSV",
                         help="flow table to label sessions (like flows.csv)")
    extract.add_argument("--label-column", default="category",
                         help="column of the flow table holding the labels "
                              "(default: category)")
    extract.add_argument("--unit", choices=["session", "flow"], default="session",
                         help="bidirectional sessions or one-way flows "
                              "(default: session)")
    extract.add_argument("--layers", choices=["l7", "ip", "all"], default="l7",
                         help="bytes from the payload, the IP header or the "
                              "link layer (default: l7)")
    extract.add_argument("--n-bytes", type=int, default=784,
                         help="bytes per image, a square number (default: 784)")
    extract.add_argument("--no-anonymize", action="store_true",
                         help="keep MAC and IP addresses in the images")
    extract.add_argument("--drop-empty", action="store_true",
                         help="leave out sessions whose image would be all zeros")
    extract.add_argument("--strict", action="store_true",
                         help="stop at the first capture that cannot be read")

    compare = commands.add_parser(
        "compare", help="compare loss settings and resampling baselines",
        description="Hold out a stratified test split, cross-validate each "
                    "setting on the rest with GridSearchCV, then fit each on "
                    "the training rows and report per-class precision, recall "
                    "and F1 on the test rows.",
        epilog=_EPILOG_COMPARE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("data", nargs="+", metavar="DATA",
                         help="an .npz from 'skfocal extract', an idx images and "
                              "labels pair, or a folder holding "
                              "train-images-idx3-ubyte.gz and "
                              "train-labels-idx1-ubyte.gz")
    compare.add_argument("-o", "--output", required=True, help="folder for results")
    compare.add_argument("--alphas", nargs="*", type=_alpha,
                         default=[0.25, "improved"],
                         help="focal-loss alphas: none, a float in (0, 1), "
                              "improved, balanced, effective (default: 0.25 "
                              "improved)")
    compare.add_argument("--gamma", type=float, default=2.0,
                         help="focal-loss gamma (default: 2)")
    compare.add_argument("--alpha-scale", type=float, default=10.0,
                         help="K of alpha='improved' (default: 10)")
    compare.add_argument("--baselines", nargs="*", default=["ros"],
                         choices=["ros", "rus", "smote"],
                         help="imbalanced-learn samplers, trained with "
                              "cross-entropy (default: ros)")
    compare.add_argument("--epochs", type=int, default=5,
                         help="training epochs (default: 5)")
    compare.add_argument("--batch-size", type=int, default=128,
                         help="batch size (default: 128)")
    compare.add_argument("--cv", type=int, default=3,
                         help="stratified folds of the grid search; 0 skips it "
                              "(default: 3)")
    compare.add_argument("--test-size", type=float, default=0.2,
                         help="fraction held out for the test (default: 0.2)")
    compare.add_argument("--min-class-size", type=int, default=10,
                         help="set aside classes with fewer samples (default: 10)")
    compare.add_argument("--random-state", type=int, default=0,
                         help="seed of split, folds and models (default: 0)")
    compare.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _extract(args):
    from skfocal import PcapImageTransformer, read_sessions
    from skfocal.capture import CaptureError
    from skfocal.datasets import label_sessions

    for path in args.captures:
        if not os.path.exists(path):
            raise CommandError(f"no such capture file or folder: {path}")
    if args.labels and not os.path.isfile(args.labels):
        raise CommandError(f"no such flow table: {args.labels}")
    transformer = PcapImageTransformer(
        layers=args.layers, n_bytes=args.n_bytes, anonymize=not args.no_anonymize
    )
    transformer.fit()
    # scapy logs notes of its own while reading some pcapng files (TLS key
    # logs, ...); they say nothing about what skfocal extracted.
    logging.getLogger("scapy").setLevel(logging.ERROR)

    with warnings.catch_warnings():
        # The summary below lists every failed capture; one warning each on
        # top of it would only repeat them.
        warnings.simplefilter("ignore")
        try:
            sessions = read_sessions(
                args.captures, unit=args.unit, max_bytes=args.n_bytes,
                on_error="raise" if args.strict else "warn",
            )
        except CaptureError as exc:
            raise CommandError(str(exc)) from None
    stats = sessions.stats
    print(stats.summary())

    if args.labels:
        sessions, y, groups = label_sessions(sessions, args.labels,
                                             label_column=args.label_column)
        print(sessions.labelling.summary())
    else:
        y = np.asarray([""] * len(sessions), dtype=object)
        groups = np.asarray([s.capture for s in sessions], dtype=object)

    X = transformer.transform(sessions)
    keep = np.ones(len(X), dtype=bool)
    if args.drop_empty:
        keep = X.any(axis=1)
        print(f"{int((~keep).sum())} sessions left out: their image was all zeros")
    X, y, groups = X[keep], y[keep], groups[keep]
    sessions = [s for s, k in zip(sessions, keep) if k]

    np.savez_compressed(
        args.output, X=X, y=y.astype(str), groups=groups.astype(str),
        protocol=np.asarray([s.protocol or 0 for s in sessions], dtype=np.int16),
        src=np.asarray([s.src or "" for s in sessions], dtype=str),
        sport=np.asarray([s.sport or 0 for s in sessions], dtype=np.int32),
        dst=np.asarray([s.dst or "" for s in sessions], dtype=str),
        dport=np.asarray([s.dport or 0 for s in sessions], dtype=np.int32),
        first_time=np.asarray([s.first_time for s in sessions], dtype=np.float64),
        n_packets=np.asarray([s.n_packets for s in sessions], dtype=np.int64),
        n_bytes=np.asarray([s.n_bytes for s in sessions], dtype=np.int64),
    )
    print(f"wrote {len(X)} session images of {args.n_bytes} bytes to {args.output}")
    return 0


def _load_data(paths):
    from skfocal.datasets import load_idx

    for path in paths:
        if not os.path.exists(path):
            raise CommandError(f"no such data file or folder: {path}")
    if len(paths) == 1 and os.path.isdir(paths[0]):
        folder = paths[0]
        paths = [os.path.join(folder, "train-images-idx3-ubyte.gz"),
                 os.path.join(folder, "train-labels-idx1-ubyte.gz")]
        if not all(os.path.isfile(p) for p in paths):
            raise CommandError(
                f"{folder} holds no train-images-idx3-ubyte.gz and "
                "train-labels-idx1-ubyte.gz pair"
            )
    if len(paths) == 1:
        try:
            with np.load(paths[0], allow_pickle=False) as data:
                X, y = data["X"], data["y"]
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(
                f"{paths[0]} is not an .npz from 'skfocal extract' ({exc})"
            ) from None
        if not np.all(y != ""):
            raise CommandError(
                f"{paths[0]} has unlabelled rows; extract it with --labels"
            )
        return X, y
    if len(paths) == 2:
        try:
            return load_idx(paths[0], paths[1])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    raise CommandError(f"DATA takes one or two paths; received {len(paths)}")


def _compare(args):
    from skfocal.comparison import compare, make_settings
    from skfocal.datasets import ISCX_VPN2016_CLASSES
    from skfocal.reports import format_class_report, format_summary

    X, y = _load_data(args.data)
    if y.dtype.kind in "iu" and y.max(initial=0) < len(ISCX_VPN2016_CLASSES) \
            and X.shape[1] == 784 and len(np.unique(y)) == 12:
        # An idx pair of the 12 ISCX classes: report class names, not codes.
        y = np.asarray(ISCX_VPN2016_CLASSES, dtype=object)[y]
    labels, counts = np.unique(y, return_counts=True)
    small = labels[counts < args.min_class_size]
    if len(small):
        keep = ~np.isin(y, small)
        print(f"set aside {int((~keep).sum())} samples of {len(small)} classes "
              f"with fewer than {args.min_class_size} samples: "
              f"{', '.join(map(str, small))}")
        X, y = X[keep], y[keep]
        labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise CommandError(f"need at least 2 classes; the data has {len(labels)}")
    minority = labels[np.argmin(counts)]
    print(f"{len(y)} samples, {len(labels)} classes, smallest {minority} "
          f"({counts.min()}), largest {labels[np.argmax(counts)]} "
          f"({counts.max()}), imbalance {counts.max() / counts.min():.1f}:1")

    FocalCNNClassifier = _import_classifier()
    settings = make_settings(alphas=args.alphas, gamma=args.gamma,
                             baselines=args.baselines,
                             alpha_scale=args.alpha_scale,
                             random_state=args.random_state)
    estimator = FocalCNNClassifier(epochs=args.epochs, batch_size=args.batch_size,
                                   random_state=args.random_state,
                                   verbose=max(args.verbose - 1, 0))
    print(f"settings: {', '.join(name for name, _ in settings)}; "
          f"{args.cv}-fold stratified CV, then a held-out test of "
          f"{args.test_size:.0%} (seed {args.random_state})", flush=True)
    outcome = compare(X, y, settings=settings, estimator=estimator, cv=args.cv,
                      test_size=args.test_size, random_state=args.random_state,
                      verbose=1)

    os.makedirs(args.output, exist_ok=True)
    sections = [format_class_report(r["report"], title=r["setting"])
                for r in outcome["results"]]
    summary = format_summary(outcome["results"], minority=str(minority))
    split = outcome["split"]
    text = "\n\n".join([
        f"# skfocal compare\n\n{split['train']} training and {split['test']} "
        f"test samples (stratified, seed {split['random_state']}), "
        f"{args.epochs} epochs, {args.cv}-fold CV.",
        *sections, "## Summary", summary,
    ])
    with open(os.path.join(args.output, "report.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items()},
                   **outcome}, f, indent=2, default=str)
    print()
    print(text)
    print(f"\nwrote {os.path.join(args.output, 'report.md')} and results.json")
    return 0


def main(argv=None):
    """Run the ``skfocal`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 on bad input.
    """
    args = _build_parser().parse_args(argv)
    handler = {"extract": _extract, "compare": _compare}[args.command]
    try:
        return handler(args)
    except CommandError as exc:
        print(f"skfocal {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
