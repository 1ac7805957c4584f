"""FocalCNNClassifier: scikit-learn contract, data handling, persistence."""

import pickle
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfocal import FocalCNNClassifier, PcapImageTransformer

# A tiny network: the tests check behaviour, not accuracy.
FAST = dict(
    filters=(4, 8, 8),
    dense_units=16,
    epochs=2,
    batch_size=32,
    learning_rate=1e-2,
    random_state=0,
)
LABELS = np.array(["chat", "mail", "voip"])
COUNTS = (40, 25, 15)


@pytest.fixture(scope="module")
def data():
    """Three classes of 28x28 byte images, told apart by where bytes are high.

    Rows come sorted by class, as resamplers return them.
    """
    rng = np.random.default_rng(0)
    y = np.repeat(LABELS, COUNTS)
    X = rng.integers(0, 60, size=(y.size, 784), dtype=np.uint8)
    for i, label in enumerate(LABELS):
        X[y == label, i * 250 : i * 250 + 200] = 250
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return FocalCNNClassifier(alpha="improved", **FAST).fit(X, y)


# scikit-learn contract ------------------------------------------------------


def test_is_a_classifier_and_a_scikeras_subclass():
    from scikeras.wrappers import KerasClassifier

    est = FocalCNNClassifier()
    assert isinstance(est, KerasClassifier)
    assert is_classifier(est)
    assert get_tags(est).estimator_type == "classifier"
    assert not hasattr(est, "partial_fit")


def test_cross_validation_is_stratified(data):
    X, y = data
    est = FocalCNNClassifier(**dict(FAST, epochs=1))
    assert isinstance(check_cv(3, y, classifier=is_classifier(est)), StratifiedKFold)

    seen = []

    def record_classes(estimator, X_test, y_test):
        seen.append(sorted(set(y_test)))
        return estimator.score(X_test, y_test)

    search = GridSearchCV(est, {"gamma": [0.0, 2.0]}, cv=3, scoring=record_classes)
    search.fit(X, y)
    # y is sorted by class: unstratified folds would each hold one class.
    assert len(seen) == 6
    assert all(classes == sorted(LABELS) for classes in seen)
    assert search.best_estimator_.classes_.tolist() == sorted(LABELS)


