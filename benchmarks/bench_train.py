"""Training speed: the bare Keras model against FocalCNNClassifier's modes.

Prints images per second of one training epoch, measured as the time of a
fit of ``1 + epochs`` epochs minus that of a 1-epoch fit (so graph tracing
and set-up are not counted), on the real ISCX VPN-nonVPN sessions. Ratios
are against the bare Keras model with cross-entropy, in the same run.

    python benchmarks/bench_train.py            # 23,000 sessions, 3 epochs
    python benchmarks/bench_train.py --quick    # 3,000 sessions, 2 epochs
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
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return time.perf_counter() - start


def _wrapper_fit_time(X, y, epochs, batch_size, seed, params):
    clf = FocalCNNClassifier(epochs=epochs, batch_size=batch_size,
                             random_state=seed, **params)
    start = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - start


def _epoch_rate(fit_time, n, epochs):
    # One warm-up epoch is fitted in both runs; the difference is pure epochs.
    extra = fit_time(1 + epochs) - fit_time(1)
    return n * epochs / extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    n = args.n_samples or (3000 if args.quick else 23000)
    epochs = args.epochs or (2 if args.quick else 3)

    X, y = load_iscx_vpn2016(args.data, return_names=False)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(y))[:n]
    X, y = X[rows], y[rows].astype(np.int32)
    print(f"{n} ISCX sessions, {epochs} timed epochs, batch {args.batch_size}",
          flush=True)

    results = []
    rate = _epoch_rate(
        lambda e: _bare_fit_time(X, y, e, args.batch_size, 0), n, epochs)
    results.append({"setting": "bare Keras model, cross-entropy",
                    "images_per_s": rate})
    print(f"bare Keras model: {rate:.0f} images/s", flush=True)
    for name, params in SETTINGS:
        rate = _epoch_rate(
            lambda e: _wrapper_fit_time(X, y, e, args.batch_size, 0, params),
            n, epochs)
        results.append({"setting": name, "images_per_s": rate})
        print(f"{name}: {rate:.0f} images/s", flush=True)

    bare = results[0]["images_per_s"]
    wrapper_ce = results[1]["images_per_s"]
    lines = ["| setting | images/s | time vs bare Keras | time vs wrapper CE |",
             "| --- | ---: | ---: | ---: |"]
    for result in results:
        r = result["images_per_s"]
        result["time_ratio_vs_bare"] = bare / r
        result["time_ratio_vs_wrapper_ce"] = wrapper_ce / r
        lines.append(f"| {result['setting']} | {r:.0f} | {bare / r:.3f} | "
                     f"{wrapper_ce / r:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n_samples": n, "epochs": epochs,
                       "batch_size": args.batch_size, "results": results}, f,
                      indent=2)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
