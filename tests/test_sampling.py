"""DropDuplicates and ClassCap: counts, order, determinism, pipelines."""

import warnings

import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from imblearn.utils.estimator_checks import _yield_all_checks
from sklearn.base import clone

from skfocal import sampling
from skfocal.sampling import ClassCap, DropDuplicates, DuplicateConflictWarning

# Dense rows only, by design: image rows are never sparse.
_SKIPPED_CHECKS = {"check_samplers_pandas_sparse"}


def _rows(n, n_bytes=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)


def test_all_is_sorted_and_complete():
    assert sampling.__all__ == sorted(sampling.__all__)
    for name in sampling.__all__:
        assert hasattr(sampling, name)


@pytest.mark.parametrize(
    "sampler", [DropDuplicates(), ClassCap(max_per_class=30, random_state=0)],
    ids=["DropDuplicates", "ClassCap"],
)
def test_imblearn_sampler_checks(sampler):
    ran = 0
    for check in _yield_all_checks(sampler):
        name = getattr(check, "func", check).__name__
        if name in _SKIPPED_CHECKS:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateConflictWarning)
            check(type(sampler).__name__, clone(sampler))
        ran += 1
    assert ran >= 10


def test_drop_duplicates_keeps_first_occurrence_in_order():
    X = _rows(6)
    X[3] = X[0]
    X[5] = X[1]
    X[4] = X[0]
    y = np.array(["a", "b", "a", "a", "a", "b"])

    dedup = DropDuplicates()
    X_res, y_res = dedup.fit_resample(X, y)

    assert dedup.sample_indices_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(X_res, X[[0, 1, 2]])
    assert y_res.tolist() == ["a", "b", "a"]
    assert dedup.n_duplicates_ == 3
    assert dedup.n_conflicting_ == 0
    assert dedup.conflicting_indices_.size == 0
    assert len(np.unique(X_res, axis=0)) == len(X_res)


def test_drop_duplicates_reports_conflicting_labels():
    X = _rows(5)
    X[2] = X[0]
    X[4] = X[0]
    y = np.array(["dns", "tls", "tls", "dns", "dns"])

    dedup = DropDuplicates()
    with pytest.warns(DuplicateConflictWarning, match="more than one label"):
        _, y_res = dedup.fit_resample(X, y)

    # Row 0 keeps its label; row 2 (tls) disagreed, row 4 (dns) did not.
    assert y_res.tolist() == ["dns", "tls", "dns"]
    assert dedup.n_duplicates_ == 2
    assert dedup.n_conflicting_ == 1
    assert dedup.n_conflicting_groups_ == 1
    assert dedup.conflicting_indices_.tolist() == [0, 2, 4]


def test_drop_duplicates_warning_points_at_the_caller():
    X = np.zeros((2, 4), dtype=np.uint8)
    with pytest.warns(DuplicateConflictWarning) as record:
        DropDuplicates().fit_resample(X, [0, 1])
    assert record[0].filename == __file__


def test_drop_duplicates_without_duplicates_is_identity():
    X, y = _rows(40), np.repeat([0, 1], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X_res, y_res = DropDuplicates().fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X)
    np.testing.assert_array_equal(y_res, y)


def test_drop_duplicates_compares_whole_rows_of_floats():
    X = np.array([[0.5, 1.0], [0.5, 1.0 + 1e-12], [0.5, 1.0]])
    _, y_res = DropDuplicates().fit_resample(X, [0, 1, 0])
    assert list(y_res) == [0, 1]


@pytest.mark.parametrize("strategy", ["random", "first", "largest"])
def test_class_cap_counts(strategy):
    y = np.repeat(["web", "mail", "voip"], [50, 7, 20])
    X = _rows(len(y))

    cap = ClassCap(max_per_class=10, strategy=strategy, random_state=0)
    X_res, y_res = cap.fit_resample(X, y)

    labels, counts = np.unique(y_res, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist())) == {
        "mail": 7, "voip": 10, "web": 10,
    }
    assert cap.sampling_strategy_ == {"mail": 7, "voip": 10, "web": 10}
    # Kept rows come back in their original order and match their labels.
    assert np.all(np.diff(cap.sample_indices_) > 0)
    np.testing.assert_array_equal(X_res, X[cap.sample_indices_])
    np.testing.assert_array_equal(y_res, y[cap.sample_indices_])


