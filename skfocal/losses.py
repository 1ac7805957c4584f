"""Focal loss for softmax classifiers: a pure function, a Keras loss, class weights."""

import numbers
import os
import warnings

# TensorFlow reads this once, when it is first imported: keep its C++ log lines
# (such as a failed CUDA probe on CPU machines) out of the user's terminal
# unless they set the variable themselves. Errors still reach Python.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

__all__ = [
    "EmptyClassWarning",
    "FocalLoss",
    "compute_class_weights",
    "focal_loss",
]

# Smallest positive normal float32: probabilities are clipped here, and only
# here, so that log(p) stays finite for p == 0.
_TINY = float(np.finfo(np.float32).tiny)

# Guard of the paper's formula (5); kept so that 'improved' matches it exactly.
_IMPROVED_EPS = 1e-6

_WEIGHT_MODES = ("balanced", "effective", "improved")


class EmptyClassWarning(UserWarning):
    """A class in ``classes`` has no sample in ``y``; its weight was imputed.

    It happens in cross-validation folds that miss a rare class. The class
    gets the weight a class of one sample would get, never an infinite one.

    Examples
    --------
    >>> import warnings
    >>> from skfocal.losses import EmptyClassWarning, compute_class_weights
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     weights = compute_class_weights([0, 0, 1], "balanced", classes=[0, 1, 2])
    >>> caught[0].category is EmptyClassWarning
    True
    >>> weights.round(3).tolist()
    [0.5, 1.0, 1.0]
    """


def _check_gamma(gamma):
    if (
        isinstance(gamma, bool)
        or not isinstance(gamma, numbers.Real)
        or not np.isfinite(gamma)
        or gamma < 0
    ):
        raise ValueError(
            f"gamma must be a finite real number >= 0; got gamma={gamma!r}."
        )
    return float(gamma)


def _check_alpha(alpha):
    """Return ``alpha`` as None, a float in (0, 1) or a float64 vector."""
    if alpha is None:
        return None
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
        if not 0.0 < alpha < 1.0:
            raise ValueError(
                "alpha must be None, a float in the open interval (0, 1) or a "
                f"sequence of per-class weights; got alpha={alpha!r}."
            )
        return float(alpha)
    return _check_weight_vector(alpha, "alpha")


def _check_weight_vector(weights, name):
    if weights is None:
        return None
    try:
        vector = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        vector = None
    if (
        vector is None
        or isinstance(weights, (str, bytes, dict))
        or vector.ndim != 1
        or vector.size < 2
        or not np.all(np.isfinite(vector))
        or np.any(vector < 0)
    ):
        raise ValueError(
            f"{name} must be a sequence of at least 2 finite, non-negative "
            f"per-class weights; got {name}={weights!r}."
        )
    return vector


def _as_one_hot(y_true, n_classes, dtype):
    """Return one-hot (or soft) targets, whether labels are sparse or not."""
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) >= 2 and y_true.shape[-1] in (n_classes, None):
        return ops.cast(y_true, dtype)
    if len(y_true.shape) >= 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.one_hot(ops.cast(y_true, "int32"), n_classes, dtype=dtype)


def _log_one_minus_softmax(logits):
    """Compute ``log(1 - softmax(logits))`` for every class, without cancellation.

    ``1 - p_k`` is the softmax mass of all the other classes, so its log is
    ``logsumexp(z_j, j != k) - logsumexp(z)``: both terms are finite for finite
    logits, even when ``p_k`` rounds to exactly 1 in float32.
    """
    n_classes = logits.shape[-1]
    others = ops.logical_not(ops.eye(n_classes, dtype="bool"))
    # Row k of the (..., C, C) tensor holds the logits with class k masked out.
    masked = ops.where(
        others, ops.expand_dims(logits, axis=-2), ops.cast(-np.inf, logits.dtype)
    )
    return ops.logsumexp(masked, axis=-1) - ops.logsumexp(
        logits, axis=-1, keepdims=True
    )


