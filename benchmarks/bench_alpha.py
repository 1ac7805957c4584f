"""Loss weighting and resampling on ISCX and nDPI (the paper's Table 2, widened).

The ISCX VPN-nonVPN 12-class sessions are split once, stratified, 80/20 with
seed 0, with every class whole (no upper sampling limit: 5400 sessions in the
largest class, 262 in the smallest). With --dataset ndpi, the nDPI captures'
sessions are extracted with skfocal (layers='l7', addresses zeroed),
labelled by nDPI category, categories under 20 sessions set aside, and split
once, grouped by capture file: fold 0 of a shuffled StratifiedGroupKFold(5)
is the test split. Every setting trains the same FocalCNNClassifier on the
training split and is scored on the test split's classes; each repetition
(seed) reseeds the network and the samplers, never the split. The minority
classes are the three test classes with the fewest training rows.

Settings, in one loop: cross-entropy ("normal"); focal loss (gamma=2) with
alpha=0.25, 0.5, 0.75, 'improved' (K=10), 'balanced', 'effective'
(beta=0.999); post-hoc logit adjustment (tau=1) of the cross-entropy model
of the same seed; cross-entropy after RandomOverSampler, RandomUnderSampler
or SMOTE on the byte rows; cross-entropy on class-balanced epochs (each
epoch redraws as many rows as the training split holds, an equal number per
class, with replacement).

Test images that also occur in the training split are counted before and
after skfocal.sampling.DropDuplicates (applied to the whole set before the
same split), and every setting is also scored on the test rows absent from
the training split.

    python benchmarks/bench_alpha.py            # 5 seeds, 3 epochs: ~1 h, 2 cores
    python benchmarks/bench_alpha.py --quick    # CI: 8% of rows, 1 epoch
    python benchmarks/bench_alpha.py --dataset ndpi   # 5 seeds, 5 epochs: ~30 min
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

NAME = "alpha"
SPLIT_SEED = 0
TEST_SIZE = 0.2
NDPI_TEST_FOLD = 0
# Full-mode epochs: each dataset's run then takes about half an hour to an
# hour on 2 cores (the nDPI set is a fifth of ISCX's size, but its
# oversampled training sets are as large).
EPOCHS = {"iscx": 3, "ndpi": 5}
QUICK_FRACTION = 0.08
CE = {"alpha": None, "gamma": 0.0}

# (name, how the training rows are prepared, classifier parameters)
SETTINGS = [
    ("cross-entropy", None, CE),
    ("focal α=0.25", None, {"alpha": 0.25, "gamma": 2.0}),
    ("focal α=0.5", None, {"alpha": 0.5, "gamma": 2.0}),
    ("focal α=0.75", None, {"alpha": 0.75, "gamma": 2.0}),
    ("focal improved K=10", None,
     {"alpha": "improved", "alpha_scale": 10.0, "gamma": 2.0}),
    ("focal balanced", None, {"alpha": "balanced", "gamma": 2.0}),
    ("focal effective β=0.999", None,
     {"alpha": "effective", "beta": 0.999, "gamma": 2.0}),
    ("cross-entropy + logit adj. τ=1", "post-hoc", {"logit_adjustment": 1.0}),
    ("ROS + cross-entropy", "ros", CE),
    ("RUS + cross-entropy", "rus", CE),
    ("SMOTE + cross-entropy", "smote", CE),
    ("balanced epochs + cross-entropy", "balanced-epochs", CE),
]
PAPER = {  # Table 2: minority ("VPN") precision, recall, F1 (%), time (s).
    "cross-entropy": {"precision": 92, "recall": 92, "f1": 93, "time": 4000.15},
    "focal improved K=10": {"precision": 99, "recall": 90, "f1": 94,
                            "time": 4040.66},
    "focal α=0.5": {"precision": 91, "recall": 91, "f1": 91, "time": 4051.29},
    "focal α=0.25": {"precision": 97, "recall": 92, "f1": 94, "time": 3672.75},
    "focal α=0.75": {"precision": 88, "recall": 91, "f1": 90, "time": 4154.06},
}


def _minority(y_train, labels):
    """The three test classes with the fewest training rows, smallest first.

    On ISCX these are ``_common.ISCX_MINORITY``, in that order.
    """
    counts = {label: int(np.sum(y_train == label)) for label in labels}
    return sorted(counts, key=lambda label: (counts[label], label))[:3]


def _sampler(kind, seed, y):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    if kind == "smote":
        # SMOTE needs k + 1 rows of each class; small nDPI classes have fewer.
        smallest = np.unique(y, return_counts=True)[1].min()
        return SMOTE(k_neighbors=int(min(5, smallest - 1)), random_state=seed)
    return {"ros": RandomOverSampler,
            "rus": RandomUnderSampler}[kind](random_state=seed)


def _balanced_epoch(y, rng):
    """Row indices of one class-balanced epoch, drawn with replacement."""
    labels = np.unique(y)
    per_class = len(y) // len(labels)
    return rng.permutation(np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class) for c in labels]))


def _fit(kind, params, X, y, *, seed, epochs, batch_size, fitted):
    """Train one setting; returns the classifier and its training rows."""
    from skfocal import FocalCNNClassifier

    if kind == "post-hoc":
        # Logit adjustment acts at prediction time only: switch it on in the
        # cross-entropy network of this seed, whose own scores are taken.
        return fitted["cross-entropy"].set_params(**params), len(y)

    clf = FocalCNNClassifier(epochs=epochs, batch_size=batch_size,
                             random_state=seed, **params)
    if kind == "balanced-epochs":
        clf.set_params(epochs=1, warm_start=True)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            rows = _balanced_epoch(y, rng)
            clf.fit(X[rows], y[rows])
        return clf, len(y)
    if kind is not None:
        X, y = _sampler(kind, seed, y).fit_resample(X, y)
    return clf.fit(X, y), len(y)


def _duplicates(X, y, groups, split_rows):
    from skfocal.sampling import DropDuplicates, DuplicateConflictWarning

    train, test = split_rows(y, groups)
    before = _common.count_overlap(X[train], X[test])

    dedup = DropDuplicates()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateConflictWarning)
        X_d, y_d = dedup.fit_resample(X, y)
    groups_d = None if groups is None else groups[dedup.sample_indices_]
    train, test = split_rows(y_d, groups_d)
    after = _common.count_overlap(X_d[train], X_d[test])
    labels, counts = np.unique(y[dedup.sample_indices_], return_counts=True)
    return {
        "n_rows": len(y),
        "n_duplicate_rows": dedup.n_duplicates_,
        "n_conflicting_rows": dedup.n_conflicting_,
        "n_rows_in_conflicting_groups": len(dedup.conflicting_indices_),
        "distinct_rows_per_class": dict(zip(labels.tolist(), counts.tolist())),
        "test_rows_in_train_before": int(before.sum()),
        "test_rows_before": len(before),
        "test_rows_in_train_after": int(after.sum()),
        "test_rows_after": len(after),
    }


def replot(out):
    """Redraw the figures from the JSON in ``out``, without training."""
    import json

    with open(out / f"{NAME}.json") as f:
        payload = json.load(f)
    results = payload["results"]
    best = next(r for r in results if r["setting"] == payload["best_setting"])
    _bars_figure(results, payload["minority_classes"], out / f"{NAME}.png")
    _confusion_figure(best, np.asarray(payload["labels"]),
                      out / f"{NAME}_confusion.png")


def _iscx(args):
    """The ISCX sessions, their split and minority classes."""
    from skfocal.datasets import load_iscx_vpn2016

    X, y = load_iscx_vpn2016(args.data / "iscx-vpn2016-12class-session-l7")
    if args.quick:
        X, _, y, _ = train_test_split(X, y, train_size=QUICK_FRACTION,
                                      stratify=y, random_state=SPLIT_SEED)

    def split(y, groups):
        return train_test_split(np.arange(len(y)), test_size=TEST_SIZE,
                                stratify=y, random_state=SPLIT_SEED)

    description = (f"ISCX sessions: {len(y)} in {len(np.unique(y))} classes")
    return X, y, None, split, description, {
        "kind": "stratified train_test_split", "test_size": TEST_SIZE,
        "random_state": SPLIT_SEED}


def _ndpi(args):
    """The nDPI sessions (L7 images), their grouped split and minority classes."""
    from skfocal import PcapImageTransformer

    sessions, y, groups, set_aside = _common.load_ndpi(args.data)
    X = PcapImageTransformer(layers="l7").fit_transform(sessions)

    def split(y, groups):
        return _common.ndpi_fold(y, groups, NDPI_TEST_FOLD)

    description = (
        f"nDPI sessions: {len(y)} labelled, in {len(np.unique(y))} categories "
        f"with >= {_common.NDPI_MIN_SESSIONS} sessions, from "
        f"{len(set(groups))} captures, imaged layers='l7'; set aside: "
        f"{sum(set_aside.values())} sessions of {len(set_aside)} smaller "
        "categories")
    return X, y, groups, split, description, {
        "kind": f"fold {NDPI_TEST_FOLD} of {_common.NDPI_SPLIT}",
        "set_aside": set_aside}


def main(argv=None):
    parser = _common.make_parser(__doc__, NAME, seeds=5,
                                 epochs="3 for ISCX, 5 for nDPI")
    parser.add_argument("--dataset", choices=["iscx", "ndpi"], default="iscx",
                        help="ISCX VPN-nonVPN sessions (default) or the nDPI "
                             "captures; ndpi writes to docs/results/alpha_ndpi")
    parser.add_argument("--settings", nargs="+", default=None,
                        help="names of the settings to run (default: all)")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figures from the JSON in --out")
    parser.add_argument("--resume", action="store_true",
                        help="keep the seeds already in --out's JSON (same "
                             "dataset, epochs, batch size, settings and git "
                             "commit) and run only the others")
    args = parser.parse_args(argv)
    if args.dataset == "ndpi" and args.out == _common.RESULTS / NAME:
        args.out = _common.RESULTS / f"{NAME}_ndpi"
    if args.replot:
        return replot(args.out)
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    epochs = args.epochs or (1 if args.quick else EPOCHS[args.dataset])
    settings = [s for s in SETTINGS if not args.settings or s[0] in args.settings]
    if any(kind == "post-hoc" for _, kind, _ in settings):
        # The post-hoc setting reuses the cross-entropy network.
        settings = [SETTINGS[0]] + [s for s in settings if s != SETTINGS[0]]
    clock = _common.Clock()

    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import confusion_matrix

    from skfocal.reports import class_report

    X, y, groups, split_rows, description, split = (
        _iscx if args.dataset == "iscx" else _ndpi)(args)
    train, test = split_rows(y, groups)
    X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
    # Scores are over the classes of the test split (all of them for ISCX;
    # a grouped nDPI fold may lack a category's captures).
    labels = np.unique(y_test)
    minority = _minority(y_train, labels)
    unseen = ~_common.count_overlap(X_train, X_test)
    duplicates = _duplicates(X, y, groups, split_rows)
    split.update({"n_train": len(y_train), "n_test": len(y_test),
                  "n_test_unseen": int(unseen.sum()),
                  "train_captures": None if groups is None
                  else len(set(groups[train])),
                  "test_captures": None if groups is None
                  else len(set(groups[test]))})
    print(f"{description}; split {split['kind']}: {len(y_train)} train, "
          f"{len(y_test)} test; minority classes: {', '.join(minority)}",
          flush=True)
    print(f"duplicates: {duplicates['n_duplicate_rows']} rows repeat an earlier "
          f"one ({duplicates['n_conflicting_rows']} with another label); "
          f"{duplicates['test_rows_in_train_before']} of "
          f"{duplicates['test_rows_before']} test images occur in the training "
          f"split, {duplicates['test_rows_in_train_after']} of "
          f"{duplicates['test_rows_after']} after DropDuplicates", flush=True)
    print(f"seeds {seeds}; {len(settings)} settings; {epochs} epochs, batch "
          f"{args.batch_size}", flush=True)

    runs = {name: [] for name, _, _ in settings}
    confusion = {name: np.zeros((len(labels),) * 2, dtype=int)
                 for name, _, _ in settings}
    done, earlier_s = [], 0.0
    if args.resume:
        done, earlier_s = _resume(args, epochs, settings, labels, runs,
                                  confusion)
        print(f"resumed: seeds {done} read from {args.out}/{NAME}.json",
              flush=True)
        if set(seeds) <= set(done):
            raise SystemExit(f"--resume: seeds {seeds} are all done")
    for seed in seeds:
        if seed in done:
            continue
        fitted = {}
        for name, kind, params in settings:
            start = _common.Clock()
            clf, n_train = _fit(kind, params, X_train, y_train, seed=seed,
                                epochs=epochs, batch_size=args.batch_size,
                                fitted=fitted)
            fit_time = start()
            fitted[name] = clf
            y_pred = clf.predict(X_test)
            report = class_report(y_test, y_pred, labels=labels)
            report["geometric_mean_imblearn"] = float(
                geometric_mean_score(y_test, y_pred, labels=labels))
            unseen_f1 = class_report(y_test[unseen], y_pred[unseen],
                                     labels=labels)["macro_f1"]
            confusion[name] += confusion_matrix(y_test, y_pred, labels=labels)
            runs[name].append({
                "seed": seed, "fit_time": fit_time, "n_train": n_train,
                "report": report, "macro_f1_unseen": unseen_f1,
            })
            minority_f1 = np.mean([report["classes"][c]["f1"] for c in minority])
            print(f"{clock.stamp()} seed {seed}, {name}: {n_train} training "
                  f"rows, {fit_time:.0f} s, macro-F1 {report['macro_f1']:.3f}, "
                  f"minority F1 {minority_f1:.3f}", flush=True)

        # Rewritten after every seed, so an interrupted run leaves a table.
        results = [_result(name, kind, params, runs[name], confusion[name],
                           minority)
                   for name, kind, params in settings]
        best = max(results, key=lambda r: r["summary"]["macro_f1"]["mean"])
        tables = [_class_table(results, labels), _summary_table(results)]
        payload = {
            "benchmark": NAME, "dataset": args.dataset, "quick": args.quick,
            "seeds": seeds,
            "seeds_done": [s for s in seeds if s in done or s <= seed],
            "epochs": epochs,
            "batch_size": args.batch_size, "split": split,
            "duplicates": duplicates, "labels": labels.tolist(),
            "minority_classes": minority,
            "training_rows_per_class": dict(zip(
                *(v.tolist() for v in np.unique(y_train, return_counts=True)))),
            "best_setting": best["setting"], "results": results,
            "paper_table_2": PAPER if args.dataset == "iscx" else None,
            "environment": _common.environment(),
            "elapsed_s": earlier_s + clock(),
        }
        _common.write_outputs(args.out, NAME, payload, tables)
        _bars_figure(results, minority, args.out / f"{NAME}.png")
        _confusion_figure(best, labels, args.out / f"{NAME}_confusion.png")

    print(f"{clock.stamp()} wrote {args.out}/{NAME}.json, .md and .png")
    print(f"seeds {seeds}; split {split['kind']}; best mean macro-F1: "
          f"{best['setting']}")
    print()
    print("\n\n".join(tables))
    return payload


def _resume(args, epochs, settings, labels, runs, confusion):
    """Fill ``runs`` and ``confusion`` from an earlier, interrupted run.

    Returns the seeds it had finished and the time it took. Refuses a JSON
    written with other settings or by other code, since its seeds would not
    be comparable.
    """
    import json

    path = args.out / f"{NAME}.json"
    if not path.exists():
        raise SystemExit(f"--resume: {path} does not exist")
    with open(path) as f:
        earlier = json.load(f)
    wanted = {"dataset": args.dataset, "quick": args.quick, "epochs": epochs,
              "batch_size": args.batch_size, "labels": labels.tolist(),
              "settings": [name for name, _, _ in settings]}
    found = dict(earlier, settings=[r["setting"] for r in earlier["results"]])
    differ = [k for k in wanted if found.get(k) != wanted[k]]
    # Seeds computed by other code would not be comparable either; a checkout
    # with uncommitted changes cannot show that its code is the same.
    code = _common.code_version()
    if (code is None or code.endswith("+changes")
            or earlier.get("environment", {}).get("code") != code):
        differ.append("code (git commit of skfocal/ and benchmarks/)")
    if differ:
        raise SystemExit(f"--resume: {path} was written with other "
                         f"{', '.join(differ)}; run without --resume")
    for r in earlier["results"]:
        runs[r["setting"]].extend(r["per_seed"])
        confusion[r["setting"]] += np.asarray(
            r["confusion_matrix_summed_over_seeds"], dtype=int)
    return earlier["seeds_done"], float(earlier.get("elapsed_s", 0.0))


def _result(name, kind, params, runs, confusion, minority):
    reports = [r["report"] for r in runs]
    summary = _common.summarize_reports(reports, minority)
    summary["geometric_mean_imblearn"] = _common.stats(
        [r["geometric_mean_imblearn"] for r in reports])
    summary["macro_f1_unseen"] = _common.stats(
        [r["macro_f1_unseen"] for r in runs])
    return {
        "setting": name, "training_rows": kind or "as split",
        "params": {k: v for k, v in params.items()},
        "per_seed": runs, "summary": summary,
        "fit_time": _common.stats([r["fit_time"] for r in runs]),
        "confusion_matrix_summed_over_seeds": confusion,
    }


def _class_table(results, labels):
    header = ["setting", *labels.tolist()]
    rows = [[r["setting"], *(f"{100 * r['summary']['classes'][c]['f1']['mean']:.1f}"
                             for c in labels)] for r in results]
    return "Per-class F1 (%), mean over seeds\n\n" + _common.markdown_table(
        header, rows)


def _summary_table(results):
    rows = []
    for r in results:
        s = r["summary"]
        time_note = " (CE fit)" if r["training_rows"] == "post-hoc" else ""
        rows.append([
            r["setting"],
            *(_common.pm(s["minority_mean"][m]) for m in _common.METRICS),
            _common.pm(s["macro_f1"]), _common.pm(s["balanced_accuracy"]),
            _common.pm(s["geometric_mean_imblearn"]),
            _common.pm(s["macro_f1_unseen"]),
            f"{r['fit_time']['mean']:.0f}{time_note}",
        ])
    return _common.markdown_table(
        ["setting", "minority P %", "minority R %", "minority F1 %",
         "macro-F1 %", "balanced acc. %", "G-mean %", "macro-F1 unseen %",
         "fit s"], rows)


def _bars_figure(results, minority, path):
    panels = [*minority, "minority mean"]
    fig, axes = _common.new_figure(len(panels), 1, figsize=(12, 2.6 * len(panels)),
                                   sharex=True)
    names = [r["setting"] for r in results]
    for ax, panel in zip(axes, panels):
        values, errors = [], []
        for m in _common.METRICS:
            s = [(r["summary"]["minority_mean"] if panel == "minority mean"
                  else r["summary"]["classes"][panel])[m] for r in results]
            values.append([100 * v["mean"] for v in s])
            errors.append([100 * v["std"] for v in s])
        _common.grouped_bars(ax, names, ["precision", "recall", "F1"], values,
                             errors, ylabel="%", ylim=(0, 118))
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(panel, fontsize=10)
    axes[0].legend(loc="upper center", fontsize=8, ncol=3)
    axes[-1].tick_params(axis="x", labelrotation=30)
    for label in axes[-1].get_xticklabels():
        label.set_horizontalalignment("right")
    _common.save_figure(fig, path)


def _confusion_figure(best, labels, path):
    matrix = np.asarray(best["confusion_matrix_summed_over_seeds"], dtype=float)
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = _common.new_figure(figsize=(7.5, 6.5))
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, f"{recall[i, j]:.2f}", ha="center", va="center",
                        fontsize=6, color="white" if recall[i, j] > 0.5 else "k")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{best['setting']}: row-normalised confusion, summed over "
                 f"{len(best['per_seed'])} seeds", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