def test_importing_does_not_patch_keras():
    code = (
        "import keras, skfocal._classifier; "
        "assert '__deepcopy__' not in vars(keras.Model); "
        "assert all('__reduce__' not in vars(c) for c in "
        "(keras.Model, keras.losses.Loss, keras.metrics.Metric, "
        "keras.optimizers.Optimizer))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_clone_keeps_parameters_unchanged():
    est = FocalCNNClassifier(alpha={"chat": 2.0}, filters=(1, 2, 3), gamma=0)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert type(cloned.filters) is tuple
    assert set(est.get_params()) == {
        "alpha", "gamma", "alpha_scale", "beta", "logit_adjustment", "filters",
        "kernel_size", "dense_units", "dropout", "optimizer", "learning_rate",
        "epochs", "batch_size", "validation_split", "early_stopping",
        "warm_start", "pad_to_square", "random_state", "verbose",
    }  # fmt: skip
    assert repr(est).startswith("FocalCNNClassifier(alpha={'chat': 2.0}")


def test_set_params_rejects_unknown_and_routed_names():
    with pytest.raises(ValueError, match="Invalid parameter"):
        FocalCNNClassifier().set_params(fit__batch_size=3)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        FocalCNNClassifier().predict(np.zeros((2, 784)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": 1.5}, "'alpha' parameter"),
        ({"alpha": "inverse"}, "'alpha' parameter"),
        ({"gamma": -1}, "'gamma' parameter"),
        ({"optimizer": "lbfgs"}, "'optimizer' parameter"),
        ({"epochs": 0}, "'epochs' parameter"),
    ],
)
def test_invalid_parameters(data, params, match):
    X, y = data
    with pytest.raises(InvalidParameterError, match=match):
        FocalCNNClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"filters": (8, 8)}, "filters must hold 3 positive integers"),
        ({"early_stopping": True}, "early_stopping=True needs validation data"),
        ({"alpha": [1.0, 2.0]}, "^alpha must hold one weight per class \\(3\\)"),
        ({"alpha": {"zz": 2.0}}, "^alpha dict keys must be class labels"),
        ({"alpha": [1.0, 2.0, -1.0]}, "^alpha must"),
    ],
)
def test_invalid_parameter_combinations(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        FocalCNNClassifier(**params).fit(X, y)


# Fitting and predicting ------------------------------------------------------


def test_fitted_attributes_and_probabilities(data, fitted):
    X, y = data
    assert fitted.classes_.tolist() == sorted(LABELS)
    assert fitted.n_features_in_ == 784
    assert isinstance(fitted.model_, keras.Model)
    assert len(fitted.history_["loss"]) == FAST["epochs"]
    proba = fitted.predict_proba(X)
    assert proba.shape == (y.size, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-10)
    assert fitted.predict(X).dtype == y.dtype
    assert set(fitted.predict(X)) <= set(LABELS)


def test_learns_the_synthetic_classes(data, fitted):
    X, y = data
    assert fitted.score(X, y) >= 0.9


def test_class_weights_follow_alpha(data, fitted):
    X, y = data
    n = y.size
    expected = {label: n * 10.0 / (c + 1e-6) for label, c in zip(LABELS, COUNTS)}
    assert fitted.class_weights_ == pytest.approx(expected)
    np.testing.assert_allclose(fitted.class_prior_, np.array(COUNTS) / n)
    assert fitted.model_.loss.alpha == pytest.approx(list(expected.values()))

    for alpha in (None, 0.25):
        est = FocalCNNClassifier(alpha=alpha, **dict(FAST, epochs=1)).fit(X, y)
        assert est.class_weights_ == {label: 1.0 for label in LABELS}
    est = FocalCNNClassifier(alpha={"voip": 3.0}, **dict(FAST, epochs=1)).fit(X, y)
    assert est.class_weights_ == {"chat": 1.0, "mail": 1.0, "voip": 3.0}


def test_same_random_state_same_model(data):
    X, y = data
    params = dict(FAST, dropout=0.3, validation_split=0.2)
    first = FocalCNNClassifier(**params).fit(X, y).predict_proba(X)
    second = FocalCNNClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = FocalCNNClassifier(**dict(params, random_state=1)).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), first)


def test_unit_sample_weight_changes_nothing(data, fitted):
    X, y = data
    weighted = FocalCNNClassifier(alpha="improved", **FAST)
    weighted.fit(X, y, sample_weight=np.ones(y.size))
    np.testing.assert_array_equal(weighted.predict_proba(X), fitted.predict_proba(X))
    with pytest.raises(ValueError, match="weight"):
        weighted.fit(X, y, sample_weight=np.zeros(y.size))


@pytest.mark.parametrize("shape", [(784,), (28, 28), (28, 28, 1)])
def test_input_shapes(data, fitted, shape):
    X, y = data
    reshaped = X.reshape((len(X),) + shape)
    est = FocalCNNClassifier(alpha="improved", **FAST).fit(reshaped, y)
    assert est.n_features_in_ == 784
    np.testing.assert_array_equal(est.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(est.predict(reshaped), fitted.predict(X))


def test_float_bytes_and_integer_labels(data, fitted):
    X, y = data
    codes = np.searchsorted(LABELS, y) + 10
    est = FocalCNNClassifier(alpha="improved", **FAST).fit(X.astype(float), codes)
    assert est.classes_.tolist() == [10, 11, 12]
    np.testing.assert_allclose(
        est.predict_proba(X), fitted.predict_proba(X), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
    ],
)
def test_non_finite_X(data, bad, match):
    X, y = data
    X = X.astype(np.float32)
    X[3, 5] = bad
    with pytest.raises(ValueError, match=match):
        FocalCNNClassifier(**FAST).fit(X, y)