def test_class_cap_above_every_class_keeps_everything():
    y = np.repeat([0, 1], [30, 5])
    X = _rows(35)
    X_res, y_res = ClassCap(max_per_class=1000).fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X)
    np.testing.assert_array_equal(y_res, y)


def test_class_cap_first_and_largest():
    X = np.zeros((6, 4), dtype=np.uint8)
    for i, n_nonzero in enumerate([1, 4, 2, 4, 3, 0]):
        X[i, :n_nonzero] = 7
    y = np.array([0, 0, 0, 0, 1, 1])

    first = ClassCap(max_per_class=2, strategy="first").fit(X, y)
    first.fit_resample(X, y)
    assert first.sample_indices_.tolist() == [0, 1, 4, 5]

    largest = ClassCap(max_per_class=2, strategy="largest")
    largest.fit_resample(X, y)
    # Rows 1 and 3 have 4 non-zero bytes each; class 1 fits under the cap.
    assert largest.sample_indices_.tolist() == [1, 3, 4, 5]

    one = ClassCap(max_per_class=1, strategy="largest")
    one.fit_resample(X, y)
    # Ties keep the earlier row.
    assert one.sample_indices_.tolist() == [1, 4]


def test_class_cap_random_is_deterministic_with_a_seed():
    y = np.repeat([0, 1, 2], [200, 60, 10])
    X = _rows(len(y))

    def kept(seed):
        cap = ClassCap(max_per_class=25, random_state=seed)
        cap.fit_resample(X, y)
        return cap.sample_indices_

    np.testing.assert_array_equal(kept(3), kept(3))
    assert not np.array_equal(kept(3), kept(4))
    # The random subset is not just the first rows.
    assert not np.array_equal(kept(3)[:25], np.arange(25))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"max_per_class": 0}, "max_per_class"),
        ({"max_per_class": 5, "strategy": "smallest"}, "strategy"),
        ({"max_per_class": 2.5}, "max_per_class"),
    ],
)
def test_class_cap_rejects_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        ClassCap(**params).fit_resample(_rows(10), np.repeat([0, 1], 5))


def test_samplers_reject_sparse_input():
    from scipy import sparse

    X = sparse.csr_matrix(_rows(10))
    with pytest.raises(TypeError, match="dense"):
        DropDuplicates().fit_resample(X, np.repeat([0, 1], 5))


def test_samplers_are_not_transformers():
    for sampler in (DropDuplicates(), ClassCap(max_per_class=3)):
        assert hasattr(sampler, "fit_resample")
        assert not hasattr(sampler, "transform")
        assert not hasattr(sampler, "fit_transform")


def test_pipeline_before_focal_cnn_resamples_training_data_only():
    from skfocal import FocalCNNClassifier

    rng = np.random.default_rng(0)
    y = np.repeat(["chat", "mail"], [40, 12])
    X = rng.integers(0, 256, size=(len(y), 64), dtype=np.uint8)
    X[y == "mail", :16] = 255
    X[1:10] = X[0]  # nine copies of one chat row

    pipe = Pipeline([
        ("dedup", DropDuplicates()),
        ("cap", ClassCap(max_per_class=20, random_state=0)),
        ("cnn", FocalCNNClassifier(epochs=1, batch_size=256, filters=(2, 2, 2),
                                   dense_units=4, random_state=0)),
    ])
    pipe.fit(X, y)

    assert pipe.named_steps["dedup"].n_duplicates_ == 9
    # 31 distinct chat rows capped at 20, 12 mail rows kept.
    cnn = pipe.named_steps["cnn"]
    np.testing.assert_allclose(cnn.class_prior_, [20 / 32, 12 / 32])
    # Prediction skips the samplers: one label per input row.
    assert pipe.predict(X).shape == (len(y),)
