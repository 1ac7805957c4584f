"""Shortcut audit on the nDPI captures: which bytes does the model lean on?

Sessions are extracted from the nDPI regression captures with skfocal and
labelled with nDPI's category (flows.csv). Categories with fewer than 20
sessions are set aside. The sessions are split GROUPED by capture file into
5 folds (StratifiedGroupKFold, shuffled with random_state=0), so that no
capture feeds both sides; repetition (seed) s tests on fold s and trains on
the others, with network seed s. Five seeds are a grouped 5-fold
cross-validation: every session is tested once.

Three imagings of the same sessions are compared: layers='all' with the
addresses kept (anonymize=False), layers='all' with MAC and IP addresses
zeroed (anonymize=True), and layers='l7' (payload only). For each, the
benchmark reports

- the mutual information (bits) between each byte position and the label,
  over all kept sessions (plug-in estimate from the joint histogram of byte
  value and label, as sklearn's mutual_info_classif with discrete features
  computes it), beside the same estimate with shuffled labels, which shows
  the estimator's bias;
- the macro-F1 of a FocalCNNClassifier trained with cross-entropy, on clean
  test rows and on test rows whose first k bytes (k = 20, 40, 60), address
  fields, or address fields and ports are zeroed at test time. Address and
  port zeroing use PcapImageTransformer(anonymize=True, anonymize_ports=...)
  on the same sessions, so the spans are exact.

    python benchmarks/bench_shortcuts.py            # 5 seeds, 10 epochs
    python benchmarks/bench_shortcuts.py --quick    # CI: 2 seeds, 1 epoch
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402

NAME = "shortcuts"
ZERO_FIRST = (20, 40, 60)
# (name, PcapImageTransformer parameters used for training)
IMAGINGS = [
    ("all, addresses kept", {"layers": "all", "anonymize": False}),
    ("all, addresses zeroed", {"layers": "all", "anonymize": True}),
    ("l7", {"layers": "l7", "anonymize": True}),
]


def _images(sessions, params, **override):
    from skfocal import PcapImageTransformer

    return PcapImageTransformer(**{**params, **override}).fit_transform(sessions)


def _plugin_mi(X, codes, n_classes):
    """Plug-in mutual information (bits) of each byte column with the label.

    One joint histogram (byte value x class) per column, all in one bincount;
    the same estimate as sklearn's mutual_info_classif with discrete
    features, in a fraction of the time.
    """
    n, d = X.shape
    cells = (np.arange(d) * 256 * n_classes)[None, :] + codes[:, None] * 256 + X
    joint = np.bincount(cells.ravel(), minlength=d * 256 * n_classes)
    joint = joint.reshape(d, n_classes, 256) / n
    p_class = joint.sum(axis=2, keepdims=True)
    p_byte = joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = joint * np.log2(joint / (p_class * p_byte))
    return np.nansum(terms, axis=(1, 2))


def _mutual_information(X, y, seed):
    labels, codes = np.unique(y, return_inverse=True)
    mi = _plugin_mi(X.astype(np.int64), codes, len(labels))
    shuffled = np.random.default_rng(seed).permutation(codes)
    floor = _plugin_mi(X.astype(np.int64), shuffled, len(labels))
    return mi, floor


def main(argv=None):
    parser = _common.make_parser(__doc__, NAME, seeds=5, epochs=10)
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figures from the JSON in --out")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    epochs = args.epochs or (1 if args.quick else 10)
    clock = _common.Clock()

    from skfocal import FocalCNNClassifier
    from skfocal.reports import class_report

    sessions, y, groups, set_aside = _common.load_ndpi(args.data)
    labels = np.unique(y)
    print(f"nDPI sessions: {len(y)} labelled in {len(labels)} categories with "
          f">= {_common.NDPI_MIN_SESSIONS} sessions, from {len(set(groups))} "
          "captures; set "
          f"aside: {sum(set_aside.values())} sessions of {len(set_aside)} "
          f"smaller categories", flush=True)

    rows, perturbed, mi = {}, {}, {}
    for name, params in IMAGINGS:
        rows[name] = _images(sessions, params)
        perturbed[name] = {
            "addresses zeroed": _images(sessions, params, anonymize=True),
            "addresses and ports zeroed": _images(
                sessions, params, anonymize=True, anonymize_ports=True),
        }
        values, floor = _mutual_information(rows[name], y, seed=0)
        order = np.argsort(-values)[:20]
        mi[name] = {"bits": values, "shuffled_labels_bits": floor,
                    "top20_positions": order, "top20_bits": values[order]}
        print(f"{clock.stamp()} {name}: MI max {values.max():.2f} bits at byte "
              f"{order[0]}; shuffled-label floor mean {floor.mean():.3f}",
              flush=True)

    splits, runs = [], {name: [] for name, _ in IMAGINGS}
    for seed in seeds:
        train, test = _common.ndpi_fold(y, groups, seed)
        test_labels = np.unique(y[test])
        splits.append({
            "seed": seed, "fold": seed % _common.NDPI_FOLDS,
            "n_train": len(train),
            "n_test": len(test),
            "train_captures": len(set(groups[train])),
            "test_captures": len(set(groups[test])),
            "test_classes": test_labels.tolist(),
            "test_classes_missing_from_train": np.setdiff1d(
                test_labels, y[train]).tolist(),
        })
        print(f"seed {seed}: grouped split, fold {seed % _common.NDPI_FOLDS}: "
              f"{len(train)} train sessions ({splits[-1]['train_captures']} "
              f"captures), {len(test)} test "
              f"({splits[-1]['test_captures']} captures, "
              f"{len(test_labels)} categories)", flush=True)
        for name, _ in IMAGINGS:
            clf = FocalCNNClassifier(alpha=None, gamma=0.0, epochs=epochs,
                                     batch_size=args.batch_size,
                                     random_state=seed)
            start = _common.Clock()
            clf.fit(rows[name][train], y[train])
            fit_time = start()
            scores = {}
            variants = _test_variants(rows[name], perturbed[name], test)
            for variant, X_test in variants.items():
                with warnings.catch_warnings():
                    # A test split may lack classes the model predicts.
                    warnings.filterwarnings("ignore", "y_pred contains classes")
                    report = class_report(y[test], clf.predict(X_test),
                                          labels=test_labels)
                scores[variant] = {
                    "macro_f1": report["macro_f1"],
                    "balanced_accuracy": report["balanced_accuracy"],
                    "rows_changed": float(np.mean(
                        np.any(X_test != rows[name][test], axis=1))),
                }
            runs[name].append({"seed": seed, "fit_time": fit_time,
                               "scores": scores})
            drops = ", ".join(
                f"{v} {scores['clean']['macro_f1'] - s['macro_f1']:+.3f}"
                for v, s in scores.items() if v != "clean")
            print(f"{clock.stamp()} seed {seed}, {name}: macro-F1 "
                  f"{scores['clean']['macro_f1']:.3f}; drops: {drops}",
                  flush=True)

        results = [_result(name, params, runs[name], mi[name])
                   for name, params in IMAGINGS]
        table = _table(results)
        payload = {
            "benchmark": NAME, "quick": args.quick, "seeds": seeds,
            "seeds_done": seeds[:seeds.index(seed) + 1], "epochs": epochs,
            "batch_size": args.batch_size, "loss": "cross-entropy",
            "label": "nDPI category", "min_sessions": _common.NDPI_MIN_SESSIONS,
            "n_sessions": len(y), "classes": labels.tolist(),
            "class_counts": {str(k): int((y == k).sum()) for k in labels},
            "class_captures": {str(k): len(set(groups[y == k])) for k in labels},
            "set_aside": set_aside,
            "split": {"kind": f"{_common.NDPI_SPLIT}; seed s tests on fold s",
                      "per_seed": splits},
            "results": results, "environment": _common.environment(),
            "elapsed_s": clock(),
        }
        _common.write_outputs(args.out, NAME, payload, [table])
        _mi_figure(results, args.out / f"{NAME}_mi.png")
        _drop_figure(results, args.out / f"{NAME}.png")

    print(f"{clock.stamp()} wrote {args.out}/{NAME}.json, .md and .png")
    print(f"seeds {seeds}; split grouped by capture file: "
          f"{_common.NDPI_SPLIT}; seed s tests on fold s")
    print()
    print(table)
    return payload


def _test_variants(X, perturbed, test):
    variants = {"clean": X[test]}
    for k in ZERO_FIRST:
        zeroed = X[test].copy()
        zeroed[:, :k] = 0
        variants[f"first {k} bytes zeroed"] = zeroed
    for name, rows in perturbed.items():
        variants[name] = rows[test]
    return variants


def _result(name, params, runs, mi):
    variants = list(runs[0]["scores"])
    clean = [r["scores"]["clean"]["macro_f1"] for r in runs]
    summary = {}
    for v in variants:
        f1 = [r["scores"][v]["macro_f1"] for r in runs]
        summary[v] = {
            "macro_f1": _common.stats(f1),
            "drop": _common.stats(np.subtract(clean, f1)),
            "rows_changed": _common.stats(
                [r["scores"][v]["rows_changed"] for r in runs]),
        }
    return {"imaging": name, "params": params, "per_seed": runs,
            "summary": summary, "mutual_information": mi,
            "fit_time": _common.stats([r["fit_time"] for r in runs])}


def _table(results):
    variants = [v for v in results[0]["summary"] if v != "clean"]
    rows = []
    for r in results:
        s = r["summary"]
        top = ", ".join(str(p) for p in r["mutual_information"]["top20_positions"][:5])
        rows.append([r["imaging"], _common.pm(s["clean"]["macro_f1"]),
                     *(_common.pm(s[v]["drop"]) for v in variants), top])
    header = ["imaging", "macro-F1 %",
              *(f"drop: {v} (pts)" for v in variants), "top-MI bytes"]
    return _common.markdown_table(header, rows)


def _mi_figure(results, path):
    import matplotlib.pyplot as plt

    fig, axes = _common.new_figure(2, len(results),
                                   figsize=(4.2 * len(results), 7.6))
    rows = [("bits", "plug-in MI (bits)"),
            ("excess", "MI minus the shuffled-label estimate (bits)")]
    for (kind, label), row in zip(rows, axes):
        maps = []
        for r in results:
            mi = r["mutual_information"]
            bits = np.asarray(mi["bits"])
            if kind == "excess":
                bits = np.clip(bits - np.asarray(mi["shuffled_labels_bits"]), 0,
                               None)
            maps.append(bits)
        vmax = max(float(m.max()) for m in maps)
        for ax, r, bits in zip(row, results, maps):
            side = int(np.sqrt(bits.size))
            image = ax.imshow(bits.reshape(side, side), cmap="viridis", vmin=0,
                              vmax=vmax)
            ax.set_title(r["imaging"], fontsize=10)
            ax.set_xticks([0, 7, 14, 21, 27])
            ax.set_yticks([0, 7, 14, 21, 27])
        fig.colorbar(image, ax=list(row), fraction=0.02, label=label)
    fig.suptitle("Mutual information of each byte position with the nDPI "
                 "category (row-major 28x28, byte 0 top left)", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot(out):
    """Redraw the figures from the JSON in ``out``, without training."""
    import json

    with open(out / f"{NAME}.json") as f:
        results = json.load(f)["results"]
    _mi_figure(results, out / f"{NAME}_mi.png")
    _drop_figure(results, out / f"{NAME}.png")


def _drop_figure(results, path):
    variants = list(results[0]["summary"])
    fig, ax = _common.new_figure(figsize=(10, 3.8))
    values = [[100 * r["summary"][v]["macro_f1"]["mean"] for v in variants]
              for r in results]
    errors = [[100 * r["summary"][v]["macro_f1"]["std"] for v in variants]
              for r in results]
    _common.grouped_bars(ax, [v.replace(" zeroed", "\nzeroed") for v in variants],
                         [r["imaging"] for r in results], values, errors,
                         ylabel="test macro-F1 %")
    ax.legend(fontsize=8)
    ax.set_title("Macro-F1 with bytes zeroed at test time (grouped split, "
                 "mean ± std over seeds)", fontsize=10)
    _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