def focal_loss(
    y_true, y_pred, *, alpha=None, gamma=2.0, from_logits=False, class_weights=None
):
    r"""Compute the focal loss of each sample of a softmax classifier.

    Write :math:`p_k` for the predicted probability of class :math:`k`, and
    :math:`c` for the true class of a sample. Three forms are available,
    selected by ``alpha``:

    ``alpha=None``, categorical focal loss (Lin et al.):

    .. math:: \ell = -(1 - p_c)^\gamma \log p_c

    With ``gamma=0`` this is the cross-entropy.

    ``alpha`` a float in (0, 1), the paper's equation (4) applied to every
    class of the one-hot target, as in the binary (sigmoid) form of Lin et
    al.:

    .. math::

        \ell = \alpha (1 - p_c)^\gamma (-\log p_c)
             + \sum_{k \ne c} (1 - \alpha) p_k^\gamma (-\log(1 - p_k))

    A scalar :math:`\alpha` multiplying the categorical form alone would be a
    constant factor for every sample, with no effect on the optimum beyond the
    scale of the loss: that is why the binary form, whose negative terms give
    :math:`1 - \alpha` a role, is used for a scalar.

    ``alpha`` a sequence :math:`w` of per-class weights, weighted categorical
    focal loss (this is how the paper's improved :math:`\alpha` enters):

    .. math:: \ell = -w_c (1 - p_c)^\gamma \log p_c

    With one-hot or soft targets :math:`y`, :math:`w_c` reads
    :math:`\sum_k y_k w_k` and the categorical terms are summed with weights
    :math:`y_k`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        Integer class indices (also accepted with a trailing axis of size 1),
        or one-hot (or soft) targets of the same shape as ``y_pred``.
    y_pred : array-like of shape (n_samples, n_classes)
        Logits if ``from_logits`` is True, else probabilities.
    alpha : None, float or array-like of shape (n_classes,), default=None
        Selects the form of the loss, see above.
    gamma : float, default=2.0
        Focusing parameter, >= 0. ``gamma=0`` switches focusing off.
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits. Logits are preferred: the log
        probabilities are then an exact log-softmax. Probabilities are clipped
        below at the smallest positive normal float32 (about 1.2e-38) before
        their log is taken, which keeps the loss and its gradient finite for
        probabilities of exactly 0 or 1; rows are renormalised to sum to 1.
    class_weights : None or array-like of shape (n_classes,), default=None
        Extra per-class factor applied to the loss of each sample according to
        its true class, on top of any form selected by ``alpha``.

    Returns
    -------
    loss : tensor of shape (n_samples,)
        The loss of each sample, before any reduction.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal loss
       for dense object detection", ICCV 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skfocal.losses import focal_loss
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]], dtype="float32")
    >>> loss = focal_loss([0, 2], logits, gamma=2.0, from_logits=True)
    >>> np.asarray(loss).shape
    (2,)
    """
    gamma = _check_gamma(gamma)
    alpha = _check_alpha(alpha)
    class_weights = _check_weight_vector(class_weights, "class_weights")

    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    dtype = y_pred.dtype
    n_classes = y_pred.shape[-1]
    if n_classes is None or n_classes < 2:
        raise ValueError(
            "y_pred must have a known last axis of at least 2 classes; got "
            f"shape {tuple(y_pred.shape)!r}."
        )
    for name, vector in (("alpha", alpha), ("class_weights", class_weights)):
        if isinstance(vector, np.ndarray) and vector.size != n_classes:
            raise ValueError(
                f"{name} must hold one weight per class ({n_classes}); got "
                f"{vector.size} weights."
            )

    if from_logits:
        logits = y_pred
    else:
        logits = ops.log(ops.maximum(y_pred, ops.cast(_TINY, dtype)))
    y_true = _as_one_hot(y_true, n_classes, dtype)
    log_p = ops.log_softmax(logits, axis=-1)
    log_1mp = _log_one_minus_softmax(logits) if gamma or alpha is not None else None

    # (1 - p)^gamma as exp(gamma * log(1 - p)): finite, and exactly 1 for gamma=0.
    if isinstance(alpha, float):
        positive = alpha * ops.exp(gamma * log_1mp) * -log_p
        negative = (1.0 - alpha) * ops.exp(gamma * log_p) * -log_1mp
        loss = ops.sum(y_true * positive + (1.0 - y_true) * negative, axis=-1)
    else:
        modulating = ops.exp(gamma * log_1mp) if gamma else 1.0
        loss = ops.sum(y_true * modulating * -log_p, axis=-1)

    for vector in (alpha, class_weights):
        if isinstance(vector, np.ndarray):
            weights = ops.convert_to_tensor(vector, dtype=dtype)
            loss = loss * ops.sum(y_true * weights, axis=-1)
    return loss


