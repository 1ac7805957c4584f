"""The whole path: captures -> sessions -> images -> CNN, in sklearn tools."""

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline

from skfocal import FocalCNNClassifier, PcapImageTransformer
from skfocal.datasets import load_labelled_captures


def _pipeline():
    return Pipeline([
        ("img", PcapImageTransformer()),
        ("cnn", FocalCNNClassifier(alpha="improved", epochs=1, batch_size=64,
                                   random_state=0)),
    ])


@pytest.fixture(scope="module")
def ndpi_sample(ndpi_dir):
    X, y, groups = load_labelled_captures(ndpi_dir / "pcap",
                                          ndpi_dir / "flows.csv")
    # Four categories of different sizes, at most 60 sessions each, keep the
    # test fast while the classes stay imbalanced.
    rng = np.random.default_rng(0)
    keep = []
    for label, cap in [("Web", 60), ("Network", 60), ("Chat", 30), ("VoIP", 15)]:
        rows = np.flatnonzero(y == label)
        keep.extend(rng.choice(rows, size=min(cap, len(rows)), replace=False))
    keep = np.sort(keep)
    return [X[i] for i in keep], y[keep]


@pytest.mark.shared_data
def test_pipeline_fits_and_predicts_real_sessions(ndpi_sample):
    X, y = ndpi_sample
    pipe = _pipeline()
    assert is_classifier(pipe)
    pipe.fit(X, y)
    predicted = pipe.predict(X)
    assert predicted.shape == (len(X),)
    assert set(predicted) <= set(y)
    proba = pipe.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    weights = pipe.named_steps["cnn"].class_weights_
    counts = dict(zip(*np.unique(y, return_counts=True)))
    for label, weight in weights.items():
        assert weight == pytest.approx(len(y) * 10.0 / (counts[label] + 1e-6))


@pytest.mark.shared_data
@pytest.mark.parametrize("cv", [3, StratifiedKFold(3, shuffle=True, random_state=0)])
def test_grid_search_over_alpha_on_real_sessions(ndpi_sample, cv):
    X, y = ndpi_sample
    search = GridSearchCV(_pipeline(), {"cnn__alpha": [None, 0.25, "improved"]},
                          cv=cv, scoring="f1_macro", error_score="raise")
    search.fit(X, y)
    assert list(search.cv_results_["param_cnn__alpha"]) == [None, 0.25, "improved"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # GridSearchCV resolves cv=3 this way: stratified only because the
    # pipeline is recognised as a classifier.
    folds = check_cv(cv, y, classifier=is_classifier(search.estimator))
    assert isinstance(folds, StratifiedKFold)
    for _, test in folds.split(X, y):
        assert set(y[test]) == set(y)  # the 15 VoIP sessions included
    assert search.best_params_["cnn__alpha"] in (None, 0.25, "improved")
