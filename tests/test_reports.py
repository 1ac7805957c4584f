"""Per-class tables."""

import numpy as np

from skfocal.reports import class_report, format_class_report, format_summary


def test_class_report_scores_every_label_even_unpredicted():
    report = class_report(["a", "a", "b", "c"], ["a", "a", "a", "c"],
                          labels=["a", "b", "c"])
    assert report["classes"]["b"] == {"precision": 0.0, "recall": 0.0,
                                      "f1": 0.0, "support": 1}
    assert report["geometric_mean"] == 0.0
    assert np.isclose(report["balanced_accuracy"], 2 / 3)


def test_tables_are_markdown_with_the_minority_columns():
    report = class_report(["a", "a", "b"], ["a", "b", "b"])
    text = format_class_report(report, title="x")
    assert text.startswith("### x") and "| b | 0.500 | 1.000 | 0.667 | 1 |" in text
    summary = format_summary([{"setting": "s", "report": report, "fit_time": 1.0,
                               "cv_macro_f1": (0.5, 0.1)}], minority="b")
    assert "| s | 0.500 ± 0.100 |" in summary and "b F1" in summary