@keras.saving.register_keras_serializable(package="skfocal")
class FocalLoss(keras.losses.Loss):
    """Focal loss of a softmax classifier, as a Keras loss.

    See :func:`focal_loss` for the three forms selected by ``alpha`` and their
    formulas.

    Parameters
    ----------
    alpha : None, float or array-like of shape (n_classes,), default=None
        None for the categorical focal loss, a float in (0, 1) for the binary
        form of the paper's equation (4), or per-class weights (for instance
        from :func:`compute_class_weights`).
    gamma : float, default=2.0
        Focusing parameter, >= 0.
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits (preferred) rather than probabilities.
    reduction : {'sum_over_batch_size', 'sum', 'mean', \
            'mean_with_sample_weight'} or None, default='sum_over_batch_size'
        Keras reduction; None returns the loss of each sample.
    name : str, default='focal_loss'
        Name of the loss.
    class_weights : None or array-like of shape (n_classes,), default=None
        Extra per-class factor applied by true class.
    dtype : str or None, default=None
        Dtype of the computation; None uses ``keras.backend.floatx()``.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal loss
       for dense object detection", ICCV 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skfocal import FocalLoss
    >>> loss = FocalLoss(alpha=0.25, from_logits=True, reduction=None)
    >>> logits = np.zeros((4, 3), dtype="float32")
    >>> np.asarray(loss([0, 1, 2, 0], logits)).shape
    (4,)
    >>> FocalLoss.from_config(loss.get_config()).get_config() == loss.get_config()
    True
    """

    def __init__(
        self,
        alpha=None,
        gamma=2.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="focal_loss",
        class_weights=None,
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        # Keras losses check their arguments on construction, unlike estimators.
        checked_alpha = _check_alpha(alpha)
        self.alpha = (
            checked_alpha.tolist()
            if isinstance(checked_alpha, np.ndarray)
            else checked_alpha
        )
        self.gamma = _check_gamma(gamma)
        self.from_logits = bool(from_logits)
        checked_weights = _check_weight_vector(class_weights, "class_weights")
        self.class_weights = (
            None if checked_weights is None else checked_weights.tolist()
        )
        self._dtype_arg = getattr(dtype, "name", dtype)

    def call(self, y_true, y_pred):
        return focal_loss(
            y_true,
            y_pred,
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            class_weights=self.class_weights,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            class_weights=self.class_weights,
            dtype=self._dtype_arg,
        )
        return config


def _empty_class_warning(classes, empty):
    missing = [classes[i] for i in np.flatnonzero(empty)]
    warnings.warn(
        f"{len(missing)} class(es) have no sample in y: {missing!r}; each was "
        "given the weight of a class with a single sample.",
        EmptyClassWarning,
        stacklevel=3,
    )


def compute_class_weights(y, mode, *, classes=None, alpha_scale=10.0, beta=0.999):
    r"""Compute one loss weight per class from the class counts of ``y``.

    Write :math:`N` for the number of samples, :math:`C` for the number of
    classes and :math:`N_c` for the number of samples of class :math:`c`.

    - ``'improved'``, the paper's equation (5), with :math:`K` = ``alpha_scale``:
      :math:`w_c = N K / (N_c + 10^{-6})`.
    - ``'balanced'``, scikit-learn's convention: :math:`w_c = N / (C N_c)`.
    - ``'effective'``, inverse effective number of samples (Cui et al.):
      :math:`w_c \propto (1 - \beta) / (1 - \beta^{N_c})`, normalised so that
      the weights sum to :math:`C`.
    - a dict keyed by class label (classes left out get 1.0), or a sequence
      aligned with ``classes``: used as given.

    Up to the :math:`10^{-6}` guard, ``'improved'`` is ``'balanced'``
    multiplied by :math:`K C`: the class ratios are the same, only the scale
    of the loss grows by :math:`K C` (100 for 10 classes with the default
    ``alpha_scale``). Adam and RMSprop normalise gradients, so this scale
    matters little to them (only through their small ``epsilon``); with plain
    SGD it multiplies the effective learning rate by :math:`K C`.

    A class of ``classes`` with no sample in ``y`` would get an infinite (or
    undefined) weight. It gets instead the weight of a class with a single
    sample (:math:`N_c = 1`), and an :class:`EmptyClassWarning` is emitted.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels, of any type.
    mode : {'improved', 'balanced', 'effective'}, dict or array-like
        How to compute the weights.
    classes : array-like of shape (n_classes,), default=None
        Labels to return weights for, in this order. None uses the sorted
        unique labels of ``y``.
    alpha_scale : float, default=10.0
        The constant :math:`K` of ``'improved'``.
    beta : float, default=0.999
        The :math:`\beta` of ``'effective'``, in [0, 1).

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        Weight of each class, aligned with ``classes``.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-balanced
       loss based on effective number of samples", CVPR 2019.

    Examples
    --------
    >>> from skfocal.losses import compute_class_weights
    >>> compute_class_weights(["a", "a", "a", "b"], "balanced")
    array([0.66666667, 2.        ])
    """
    return _weights(y, mode, classes, alpha_scale, beta, "mode")


def _weights(y, mode, classes, alpha_scale, beta, name):
    """compute_class_weights, with errors naming ``mode`` as ``name``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional; got shape {y.shape!r}.")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    n_classes = classes.size

    if isinstance(mode, dict):
        unknown = [label for label in mode if label not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"{name} dict keys must be class labels among "
                f"{classes.tolist()!r}; got unknown keys {unknown!r}."
            )
        weights = [float(mode.get(label, 1.0)) for label in classes.tolist()]
        return _check_weight_vector(weights, name)
    if not isinstance(mode, str):
        weights = _check_weight_vector(mode, name)
        if weights.size != n_classes:
            raise ValueError(
                f"{name} must hold one weight per class ({n_classes}); got "
                f"{weights.size} weights."
            )
        return weights
    if mode not in _WEIGHT_MODES:
        raise ValueError(
            f"{name} must be one of {_WEIGHT_MODES!r}, a dict or a sequence; "
            f"got {name}={mode!r}."
        )

    counts = np.array([np.sum(y == label) for label in classes], dtype=np.float64)
    if counts.sum() != y.size:
        raise ValueError("y holds labels that are not in classes.")
    empty = counts == 0
    if empty.any():
        _empty_class_warning(classes.tolist(), empty)
        counts[empty] = 1.0
    n_samples = float(y.size)

    if mode == "improved":
        if not (np.isfinite(alpha_scale) and alpha_scale > 0):
            raise ValueError(
                "alpha_scale must be a finite number > 0; got "
                f"alpha_scale={alpha_scale!r}."
            )
        return n_samples * alpha_scale / (counts + _IMPROVED_EPS)
    if mode == "balanced":
        return n_samples / (n_classes * counts)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1); got beta={beta!r}.")
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights * n_classes / weights.sum()
