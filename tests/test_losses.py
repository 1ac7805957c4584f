"""Focal loss formulas against float64 NumPy references, and class weights."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.utils.class_weight import compute_class_weight

from skfocal.losses import (
    EmptyClassWarning,
    FocalLoss,
    compute_class_weights,
    focal_loss,
)

N_SAMPLES, N_CLASSES = 32, 4
WEIGHTS = [0.5, 1.0, 2.0, 4.0]


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(7)
    logits = (rng.normal(size=(N_SAMPLES, N_CLASSES)) * 2.0).astype(np.float32)
    labels = rng.integers(0, N_CLASSES, size=N_SAMPLES)
    return logits, labels


def softmax64(logits):
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference(labels, logits, *, alpha=None, gamma=2.0, class_weights=None):
    """The docstring formulas, written out in float64."""
    p = softmax64(logits)
    onehot = np.eye(p.shape[1])[labels]
    if isinstance(alpha, float):
        positive = alpha * (1 - p) ** gamma * -np.log(p)
        negative = (1 - alpha) * p**gamma * -np.log1p(-p)
        loss = (onehot * positive + (1 - onehot) * negative).sum(axis=1)
    else:
        loss = (onehot * (1 - p) ** gamma * -np.log(p)).sum(axis=1)
        if alpha is not None:
            loss = loss * np.asarray(alpha)[labels]
    if class_weights is not None:
        loss = loss * np.asarray(class_weights)[labels]
    return loss


def as_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor).astype(np.float64)


def test_gamma_zero_is_sparse_categorical_cross_entropy(batch):
    logits, labels = batch
    ours = focal_loss(labels, logits, gamma=0.0, from_logits=True)
    keras_ce = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None
    )(labels, logits)
    np.testing.assert_allclose(as_numpy(ours), as_numpy(keras_ce), atol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.75, WEIGHTS], ids=str)
def test_matches_float64_reference(batch, alpha, gamma):
    logits, labels = batch
    ours = focal_loss(labels, logits, alpha=alpha, gamma=gamma, from_logits=True)
    expected = reference(labels, logits, alpha=alpha, gamma=gamma)
    np.testing.assert_allclose(as_numpy(ours), expected, rtol=2e-5, atol=1e-6)


def test_scalar_alpha_uses_the_binary_form(batch):
    # Not a constant factor: the ratio to the categorical loss varies by sample.
    logits, labels = batch
    binary = as_numpy(focal_loss(labels, logits, alpha=0.25, from_logits=True))
    categorical = as_numpy(focal_loss(labels, logits, from_logits=True))
    assert np.ptp(binary / categorical) > 0.1
    # alpha=0.5 is half the sigmoid-style focal loss summed over all classes.
    half = as_numpy(focal_loss(labels, logits, alpha=0.5, gamma=0.0, from_logits=True))
    p = softmax64(logits)
    onehot = np.eye(N_CLASSES)[labels]
    bce = -(onehot * np.log(p) + (1 - onehot) * np.log1p(-p)).sum(axis=1)
    np.testing.assert_allclose(half, 0.5 * bce, rtol=2e-5)


def test_class_weights_multiply_any_form(batch):
    logits, labels = batch
    for alpha in (None, 0.25, WEIGHTS):
        ours = focal_loss(
            labels, logits, alpha=alpha, class_weights=WEIGHTS, from_logits=True
        )
        expected = reference(labels, logits, alpha=alpha, class_weights=WEIGHTS)
        np.testing.assert_allclose(as_numpy(ours), expected, rtol=2e-5)


@pytest.mark.parametrize("alpha", [None, 0.25, WEIGHTS], ids=str)
def test_probabilities_agree_with_logits(batch, alpha):
    logits, labels = batch
    probs = softmax64(logits).astype(np.float32)
    from_probs = focal_loss(labels, probs, alpha=alpha)
    from_logits = focal_loss(labels, logits, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(as_numpy(from_probs), as_numpy(from_logits), rtol=1e-4)


@pytest.mark.parametrize("alpha", [None, 0.25, WEIGHTS], ids=str)
def test_one_hot_and_sparse_labels_agree(batch, alpha):
    logits, labels = batch
    sparse = focal_loss(labels, logits, alpha=alpha, from_logits=True)
    column = focal_loss(labels[:, None], logits, alpha=alpha, from_logits=True)
    onehot = np.eye(N_CLASSES, dtype=np.float32)[labels]
    dense = focal_loss(onehot, logits, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(as_numpy(dense), as_numpy(sparse), rtol=1e-6)
    np.testing.assert_allclose(as_numpy(column), as_numpy(sparse), rtol=1e-6)


def loss_and_gradient(labels, y_pred, **kwargs):
    y_pred = tf.constant(y_pred, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        loss = tf.reduce_sum(focal_loss(labels, y_pred, **kwargs))
    return loss.numpy(), tape.gradient(loss, y_pred).numpy()


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, [1.0, 2.0, 3.0]], ids=str)
def test_finite_for_extreme_logits(alpha, gamma):
    logits = [[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [1e4, 1e4, -1e4]]
    for labels in ([0, 0, 2], [0, 1, 0]):
        loss, grad = loss_and_gradient(
            labels, logits, alpha=alpha, gamma=gamma, from_logits=True
        )
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # A confident mistake costs about the logit gap, like cross-entropy.
    loss, _ = loss_and_gradient([1], [[1e4, -1e4, -1e4]], gamma=gamma, from_logits=True)
    assert loss == pytest.approx(2e4, rel=1e-3)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, [1.0, 2.0, 3.0]], ids=str)
def test_finite_for_probabilities_of_zero_and_one(alpha, gamma):
    probs = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]
    for labels in ([0, 1, 0], [1, 2, 2]):
        loss, grad = loss_and_gradient(labels, probs, alpha=alpha, gamma=gamma)
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
    right, _ = loss_and_gradient([0], [[1.0, 0.0, 0.0]], alpha=alpha, gamma=gamma)
    assert right == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    logits=arrays(
        np.float32,
        (5, 3),
        elements=st.floats(-50, 50, width=32, allow_nan=False),
    ),
    gamma=st.floats(0.1, 5.0),
)
def test_focal_is_nonnegative_and_below_cross_entropy(logits, gamma):
    labels = np.arange(5) % 3
    focal = as_numpy(focal_loss(labels, logits, gamma=gamma, from_logits=True))
    ce = as_numpy(focal_loss(labels, logits, gamma=0.0, from_logits=True))
    assert np.all(focal >= 0)
    assert np.all(focal <= ce + 1e-5)


def test_reduction_none_and_default(batch):
    logits, labels = batch
    per_sample = FocalLoss(from_logits=True, reduction=None)(labels, logits)
    assert tuple(per_sample.shape) == (N_SAMPLES,)
    mean = FocalLoss(from_logits=True)(labels, logits)
    assert as_numpy(mean) == pytest.approx(as_numpy(per_sample).mean(), rel=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"alpha": 0.25, "gamma": 0.5, "from_logits": True, "reduction": "sum"},
        {"alpha": np.array(WEIGHTS), "class_weights": (1, 2, 3, 4), "name": "fl"},
        {"reduction": None, "dtype": "float64"},
    ],
)
def test_get_config_round_trip(kwargs):
    loss = FocalLoss(**kwargs)
    config = loss.get_config()
    expected_keys = set(inspect.signature(FocalLoss.__init__).parameters) - {"self"}
    assert set(config) == expected_keys
    assert FocalLoss.from_config(config).get_config() == config
    if "alpha" in kwargs and not isinstance(kwargs["alpha"], float):
        assert config["alpha"] == WEIGHTS
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, FocalLoss)
    assert restored.get_config() == config


def test_registered_under_the_skfocal_package():
    assert keras.saving.get_registered_name(FocalLoss) == "skfocal>FocalLoss"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 1.0}, "alpha must be None, a float in the open interval"),
        ({"alpha": 0}, "alpha must be None"),
        ({"alpha": "improved"}, "alpha must be a sequence"),
        ({"alpha": [1.0, -1.0, 1.0, 1.0]}, "non-negative"),
        ({"gamma": -1.0}, "gamma must be a finite real number >= 0"),
        ({"class_weights": [[1.0]]}, "class_weights must be a sequence"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FocalLoss(**kwargs)


def test_weight_vector_of_the_wrong_length(batch):
    logits, labels = batch
    with pytest.raises(ValueError, match="one weight per class"):
        focal_loss(labels, logits, alpha=[1.0, 2.0], from_logits=True)


# compute_class_weights ----------------------------------------------------

Y = np.array(["web"] * 60 + ["mail"] * 30 + ["chat"] * 10)


def test_improved_is_the_paper_formula():
    weights = compute_class_weights(Y, "improved", alpha_scale=10.0)
    # classes sorted: chat, mail, web
    expected = 100 * 10.0 / (np.array([10, 30, 60]) + 1e-6)
    np.testing.assert_allclose(weights, expected, rtol=1e-12)


def test_balanced_matches_scikit_learn():
    classes = np.unique(Y)
    expected = compute_class_weight("balanced", classes=classes, y=Y)
    np.testing.assert_allclose(compute_class_weights(Y, "balanced"), expected)


def test_improved_is_a_scaled_balanced():
    improved = compute_class_weights(Y, "improved", alpha_scale=7.0)
    balanced = compute_class_weights(Y, "balanced")
    np.testing.assert_allclose(improved, 7.0 * 3 * balanced, rtol=1e-6)


def test_effective_number_of_samples():
    beta = 0.99
    weights = compute_class_weights(Y, "effective", beta=beta)
    raw = (1 - beta) / (1 - beta ** np.array([10, 30, 60]))
    np.testing.assert_allclose(weights, raw * 3 / raw.sum())
    assert weights.sum() == pytest.approx(3.0)
    assert weights[0] > weights[1] > weights[2]
    np.testing.assert_allclose(compute_class_weights(Y, "effective", beta=0), 1.0)


def test_weights_follow_the_order_of_classes():
    weights = compute_class_weights(Y, "balanced", classes=["web", "chat", "mail"])
    np.testing.assert_allclose(weights, [100 / 180, 100 / 30, 100 / 90])


def test_explicit_dict_and_sequence():
    weights = compute_class_weights(Y, {"chat": 5.0, "web": 0.5})
    np.testing.assert_allclose(weights, [5.0, 1.0, 0.5])
    np.testing.assert_allclose(compute_class_weights(Y, [1, 2, 3]), [1, 2, 3])
    with pytest.raises(ValueError, match="unknown keys \\['video'\\]"):
        compute_class_weights(Y, {"video": 2.0})
    with pytest.raises(ValueError, match="one weight per class \\(3\\); got 2"):
        compute_class_weights(Y, [1.0, 2.0])
    with pytest.raises(ValueError, match="mode must be one of"):
        compute_class_weights(Y, "inverse")


@pytest.mark.parametrize("mode", ["improved", "balanced", "effective"])
def test_class_without_samples_gets_a_finite_weight_and_a_warning(mode):
    classes = ["chat", "mail", "video", "web"]
    with pytest.warns(EmptyClassWarning, match="'video'"):
        weights = compute_class_weights(Y, mode, classes=classes)
    assert np.all(np.isfinite(weights))
    # The weight of a class with a single sample.
    if mode == "improved":
        assert weights[2] == pytest.approx(100 * 10.0 / (1 + 1e-6))
    if mode == "balanced":
        assert weights[2] == pytest.approx(100 / 4)
    assert weights[2] == weights.max()
