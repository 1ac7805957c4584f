"""The result benchmarks run in quick mode and leave complete outputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# script and its arguments, output name, fixture of its data, keys of its JSON
SCRIPTS = [
    (["bench_sampling_limit.py"], "sampling_limit", "iscx_dir",
     {"seeds", "split", "epochs", "caps", "results", "paper_table_1"}),
    (["bench_alpha.py"], "alpha", "iscx_dir",
     {"seeds", "split", "epochs", "duplicates", "results", "best_setting",
      "paper_table_2", "minority_classes"}),
    (["bench_alpha.py", "--dataset", "ndpi"], "alpha", "ndpi_dir",
     {"seeds", "split", "epochs", "duplicates", "results", "best_setting",
      "minority_classes"}),
    (["bench_shortcuts.py"], "shortcuts", "ndpi_dir",
     {"seeds", "split", "epochs", "set_aside", "results", "min_sessions"}),
]
IDS = ["sampling_limit", "alpha", "alpha_ndpi", "shortcuts"]


def _import_benchmark(name):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_plugin_mutual_information_matches_scikit_learn():
    from sklearn.feature_selection import mutual_info_classif

    bench = _import_benchmark("bench_shortcuts")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=400)
    X = rng.integers(0, 256, size=(400, 12))
    X[:, 0] = 7 * y
    X[:, 1] = 0

    bits = bench._plugin_mi(X, y, 3)

    expected = mutual_info_classif(X, y, discrete_features=True) / np.log(2)
    np.testing.assert_allclose(bits, expected, atol=1e-12)
    assert bits[0] == pytest.approx(np.log2(3), abs=0.02)
    assert bits[1] == 0


def test_count_overlap_finds_identical_rows():
    common = _import_benchmark("_common")
    train = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    test = np.array([[3, 4], [4, 3], [1, 2]], dtype=np.uint8)
    assert common.count_overlap(train, test).tolist() == [True, False, True]


def test_summarize_reports_means_and_sample_std():
    common = _import_benchmark("_common")
    from skfocal.reports import class_report

    reports = [class_report(["a", "a", "b"], pred) for pred in
               (["a", "a", "b"], ["a", "b", "b"])]
    summary = common.summarize_reports(reports, ["b"])
    recall_a = summary["classes"]["a"]["recall"]
    assert recall_a["values"] == [1.0, 0.5]
    assert recall_a["mean"] == 0.75
    assert recall_a["std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert summary["minority_mean"]["recall"]["mean"] == 1.0


def test_markdown_tables_become_rst_simple_tables():
    common = _import_benchmark("_common")
    text = ("Per class\n\n| setting | F1 % |\n| --- | ---: |\n| a | 1.0 |\n"
            "|  | 22.5 |\n\nafter")
    assert common.markdown_to_rst(text).splitlines() == [
        "Per class", "",
        "=======  ====", "setting  F1 %", "=======  ====",
        "a        1.0", "\\        22.5", "=======  ====",
        "", "after",
    ]


def test_minority_classes_are_the_smallest_in_training():
    bench = _import_benchmark("bench_alpha")
    y_train = np.array(["a"] * 5 + ["b"] * 2 + ["c"] * 9 + ["d"] * 2 + ["e"])
    # "e" is not in the test split: it cannot be scored, so it is not chosen.
    labels = np.array(["a", "b", "c", "d"])
    assert bench._minority(y_train, labels) == ["b", "d", "a"]


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("script, name, data, keys", SCRIPTS, ids=IDS)
def test_quick_run_writes_table_json_and_figures(request, tmp_path, script,
                                                  name, data, keys):
    # The fixture skips the test, saying why, when the data is absent.
    shared = request.getfixturevalue(data).parent
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script[0]), *script[1:], "--quick",
         "--data",
         str(shared), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    payload = json.loads((tmp_path / f"{name}.json").read_text())
    assert keys <= set(payload)
    assert payload["quick"] is True
    assert payload["seeds_done"] == payload["seeds"] == [0, 1]
    for result in payload["results"]:
        assert len(result["per_seed"]) == 2
    assert list(tmp_path.glob("*.png"))

    # The table is the last thing printed, and it is the one written.
    table = (tmp_path / f"{name}.md").read_text().strip()
    assert completed.stdout.strip().endswith(table.splitlines()[-1])
    assert "seeds [0, 1]" in completed.stdout
    assert "split" in completed.stdout
