"""The ``skfocal`` command: extract, train, evaluate, predict, compare, demo."""

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


_EPILOG_SPLIT = """\
example:
  skfocal split ../shared/data/ustc-tfc2016/Tinba.pcap -o tinba-sessions

Each output is a classic pcap that Wireshark opens; with a classic pcap input
its records are byte-exact copies of the input's.
"""

_EPILOG_TRAIN = """\
example:
  skfocal train ndpi.npz -o model.keras --alpha improved --gamma 2 --epochs 10

It also writes model.json beside the model: the classes and their counts,
the parameters and the extraction settings (layers, n_bytes) of DATA.
"""

_EPILOG_EVALUATE = """\
example:
  skfocal evaluate model.keras test.npz -o runs/test

OUTPUT (a folder) receives report.md, report.json, confusion_matrix.png
and class_scores.png.
"""

_EPILOG_PREDICT = """\
example:
  skfocal predict model.keras captures/ -o predictions.csv

--layers and --unit default to the settings the model was trained with
(from model.json beside it), else to l7 and session; the number of bytes per
session is always the model's input size.
"""

_EPILOG_DEMO = """\
example:
  skfocal demo -o skfocal-demo

Needs no data: it writes a synthetic capture (make_capture), then runs
extract, a stratified split, train and evaluate on it, printing each step.
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

    split = commands.add_parser(
        "split", help="write one capture file per session (like SplitCap)",
        description="Group a capture's packets into sessions (or flows) and "
                    "write every packet of each session to a capture file of "
                    "its own, named after the 5-tuple.",
        epilog=_EPILOG_SPLIT, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    split.add_argument("capture", metavar="CAPTURE", help="a pcap or pcapng file")
    split.add_argument("-o", "--output", required=True,
                       help="folder for the per-session files")
    split.add_argument("--unit", choices=["session", "flow"], default="session",
                       help="bidirectional sessions or one-way flows "
                            "(default: session)")
    split.add_argument("--min-packets", type=int, default=1,
                       help="leave out sessions with fewer packets (default: 1)")
    split.add_argument("--strict", action="store_true",
                       help="fail on a capture that is truncated or corrupt part "
                            "of the way (default: split what precedes it)")

    train = commands.add_parser(
        "train", help="fit a focal-loss CNN and save it (.keras)",
        description="Fit FocalCNNClassifier on session images and save it as a "
                    ".keras file that FocalCNNClassifier.load reads back.",
        epilog=_EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("data", nargs="+", metavar="DATA", help=_DATA_HELP)
    train.add_argument("-o", "--output", required=True,
                       help="the model to write, ending in .keras")
    train.add_argument("--alpha", type=_alpha, default="improved",
                       help="focal-loss alpha: none, a float in (0, 1), "
                            "improved, balanced, effective (default: improved)")
    train.add_argument("--gamma", type=float, default=2.0,
                       help="focal-loss gamma; 0 with --alpha none is "
                            "cross-entropy (default: 2)")
    train.add_argument("--alpha-scale", type=float, default=10.0,
                       help="K of alpha='improved' (default: 10)")
    _add_training_options(train, epochs=10)
    train.add_argument("--validation-split", type=float, default=0.0,
                       help="fraction held out to report a validation loss "
                            "per epoch (default: 0)")
    train.add_argument("-q", "--quiet", action="store_true",
                       help="no line per epoch")

    evaluate = commands.add_parser(
        "evaluate", help="per-class report and confusion matrix of a model",
        description="Predict DATA with a saved model; write per-class "
                    "precision, recall, F1 and support, and figures.",
        epilog=_EPILOG_EVALUATE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("model", metavar="MODEL",
                          help="a .keras file from 'skfocal train'")
    evaluate.add_argument("data", nargs="+", metavar="DATA", help=_DATA_HELP)
    evaluate.add_argument("-o", "--output", required=True, help="folder for results")

    predict = commands.add_parser(
        "predict", help="classify every session of captures (.csv)",
        description="Read captures into sessions and write one CSV row per "
                    "session: capture, protocol, src, sport, dst, dport, "
                    "predicted class and its probability.",
        epilog=_EPILOG_PREDICT, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("model", metavar="MODEL",
                         help="a .keras file from 'skfocal train'")
    predict.add_argument("captures", nargs="+", metavar="CAPTURE",
                         help="capture files or folders of them")
    predict.add_argument("-o", "--output", required=True, help="the .csv to write")
    predict.add_argument("--unit", choices=["session", "flow"], default=None,
                         help="bidirectional sessions or one-way flows "
                              "(default: as trained, else session)")
    predict.add_argument("--layers", choices=["l7", "ip", "all"], default=None,
                         help="where image bytes start (default: as trained, "
                              "else l7)")
    predict.add_argument("--no-anonymize", action="store_true",
                         help="keep MAC and IP addresses in the images")

    demo = commands.add_parser(
        "demo", help="the whole pipeline on a synthetic capture",
        description="Write a synthetic, imbalanced capture of DNS, HTTP, NTP, "
                    "SSH and TLS sessions, then extract, split, train and "
                    "evaluate, saying what happens at each step.",
        epilog=_EPILOG_DEMO, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("-o", "--output", default="skfocal-demo",
                      help="folder for everything written (default: skfocal-demo)")
    demo.add_argument("--n-sessions", type=int, default=600,
                      help="sessions in the capture (default: 600)")
    demo.add_argument("--epochs", type=int, default=4,
                      help="training epochs (default: 4)")
    demo.add_argument("--random-state", type=int, default=0,
                      help="seed of the capture, split and model (default: 0)")
    return parser


_DATA_HELP = ("an .npz from 'skfocal extract', an idx images and labels pair, "
              "or a folder holding train-images-idx3-ubyte.gz and "
              "train-labels-idx1-ubyte.gz")


def _add_training_options(parser, *, epochs):
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"training epochs (default: {epochs})")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="batch size (default: 128)")
    parser.add_argument("--random-state", type=int, default=0,
                        help="seed of the model (default: 0)")


def _extract(args):
    from skfocal import PcapImageTransformer, read_sessions
    from skfocal.capture import CaptureError
    from skfocal.datasets import label_sessions

    for path in args.captures:
        if not os.path.exists(path):
            raise CommandError(f"no such capture file or folder: {path}")
    if args.labels and not os.path.isfile(args.labels):
        raise CommandError(f"no such flow table: {args.labels}")
    # numpy adds the suffix itself; name the file it will write.
    output = args.output if args.output.endswith(".npz") else args.output + ".npz"
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise CommandError(f"the output's folder does not exist: {folder}")
    if os.path.isdir(output):
        raise CommandError(f"the output is a folder, not an .npz file: {output}")
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
    if not len(X):
        if not stats.captures_read:
            why = "no capture could be read"
        elif args.labels:
            why = "no session matched a row of the flow table"
        elif args.drop_empty and len(keep):
            why = "every session's image was all zeros"
        else:
            why = "the captures hold no session"
        raise CommandError(f"nothing to write: {why}; {output} not written")

    np.savez_compressed(
        output, X=X, y=y.astype(str), groups=groups.astype(str),
        protocol=np.asarray([s.protocol or 0 for s in sessions], dtype=np.int16),
        src=np.asarray([s.src or "" for s in sessions], dtype=str),
        sport=np.asarray([s.sport or 0 for s in sessions], dtype=np.int32),
        dst=np.asarray([s.dst or "" for s in sessions], dtype=str),
        dport=np.asarray([s.dport or 0 for s in sessions], dtype=np.int32),
        first_time=np.asarray([s.first_time for s in sessions], dtype=np.float64),
        n_packets=np.asarray([s.n_packets for s in sessions], dtype=np.int64),
        n_bytes=np.asarray([s.n_bytes for s in sessions], dtype=np.int64),
        # How the images were made, so that 'train' and 'predict' agree.
        extraction=np.asarray(json.dumps({
            "unit": args.unit, "layers": args.layers, "n_bytes": args.n_bytes,
            "anonymize": not args.no_anonymize,
        })),
    )
    print(f"wrote {len(X)} session images of {args.n_bytes} bytes to {output}")
    return 0


def _split(args):
    from skfocal.capture import CaptureError, split_capture

    if not os.path.isfile(args.capture):
        raise CommandError(f"no such capture file: {args.capture}")
    if args.min_packets < 1:
        raise CommandError(f"--min-packets must be 1 or more; got {args.min_packets}")
    logging.getLogger("scapy").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # The summary lists what was read in part; a warning would repeat it.
        warnings.simplefilter("ignore")
        try:
            written = split_capture(
                args.capture, args.output, unit=args.unit,
                min_packets=args.min_packets,
                on_error="raise" if args.strict else "warn",
            )
        except CaptureError as exc:
            raise CommandError(str(exc)) from None
    print(written.stats.summary())
    print(f"wrote {len(written)} session captures to {args.output}")
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


def _load_named(paths):
    """``_load_data``, with the ISCX class codes of an idx pair named."""
    from skfocal.datasets import ISCX_VPN2016_CLASSES

    X, y = _load_data(paths)
    if y.dtype.kind in "iu" and y.max(initial=0) < len(ISCX_VPN2016_CLASSES) \
            and X.shape[1] == 784 and len(np.unique(y)) == 12:
        # An idx pair of the 12 ISCX classes: report class names, not codes.
        y = np.asarray(ISCX_VPN2016_CLASSES, dtype=object)[y].astype(str)
    return X, y


def _extraction(paths):
    """How an .npz from 'extract' was made; empty for other data."""
    if len(paths) != 1 or os.path.isdir(paths[0]):
        return {}
    try:
        with np.load(paths[0], allow_pickle=False) as data:
            if "extraction" in data:
                return json.loads(str(data["extraction"]))
    except (OSError, ValueError):
        pass
    return {}


def _compare(args):
    from sklearn.base import clone

    from skfocal.comparison import compare, make_settings
    from skfocal.reports import format_class_report, format_summary

    if args.cv < 2:
        raise CommandError(f"--cv must be 2 or more folds; received {args.cv}")
    if not 0 < args.test_size < 1:
        raise CommandError(
            f"--test-size must be a fraction in (0, 1); received {args.test_size}")
    X, y = _load_named(args.data)
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
    # Refuse a bad --alphas or --gamma now, not after the first settings ran.
    for _, grid in settings:
        clone(estimator).set_params(**{
            key[len("cnn__"):]: values[0]
            for key, values in grid.items() if key.startswith("cnn__")
        })._validate_params()
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
    # Predictions stay out of the JSON: scores, not 5,000 labels per setting.
    scores = {k: v for k, v in outcome.items() if k != "y_test"}
    scores["results"] = [{k: v for k, v in r.items() if k != "y_pred"}
                         for r in outcome["results"]]
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items()},
                   **scores}, f, indent=2, default=str)
    print()
    print(text)
    print(f"\nwrote {os.path.join(args.output, 'report.md')} and results.json")

    _save_class_scores(os.path.join(args.output, "class_f1.png"),
                       outcome["results"], metrics=("f1",),
                       title="Per-class F1 on the held-out test split")
    best = _best_setting(outcome["results"])
    print(f"confusion matrix of the best setting ({best['setting']}, by "
          f"{'CV' if best.get('cv_macro_f1') else 'test'} macro-F1)", flush=True)
    _save_confusion(os.path.join(args.output, "confusion_matrix.png"),
                    outcome["y_test"], best["y_pred"], labels,
                    title=f"{best['setting']} (test split)")
    print(f"wrote class_f1.png and confusion_matrix.png to {args.output}")
    return 0


def _best_setting(results):
    """The setting with the best CV macro-F1 (test macro-F1 without CV).

    Choosing by CV keeps the test split out of the choice.
    """
    if all(r.get("cv_macro_f1") for r in results):
        return max(results, key=lambda r: r["cv_macro_f1"][0])
    return max(results, key=lambda r: r["report"]["macro_f1"])


def _figure(figsize):
    # A bare Figure draws with Agg, whatever backend pyplot would pick.
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _save_confusion(path, y_true, y_pred, labels, *, title=None):
    from skfocal.plotting import plot_confusion_matrix

    side = max(4.0, 0.55 * len(labels) + 2.0)
    fig = _figure((side + 1.0, side))
    plot_confusion_matrix(y_true, y_pred, labels=labels, ax=fig.add_subplot(),
                          title=title)
    fig.savefig(path, dpi=120)


def _save_class_scores(path, reports, *, metrics=("precision", "recall", "f1"),
                       title=None):
    from skfocal.plotting import _as_reports, plot_class_scores

    reports = _as_reports(reports)
    n_classes = len(next(iter(reports.values()))["classes"])
    width = max(6.0, 0.45 * n_classes * max(len(reports), 2) + 2.0)
    fig = _figure((width, 2.6 * len(metrics) + 1.6))
    axes = fig.subplots(len(metrics), 1, squeeze=False, sharex=True)[:, 0]
    plot_class_scores(reports, metrics=metrics, axes=axes)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)


def _check_model_path(path):
    if not path.endswith(".keras"):
        raise CommandError(f"the model file must end in .keras; received {path}")


def _sidecar(model_path):
    return os.path.splitext(model_path)[0] + ".json"


def _train(args):
    import time

    _check_model_path(args.output)
    if args.epochs < 1:
        raise CommandError(f"--epochs must be 1 or more; received {args.epochs}")
    X, y = _load_named(args.data)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise CommandError(f"need at least 2 classes; the data has {len(labels)}")
    print(f"{len(y)} samples of {X.shape[1]} bytes, {len(labels)} classes: "
          + ", ".join(f"{label} ({count})" for label, count in zip(labels, counts)),
          flush=True)

    FocalCNNClassifier = _import_classifier()
    clf = FocalCNNClassifier(
        alpha=args.alpha, gamma=args.gamma, alpha_scale=args.alpha_scale,
        epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, random_state=args.random_state,
        verbose=0 if args.quiet else 2,
    )
    print(f"training {args.epochs} epochs: alpha={args.alpha!r}, "
          f"gamma={args.gamma:g}, batch size {args.batch_size}", flush=True)
    start = time.perf_counter()
    try:
        clf.fit(X, y)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    seconds = time.perf_counter() - start

    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    clf.save(args.output)
    summary = {
        "data": [os.path.abspath(p) for p in args.data],
        "n_samples": int(len(y)),
        "n_bytes": int(X.shape[1]),
        "classes": {str(label): int(count) for label, count in zip(labels, counts)},
        "extraction": _extraction(args.data),
        "params": {"alpha": args.alpha, "gamma": args.gamma,
                   "alpha_scale": args.alpha_scale, "epochs": args.epochs,
                   "batch_size": args.batch_size,
                   "validation_split": args.validation_split,
                   "random_state": args.random_state},
        "class_weights": {str(k): v for k, v in clf.class_weights_.items()},
        "final_loss": clf.history_["loss"][-1],
        "fit_time": round(seconds, 2),
    }
    with open(_sidecar(args.output), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"trained in {seconds:.0f} s; wrote {args.output} and "
          f"{_sidecar(args.output)}")
    return 0


def _load_model(path):
    if not os.path.isfile(path):
        raise CommandError(f"no such model file: {path}")
    FocalCNNClassifier = _import_classifier()
    try:
        with _quiet_native_stderr():
            return FocalCNNClassifier.load(path)
    except Exception as exc:  # zip, Keras and JSON errors alike
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(
            f"{path} is not a model from 'skfocal train' ({reason})"
        ) from None


def _evaluate(args):
    from skfocal.reports import class_report, format_class_report

    X, y = _load_named(args.data)
    clf = _load_model(args.model)
    if X.shape[1] != clf.n_features_in_:
        raise CommandError(
            f"the model takes images of {clf.n_features_in_} bytes; the data "
            f"has {X.shape[1]}"
        )
    unseen = np.setdiff1d(np.unique(y).astype(str), clf.classes_.astype(str))
    if len(unseen):
        print(f"{int(np.isin(y.astype(str), unseen).sum())} samples of classes "
              f"the model never saw: {', '.join(unseen)}")
    print(f"predicting {len(y)} samples", flush=True)
    y_pred = clf.predict(X)
    y_true, y_pred = y.astype(str), y_pred.astype(str)
    labels = np.union1d(np.unique(y_true), clf.classes_.astype(str))
    report = class_report(y_true, y_pred, labels=labels)

    os.makedirs(args.output, exist_ok=True)
    title = f"{os.path.basename(args.model)} on {', '.join(args.data)}"
    text = format_class_report(report, title=title)
    with open(os.path.join(args.output, "report.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.output, "report.json"), "w") as f:
        json.dump({"model": args.model, "data": args.data, "report": report},
                  f, indent=2)
    _save_confusion(os.path.join(args.output, "confusion_matrix.png"),
                    y_true, y_pred, labels, title=os.path.basename(args.model))
    _save_class_scores(os.path.join(args.output, "class_scores.png"),
                       report, title=os.path.basename(args.model))
    print(text)
    print(f"\nwrote report.md, report.json, confusion_matrix.png and "
          f"class_scores.png to {args.output}")
    return 0


_PREDICT_CHUNK = 4096


def _predict(args):
    import csv

    from skfocal import PcapImageTransformer, read_sessions
    from skfocal.capture import CaptureError

    for path in args.captures:
        if not os.path.exists(path):
            raise CommandError(f"no such capture file or folder: {path}")
    trained = {}
    if os.path.isfile(_sidecar(args.model)):
        with open(_sidecar(args.model)) as f:
            trained = json.load(f).get("extraction", {})
    clf = _load_model(args.model)
    unit = args.unit or trained.get("unit", "session")
    layers = args.layers or trained.get("layers", "l7")
    anonymize = not args.no_anonymize and trained.get("anonymize", True)
    n_bytes = int(clf.n_features_in_)
    print(f"images of {n_bytes} bytes from layers={layers!r}, unit={unit!r}")

    logging.getLogger("scapy").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the summary lists every failure
        try:
            sessions = read_sessions(args.captures, unit=unit, max_bytes=n_bytes)
        except CaptureError as exc:
            raise CommandError(str(exc)) from None
    print(sessions.stats.summary(), flush=True)
    if not len(sessions):
        raise CommandError("the captures hold no TCP or UDP session to classify")
    transformer = PcapImageTransformer(layers=layers, n_bytes=n_bytes,
                                       anonymize=anonymize).fit()

    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    with open(args.output, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["capture", "protocol", "src", "sport", "dst", "dport",
                         "predicted", "probability"])
        for start in range(0, len(sessions), _PREDICT_CHUNK):
            chunk = sessions[start:start + _PREDICT_CHUNK]
            proba = clf.predict_proba(transformer.transform(chunk))
            best = proba.argmax(axis=1)
            for session, k, p in zip(chunk, best, proba[np.arange(len(best)), best]):
                writer.writerow([
                    session.capture, _PROTOCOLS.get(session.protocol,
                                                    session.protocol),
                    session.src, session.sport, session.dst, session.dport,
                    clf.classes_[k], f"{p:.4f}",
                ])
            if len(sessions) > _PREDICT_CHUNK:
                print(f"classified {start + len(chunk)} of {len(sessions)} "
                      "sessions", flush=True)
    print(f"wrote {len(sessions)} predictions to {args.output}")
    return 0


_PROTOCOLS = {6: "TCP", 17: "UDP"}

# Class proportions of the demo's capture: one large class, two rare ones.
_DEMO_WEIGHTS = {"DNS": 0.45, "HTTP": 0.25, "TLS": 0.18, "SSH": 0.07, "NTP": 0.05}


def _split_npz(path, train_path, test_path, *, test_size, random_state):
    """Stratified split of an .npz from 'extract', every array alike."""
    from sklearn.model_selection import train_test_split

    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    rows = np.arange(len(arrays["y"]))
    train, test = train_test_split(rows, test_size=test_size,
                                   stratify=arrays["y"],
                                   random_state=random_state)
    for out, keep in [(train_path, train), (test_path, test)]:
        np.savez_compressed(out, **{
            key: value[keep] if value.ndim and len(value) == len(rows) else value
            for key, value in arrays.items()
        })
    return len(train), len(test)


def _demo(args):
    import time

    from skfocal.datasets import make_capture

    if not 50 <= args.n_sessions <= 20_000:
        raise CommandError(
            f"--n-sessions must be from 50 to 20000; received {args.n_sessions}"
        )
    if args.epochs < 1:
        raise CommandError(f"--epochs must be 1 or more; received {args.epochs}")
    out = args.output
    os.makedirs(out, exist_ok=True)
    capture = os.path.join(out, "synthetic.pcap")
    flows = os.path.join(out, "flows.csv")
    data = os.path.join(out, "sessions.npz")
    train, test = os.path.join(out, "train.npz"), os.path.join(out, "test.npz")
    model = os.path.join(out, "model.keras")
    start = time.perf_counter()

    def step(number, text):
        print(f"\n== step {number}/5 ({time.perf_counter() - start:.0f} s): "
              f"{text}", flush=True)

    step(1, f"make_capture writes {args.n_sessions} synthetic sessions")
    y = make_capture(capture, n_sessions=args.n_sessions, weights=_DEMO_WEIGHTS,
                     flows=flows, random_state=args.random_state)
    labels, counts = np.unique(y, return_counts=True)
    print(f"wrote {capture} and its flow table {flows}: "
          + ", ".join(f"{label} {count}" for label, count in zip(labels, counts)))
    _save_demo_sessions(capture, y, os.path.join(out, "sessions.png"))
    print(f"drew one session of each class, headers outlined: "
          f"{os.path.join(out, 'sessions.png')}")

    step(2, "extract: sessions -> 28x28 images of their payload, labelled by "
            "the flow table's app column")
    status = main(["extract", capture, "--labels", flows, "--label-column", "app",
                   "-o", data])
    if status:
        return status

    step(3, "split: 25% of the sessions held out for the test, stratified")
    n_train, n_test = _split_npz(data, train, test, test_size=0.25,
                                 random_state=args.random_state)
    print(f"wrote {train} ({n_train} sessions) and {test} ({n_test} sessions)")

    step(4, f"train: focal loss, alpha='improved', {args.epochs} epochs")
    status = main(["train", train, "-o", model, "--alpha", "improved",
                   "--epochs", str(args.epochs), "--batch-size", "32",
                   "--random-state", str(args.random_state)])
    if status:
        return status

    step(5, "evaluate on the held-out sessions")
    status = main(["evaluate", model, test, "-o", os.path.join(out, "evaluation")])
    if status:
        return status
    print(f"\ndone in {time.perf_counter() - start:.0f} s. Next: "
          f"skfocal predict {model} {capture} -o predictions.csv")
    return 0


def _save_demo_sessions(capture, y, path):
    from skfocal import read_sessions
    from skfocal.plotting import plot_session_image

    sessions = read_sessions(capture)
    labels = np.unique(y)
    fig = _figure((3.2 * len(labels) + 1.2, 3.8))
    axes = fig.subplots(1, len(labels))
    for ax, label in zip(axes, labels):
        session = sessions[int(np.flatnonzero(y == label)[0])]
        plot_session_image(session, ax=ax, legend=ax is axes[-1],
                           title=f"{label}: {len(session.packets)} packets")
    fig.savefig(path, dpi=110)


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

    Examples
    --------
    >>> from skfocal.cli import main
    >>> main(["demo", "-o", "skfocal-demo"])  # doctest: +SKIP
    0
    """
    args = _build_parser().parse_args(argv)
    handler = {
        "split": _split,
        "extract": _extract,
        "compare": _compare,
        "train": _train,
        "evaluate": _evaluate,
        "predict": _predict,
        "demo": _demo,
    }[args.command]
    try:
        return handler(args)
    except (CommandError, ValueError) as exc:
        # ValueError covers the library's checks of parameters and data
        # (scikit-learn's InvalidParameterError, CaptureError): their
        # messages name what was wrong, so a traceback adds nothing.
        message = str(exc)
    except OSError as exc:
        # A file that cannot be read or written: say which and why.
        message = exc.strerror or str(exc)
        if exc.filename is not None:
            message = f"{message}: {exc.filename}"
    print(f"skfocal {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
