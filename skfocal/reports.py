"""Per-class metric tables: precision, recall, F1 and support, as text."""

import numpy as np
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    precision_recall_fscore_support,
)

__all__ = ["class_report", "format_class_report", "format_summary"]


def class_report(y_true, y_pred, *, labels=None):
    """Per-class precision, recall, F1 and support, plus overall scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like, default=None
        The classes to report, in order; by default the sorted union of
        ``y_true`` and ``y_pred``.

    Returns
    -------
    report : dict
        ``'classes'`` maps each label (as str) to a dict of precision,
        recall, f1 and support; ``'macro_f1'``, ``'balanced_accuracy'``,
        ``'accuracy'`` and ``'geometric_mean'`` hold the overall scores.

    Examples
    --------
    >>> report = class_report(["a", "a", "b"], ["a", "b", "b"])
    >>> report["classes"]["b"]["precision"], report["macro_f1"]
    (0.5, 0.6666666666666666)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    classes = {
        str(label): {
            "precision": float(p), "recall": float(r),
            "f1": float(f), "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    # The geometric mean of the per-class recalls (imbalanced-learn's
    # definition); one class never found makes it 0.
    present = support > 0
    g_mean = float(np.prod(recall[present]) ** (1 / max(present.sum(), 1)))
    return {
        "classes": classes,
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels,
                                   average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "geometric_mean": g_mean,
    }


def format_class_report(report, *, title=None):
    """Render a :func:`class_report` as a Markdown table.

    Parameters
    ----------
    report : dict
        As returned by :func:`class_report`.
    title : str, default=None
        A heading line put above the table.

    Returns
    -------
    text : str
        The table, classes in the report's order, then the overall scores.
    """
    lines = [f"### {title}", ""] if title else []
    lines += ["| class | precision | recall | F1 | support |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for label, m in report["classes"].items():
        lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} "
                     f"| {m['f1']:.3f} | {m['support']} |")
    lines.append("")
    lines.append(f"macro-F1 {report['macro_f1']:.3f}, balanced accuracy "
                 f"{report['balanced_accuracy']:.3f}, accuracy "
                 f"{report['accuracy']:.3f}, geometric mean "
                 f"{report['geometric_mean']:.3f}")
    return "\n".join(lines)


def format_summary(results, *, minority):
    """One row per setting: overall scores and the minority class's.

    Parameters
    ----------
    results : list of dict
        Each with ``'setting'``, ``'report'`` (a :func:`class_report`),
        ``'fit_time'`` and optionally ``'cv_macro_f1'`` (mean, std).
    minority : str
        The label of the class to show in its own columns.

    Returns
    -------
    text : str
        A Markdown table.
    """
    lines = [
        f"| setting | CV macro-F1 | test macro-F1 | balanced acc. | "
        f"{minority} P | {minority} R | {minority} F1 | fit time (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        report = result["report"]
        m = report["classes"].get(str(minority), {})
        cv = result.get("cv_macro_f1")
        cv_text = f"{cv[0]:.3f} ± {cv[1]:.3f}" if cv else "–"
        lines.append(
            f"| {result['setting']} | {cv_text} | {report['macro_f1']:.3f} | "
            f"{report['balanced_accuracy']:.3f} | {m.get('precision', 0):.3f} | "
            f"{m.get('recall', 0):.3f} | {m.get('f1', 0):.3f} | "
            f"{result['fit_time']:.1f} |"
        )
    return "\n".join(lines)
