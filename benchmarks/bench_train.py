"""Training speed: the bare Keras model against FocalCNNClassifier's modes.

Prints images per second of one training epoch, measured as the time of a
fit of ``1 + epochs`` epochs minus that of a 1-epoch fit (so graph tracing
and set-up are not counted), on the real ISCX VPN-nonVPN sessions, in wall
time and in CPU time (all threads). Ratios are of CPU time, against the
bare Keras model with cross-entropy, in the same run: on 2 shared cores the
wall time of one setting swings by a third between rounds, with the work
the same. Each setting is timed once per round, all settings in turn, and
its best round is reported.

    python benchmarks/bench_train.py            # 23,000 sessions, 3 epochs, 3 rounds
    python benchmarks/bench_train.py --quick    # 3,000 sessions, 2 epochs, 1 round
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from skfocal import FocalCNNClassifier  # noqa: E402
from skfocal._network import build_cnn  # noqa: E402
from skfocal.datasets import load_iscx_vpn2016  # noqa: E402

DEFAULT_DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data"
                / "iscx-vpn2016-12class-session-l7")

SETTINGS = [
    ("FocalCNNClassifier, cross-entropy", dict(alpha=None, gamma=0.0)),
    ("focal, alpha=None", dict(alpha=None, gamma=2.0)),
    ("focal, alpha=0.25", dict(alpha=0.25, gamma=2.0)),
    ("focal, alpha='improved'", dict(alpha="improved", gamma=2.0)),
    ("focal, alpha='balanced'", dict(alpha="balanced", gamma=2.0)),
    ("focal, alpha='effective'", dict(alpha="effective", gamma=2.0)),
]


def _bare_fit_time(X, y, epochs, batch_size, seed):
    model = build_cnn(len(np.unique(y)), seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = _clock()
    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return _clock() - start


def _wrapper_fit_time(X, y, epochs, batch_size, seed, params):
    clf = FocalCNNClassifier(epochs=epochs, batch_size=batch_size,
                             random_state=seed, **params)
    start = _clock()
    clf.fit(X, y)
    return _clock() - start


def _clock():
    """Wall time and the CPU time of all the process's threads."""
    return np.array([time.perf_counter(), time.process_time()])


def _epoch_rate(fit_time, n, epochs):
    """Images per second of wall time and per second of CPU time.

    One warm-up epoch is fitted in both runs; the difference is pure epochs.
    """
    extra = fit_time(1 + epochs) - fit_time(1)
    return n * epochs / extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=None,
                        help="times every setting is timed; the best counts")
    parser.add_argument("--json", default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    n = args.n_samples or (3000 if args.quick else 23000)
    epochs = args.epochs or (2 if args.quick else 3)
    rounds = args.rounds or (1 if args.quick else 3)

    X, y = load_iscx_vpn2016(args.data, return_names=False)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(y))[:n]
    X, y = X[rows], y[rows].astype(np.int32)
    print(f"{n} ISCX sessions, {epochs} timed epochs, batch {args.batch_size}, "
          f"{rounds} rounds", flush=True)

    # Every round times every setting, one after the other, so that a slow
    # spell of a shared machine hits all of them alike; the best round
    # counts, since noise only ever adds time.
    timers = [("bare Keras model, cross-entropy",
               lambda e: _bare_fit_time(X, y, e, args.batch_size, 0))]
    for name, params in SETTINGS:
        timers.append((name, lambda e, params=params: _wrapper_fit_time(
            X, y, e, args.batch_size, 0, params)))
    rates = {name: [] for name, _ in timers}
    for round_ in range(rounds):
        for name, fit_time in timers:
            wall, cpu = _epoch_rate(fit_time, n, epochs)
            rates[name].append({"wall": wall, "cpu": cpu})
            print(f"round {round_ + 1}: {name}: {wall:.0f} images/s, "
                  f"{cpu:.0f} images per CPU second", flush=True)
    results = [
        {"setting": name,
         "images_per_s": max(r["wall"] for r in values),
         "images_per_cpu_s": max(r["cpu"] for r in values),
         "rounds": values}
        for name, values in rates.items()
    ]  # fmt: skip

    lines = ["| setting | images/s | images per CPU s | CPU time vs bare Keras "
             "| CPU time vs wrapper CE |",
             "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    bare, wrapper_ce = (results[i]["images_per_cpu_s"] for i in (0, 1))
    for result in results:
        wall, cpu = result["images_per_s"], result["images_per_cpu_s"]
        result["cpu_time_ratio_vs_bare"] = bare / cpu
        result["cpu_time_ratio_vs_wrapper_ce"] = wrapper_ce / cpu
        lines.append(f"| {result['setting']} | {wall:.0f} | {cpu:.0f} | "
                     f"{bare / cpu:.3f} | {wrapper_ce / cpu:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n_samples": n, "epochs": epochs, "rounds": rounds,
                       "batch_size": args.batch_size, "results": results}, f,
                      indent=2)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