def test_shape_errors(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match="n_features must be a square"):
        FocalCNNClassifier(**FAST).fit(X[:, :100 + 1], y)
    with pytest.raises(ValueError, match="side, side, 1\\); got shape"):
        FocalCNNClassifier(**FAST).fit(X.reshape(-1, 28, 14, 2), y)
    with pytest.raises(ValueError, match="expecting 784 features"):
        fitted.predict(X[:, :400])


def test_single_class(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        FocalCNNClassifier(**FAST).fit(X[:10], y[:10])


def test_values_scaled_to_unit_interval_warn(data):
    X, y = data
    with pytest.warns(UserWarning, match="looks scaled to \\[0, 1\\]"):
        FocalCNNClassifier(**dict(FAST, epochs=1)).fit(X / 255.0, y)


def test_logit_adjustment_divides_by_prior_power(data, fitted):
    X, _ = data
    tau = 1.5
    adjusted = clone(fitted).set_params(logit_adjustment=tau)
    adjusted.__dict__.update(
        {k: v for k, v in vars(fitted).items() if k.endswith("_")}
    )
    plain = fitted.predict_proba(X)
    expected = plain * fitted.class_prior_**-tau
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(adjusted.predict_proba(X), expected, rtol=1e-6)


def test_warm_start_continues_training(data):
    X, y = data
    est = FocalCNNClassifier(warm_start=True, **dict(FAST, epochs=1)).fit(X, y)
    model = est.model_
    est.fit(X, y)
    assert est.model_ is model
    assert len(est.history_["loss"]) == 2
    with pytest.raises(ValueError, match="new labels \\['video'\\]"):
        est.fit(X[:3], ["chat", "video", "mail"])


def test_validation_split_and_early_stopping(data):
    X, y = data
    est = FocalCNNClassifier(
        **dict(FAST, epochs=3, validation_split=0.25, early_stopping=True)
    ).fit(X, y)
    assert len(est.history_["val_loss"]) == len(est.history_["loss"]) <= 3


def test_quiet_by_default(data, capfd):
    X, y = data
    FocalCNNClassifier(**dict(FAST, epochs=1)).fit(X, y).predict(X)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_shows_progress(data, capfd):
    X, y = data
    FocalCNNClassifier(**dict(FAST, epochs=1, verbose=2)).fit(X, y)
    out, _ = capfd.readouterr()
    assert "loss" in out


def test_imblearn_pipeline(data):
    X, y = data
    pipe = make_pipeline(
        RandomOverSampler(random_state=0),
        FocalCNNClassifier(**dict(FAST, validation_split=0.2)),
    )
    pipe.fit(X, y)
    assert pipe.predict(X).shape == y.shape
    assert pipe.score(X, y) >= 0.8
    assert "val_loss" in pipe[-1].history_


# Persistence ----------------------------------------------------------------


def test_pickle_round_trip(data, fitted):
    X, _ = data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    assert restored.get_params() == fitted.get_params()
    assert restored.class_weights_ == fitted.class_weights_
    # Pickling must not strip the model from the original.
    assert isinstance(fitted.model_, keras.Model)


def test_save_and_load(data, fitted, tmp_path):
    X, _ = data
    path = tmp_path / "focal.keras"
    fitted.save(path)
    restored = FocalCNNClassifier.load(path)
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    assert restored.get_params() == fitted.get_params()
    assert restored.classes_.tolist() == fitted.classes_.tolist()
    # Plain Keras opens the same file in safe mode: the network alone.
    network = keras.saving.load_model(path, safe_mode=True)
    assert network.output_shape == (None, 3)
    with pytest.raises(ValueError, match="path must end in '.keras'"):
        fitted.save(tmp_path / "focal.h5")
    fitted.model_.save(tmp_path / "bare.keras")
    with pytest.raises(ValueError, match="without skfocal metadata"):
        FocalCNNClassifier.load(tmp_path / "bare.keras")


# Every failure expected from scikit-learn's suite, with the reason.
EXPECTED_FAILED_CHECKS = {
    "check_mixin_order": "scikeras' KerasClassifier puts BaseEstimator before "
    "ClassifierMixin; a subclass cannot reorder its bases",
    "check_estimator_tags_renamed": "scikeras' BaseWrapper defines _more_tags; "
    "the tags themselves come from __sklearn_tags__",
    "check_sample_weight_equivalence_on_dense_data": "minibatch training: a "
    "weight of 2 is not the same gradient path as a repeated row",
    "check_classifiers_train": "one epoch of a CNN for byte images does not "
    "reach 83% accuracy on standardised two-feature blobs",
}


def _expected_failures(estimator):
    if isinstance(estimator, FocalCNNClassifier):
        return EXPECTED_FAILED_CHECKS
    return {}


@pytest.mark.slow
@parametrize_with_checks(
    [
        # pad_to_square: the suite feeds 2- to 30-feature rows.
        FocalCNNClassifier(epochs=1, batch_size=32, pad_to_square=True,
                           random_state=0),
        PcapImageTransformer(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_checks(estimator, check):
    with warnings.catch_warnings():
        # The suite's float features look like scaled bytes to fit().
        warnings.filterwarnings("ignore", message="X looks scaled")
        check(estimator)


def test_pad_to_square(data):
    X, y = data
    clf = FocalCNNClassifier(**FAST, pad_to_square=True).fit(X[:, :700], y)
    assert clf.n_features_in_ == 700
    assert clf.model_.input_shape == (None, 729)  # 27 x 27
    assert clf.predict(X[:3, :700]).shape == (3,)
    with pytest.raises(ValueError, match="Set pad_to_square=True"):
        FocalCNNClassifier(**FAST).fit(X[:, :700], y)


def test_fit_needs_y_and_a_positive_weight(data):
    X, y = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        FocalCNNClassifier(**FAST).fit(X, None)
    with pytest.raises(ValueError, match="at least one non-zero"):
        FocalCNNClassifier(**FAST).fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster(data):
    # Worker processes receive the estimator by pickle: the .keras bytes path.
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    X, y = data
    search = GridSearchCV(FocalCNNClassifier(**FAST), {"gamma": [0.0, 2.0]}, cv=3)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    assert search.best_score_ >= 0.8
    assert search.best_estimator_.predict(X).shape == y.shape


def test_empty_input_and_unseen_labels(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match="0 sample"):
        FocalCNNClassifier(**FAST).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"unseen labels \['smtp'\]"):
        fitted.score(X[:3], ["chat", "smtp", "voip"])
    assert 0.0 <= fitted.score(X, y) <= 1.0


@pytest.mark.parametrize("alpha", [None, 0.25, "improved", "balanced", "effective"])
def test_no_nan_loss_with_one_sample_among_ten_thousand(alpha):
    # The rarest imbalance a fold can hold: 'improved' weighs the lone sample
    # about 1e5 times, and nothing may overflow into NaN.
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(10_000, 784), dtype=np.uint8)
    y = np.zeros(10_000, dtype=int)
    y[123] = 1
    clf = FocalCNNClassifier(**{**FAST, "epochs": 1, "batch_size": 256},
                             alpha=alpha).fit(X, y)
    assert np.all(np.isfinite(clf.history_["loss"]))
    assert np.all(np.isfinite(clf.predict_proba(X[:10])))
    assert all(np.isfinite(w) for w in clf.class_weights_.values())


def test_grid_search_with_two_jobs(data):
    X, y = data
    search = GridSearchCV(FocalCNNClassifier(**FAST), {"gamma": [0.0, 2.0]},
                          cv=3, n_jobs=2)
    search.fit(X, y)
    assert set(search.cv_results_["param_gamma"]) == {0.0, 2.0}
    assert search.best_estimator_.predict(X).shape == y.shape
