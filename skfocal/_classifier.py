"""FocalCNNClassifier: the paper's CNN trained with focal loss, as an estimator."""

import json
import math
import os
import sys
import tempfile
import warnings
import zipfile
from numbers import Integral, Real
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.special import softmax  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import LabelEncoder  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils import ClassifierTags  # noqa: E402
from sklearn.utils._param_validation import (  # noqa: E402
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import (  # noqa: E402
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from skfocal._network import build_cnn, square_side  # noqa: E402
from skfocal.losses import FocalLoss, _weights  # noqa: E402

__all__ = ["FocalCNNClassifier"]

_PATCHED_BY_SCIKERAS = (
    keras.Model,
    keras.losses.Loss,
    keras.metrics.Metric,
    keras.optimizers.Optimizer,
)


def _import_keras_classifier():
    """Import scikeras' KerasClassifier, undoing what its import patches.

    Importing scikeras replaces ``__reduce__`` and ``__deepcopy__`` of Keras'
    base classes for the whole process. skfocal does not rely on them (the
    estimator pickles its model itself), so the class dictionaries are put
    back as they were. If the user imported scikeras first, its patches are
    theirs and are left alone.
    """
    if "scikeras" in sys.modules:
        from scikeras.wrappers import KerasClassifier

        return KerasClassifier
    saved = [(cls, dict(vars(cls))) for cls in _PATCHED_BY_SCIKERAS]
    try:
        from scikeras.wrappers import KerasClassifier
    finally:
        for cls, before in saved:
            for name in set(vars(cls)) - set(before):
                delattr(cls, name)
            for name, value in before.items():
                if vars(cls).get(name, value) is not value:
                    setattr(cls, name, value)
    return KerasClassifier


KerasClassifier = _import_keras_classifier()

_OPTIMIZERS = {
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "nadam",
    "rmsprop",
    "sgd",
}
_WEIGHT_MODES = {"balanced", "effective", "improved"}
# Epochs without improvement of the validation loss before early stopping.
_PATIENCE = 5
_SAVE_MEMBER = "skfocal.json"
_PREDICT_BATCH = 1024


def _model_to_bytes(model):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _model_from_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, safe_mode=True)


def _to_json(value):
    """Encode parameters for JSON, keeping tuples and non-string dict keys."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        "save() stores parameters as JSON; it accepts None, numbers, strings and "
        f"containers of them; got {value!r}. Use pickle or joblib instead."
    )


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_from_json(v) for v in value["__tuple__"])
    if isinstance(value, dict) and "__dict__" in value:
        return {_from_json(k): _from_json(v) for k, v in value["__dict__"]}
    return value


def _never(estimator):
    return False


class FocalCNNClassifier(KerasClassifier):
    """Convolutional classifier of traffic images, trained with focal loss.

    The network is the paper's small CNN (three convolutions, two max-poolings,
    two dense layers, see :func:`skfocal._network.build_cnn`), fed with rows of
    ``side ** 2`` byte values (0 to 255; ``uint8`` or float) that it rescales
    itself. It outputs logits: the loss works on logits (an exact
    log-softmax) and :meth:`predict_proba` applies the softmax.

    The estimator subclasses scikeras' ``KerasClassifier`` but handles
    parameters, data and training itself; see the Notes.

    Parameters
    ----------
    alpha : None, float, {'improved', 'balanced', 'effective'}, dict or \
            array-like of shape (n_classes,), default=None
        Class weighting of the focal loss.

        - None: categorical focal loss, no class weight. With ``gamma=0``,
          plain cross-entropy.
        - float in (0, 1): the paper's equation (4) in binary form over the
          one-hot target (see :func:`skfocal.losses.focal_loss`).
        - 'improved': the paper's weights :math:`N K / (N_c + 10^{-6})`, with
          :math:`K` = ``alpha_scale``.
        - 'balanced': :math:`N / (C N_c)`, as in scikit-learn.
        - 'effective': inverse effective number of samples, with ``beta``.
        - dict ``{label: weight}`` (absent labels get 1.0), or a sequence of
          weights aligned with ``classes_`` (the sorted labels).

        Weights other than the float form multiply the categorical focal term
        of each sample by the weight of its true class; see
        :func:`skfocal.losses.compute_class_weights`.
    gamma : float, default=2.0
        Focusing parameter of the focal loss, >= 0.
    alpha_scale : float, default=10.0
        The constant :math:`K` of ``alpha='improved'``.
    beta : float, default=0.999
        The :math:`\\beta` of ``alpha='effective'``, in [0, 1).
    logit_adjustment : float or None, default=None
        Post-hoc logit adjustment strength :math:`\\tau`: at prediction time
        :math:`\\tau \\log \\pi_c` is subtracted from the logit of class
        :math:`c`, where :math:`\\pi` are the class frequencies of the last
        ``y`` seen by :meth:`fit`. None or 0 leaves the logits as trained.
    filters : tuple of 3 int, default=(32, 64, 64)
        Filters of the three convolutions.
    kernel_size : int, default=3
        Side of the convolution kernels.
    dense_units : int, default=128
        Width of the hidden dense layer.
    dropout : float, default=0.0
        Dropout rate before the output layer, in [0, 1).
    optimizer : str or keras.optimizers.Optimizer, default='adam'
        Name of a Keras optimizer, built with ``learning_rate``; or an
        optimizer instance, copied at each fit (its own learning rate is then
        used and ``learning_rate`` is ignored).
    learning_rate : float, default=1e-3
        Learning rate of a named ``optimizer``.
    epochs : int, default=10
        Number of passes over the training data per call to :meth:`fit`.
    batch_size : int, default=128
        Samples per gradient step, and per prediction batch.
    validation_split : float, default=0.0
        Fraction of the samples held out to compute the validation loss, in
        [0, 1). The rows are shuffled first (stratified when every class has
        two samples or more): Keras alone would take the last rows, which
        resamplers such as imbalanced-learn's leave sorted by class.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for 5 epochs and
        restore the best weights. Needs ``validation_split > 0``.
    warm_start : bool, default=False
        Whether a new call to :meth:`fit` keeps training the fitted network
        (and its optimizer state) instead of building a new one. The labels
        must then be among ``classes_``; architecture parameters are only read
        when the network is built.
    pad_to_square : bool, default=False
        Zero-pad rows whose length is not a square number to the next square
        (1000 bytes become a 32x32 image), the way short sessions are padded.
        By default such rows are an error: they usually mean a mistake
        upstream. ``n_features_in_`` is the length before padding.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the dropout, the validation split and
        the shuffling of batches. With an int, two fits on CPU give identical
        models. No global random state is changed.
    verbose : int, default=0
        0 is silent; 1 shows Keras' progress bar; 2 one line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    class_weights_ : dict
        Weight of each class label in the loss. All 1.0 when ``alpha`` is
        None or a float: the float form weights the positive and negative
        terms of every class alike, not classes.
    class_prior_ : ndarray of shape (n_classes,)
        Class frequencies of the last ``y`` seen by :meth:`fit`, used by
        ``logit_adjustment``.
    n_features_in_ : int
        Number of bytes per sample (``side ** 2`` for image input), before
        any padding by ``pad_to_square``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    model_ : keras.Model
        The trained network, mapping byte rows to logits.
    history_ : dict
        Per-epoch values of the loss and accuracy (and their validation
        counterparts), accumulated over warm-started fits.

    See Also
    --------
    skfocal.losses.FocalLoss : The loss, usable with any Keras model.
    skfocal.losses.compute_class_weights : The class weights of ``alpha``.

    Notes
    -----
    scikeras 0.13 predates scikit-learn's tag API: on scikit-learn >= 1.6 its
    ``KerasClassifier`` is not recognised by ``is_classifier``, so model
    selection silently falls back to unstratified folds. This class declares
    its tags itself. It also takes parameters from its signature (not from
    the instance dictionary), validates them with ``_parameter_constraints``
    and does not route ``fit__``/``model__`` prefixed parameters.
    ``partial_fit`` and ``initialize`` are not offered: class weights need all
    of ``y``.

    The loss uses the scale of its weights as is: ``alpha='improved'`` makes
    the loss ``alpha_scale * n_classes`` times larger than ``'balanced'``,
    which Adam mostly ignores but which multiplies the step of plain SGD.

    Pickling stores the network as ``.keras`` bytes and loads it back in
    Keras' safe mode. :meth:`save` and :meth:`load` do the same through a
    ``.keras`` file that plain Keras can also open.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal loss
       for dense object detection", ICCV 2017.
    .. [3] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-balanced
       loss based on effective number of samples", CVPR 2019.
    .. [4] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit and
       S. Kumar, "Long-tail learning via logit adjustment", ICLR 2021.
    .. [5] W. Wang, M. Zhu, J. Wang, X. Zeng and Z. Yang, "End-to-end
       encrypted traffic classification with one-dimensional convolution
       neural networks", ISI 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skfocal import FocalCNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(60, 784), dtype=np.uint8)
    >>> y = np.repeat(["chat", "mail", "voip"], 20)
    >>> X[y == "mail", :50] = 255
    >>> clf = FocalCNNClassifier(alpha="improved", epochs=2, random_state=0)
    >>> clf.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        "alpha": [
            None,
            Interval(Real, 0, 1, closed="neither"),
            StrOptions(_WEIGHT_MODES),
            dict,
            "array-like",
        ],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "alpha_scale": [Interval(Real, 0, None, closed="neither")],
        "beta": [Interval(Real, 0, 1, closed="left")],
        "logit_adjustment": [None, Interval(Real, 0, None, closed="left")],
        "filters": ["array-like"],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [
            StrOptions(_OPTIMIZERS),
            HasMethods(["apply_gradients", "get_config"]),
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "warm_start": ["boolean"],
        "pad_to_square": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        alpha=None,
        gamma=2.0,
        alpha_scale=10.0,
        beta=0.999,
        logit_adjustment=None,
        filters=(32, 64, 64),
        kernel_size=3,
        dense_units=128,
        dropout=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=10,
        batch_size=128,
        validation_split=0.0,
        early_stopping=False,
        warm_start=False,
        pad_to_square=False,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.gamma = gamma
        self.alpha_scale = alpha_scale
        self.beta = beta
        self.logit_adjustment = logit_adjustment
        self.filters = filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.warm_start = warm_start
        self.pad_to_square = pad_to_square
        self.random_state = random_state
        self.verbose = verbose

    # scikit-learn API, taken back from scikeras' BaseWrapper -----------------

    @classmethod
    def _get_param_names(cls):
        # scikeras reads the instance dictionary; the signature is the truth.
        return BaseEstimator._get_param_names.__func__(cls)

    def set_params(self, **params):
        """Set the parameters of this estimator.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : FocalCNNClassifier
            The estimator.
        """
        return BaseEstimator.set_params(self, **params)

    def __repr__(self, N_CHAR_MAX=700):
        return BaseEstimator.__repr__(self, N_CHAR_MAX=N_CHAR_MAX)

    def __sklearn_tags__(self):
        # BaseWrapper puts BaseEstimator before ClassifierMixin in the MRO, so
        # the mixin's tags are never applied: set them here.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_label=False)
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    @available_if(_never)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Not available: class weights need the whole of ``y``."""
        raise NotImplementedError

    @available_if(_never)
    def initialize(self, X, y=None):
        """Not available: :meth:`fit` builds the network."""
        raise NotImplementedError

    # Data ------------------------------------------------------------------

    def _validate_X(self, X, y=None, *, reset):
        """Return ``X`` as 2-D rows of bytes (uint8 kept, else float32)."""
        if not hasattr(X, "shape"):
            # Lists and other array-likes: their dimension decides the shape
            # rule below, so convert once here.
            X = np.asarray(X)
        if len(X.shape) in (3, 4):
            X = check_array(X, allow_nd=True, dtype="numeric", ensure_all_finite=True)
            if X.ndim == 4 and X.shape[-1] != 1 or X.shape[1] != X.shape[2]:
                raise ValueError(
                    "X must have shape (n_samples, side ** 2), (n_samples, side, "
                    f"side) or (n_samples, side, side, 1); got shape {X.shape!r}."
                )
            X = X.reshape(X.shape[0], -1)

        kwargs = dict(reset=reset, dtype="numeric", ensure_all_finite=True)
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if square_side(X.shape[1]) is None:
            if not self.pad_to_square:
                raise ValueError(
                    "X must hold square images: n_features must be a square "
                    f"number (784 for 28x28); got n_features={X.shape[1]!r}. "
                    "Set pad_to_square=True to zero-pad rows to the next square."
                )
            side = math.isqrt(X.shape[1] - 1) + 1
            X = np.pad(X, ((0, 0), (0, side * side - X.shape[1])))
        if X.dtype != np.uint8:
            X = X.astype(np.float32)
        return X, y

    def _dataset(self, X, y, weight, *, seed):
        data = tf.data.Dataset.from_tensor_slices((X, y, weight))
        if seed is not None:
            data = data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
        batches = data.batch(self.batch_size)
        batches = batches.map(lambda x, t, w: (tf.cast(x, tf.float32), t, w))
        return batches.prefetch(tf.data.AUTOTUNE)

    # Fitting ---------------------------------------------------------------

    def _check_cross_params(self):
        filters = np.asarray(self.filters)
        if (
            filters.shape != (3,)
            or not np.issubdtype(filters.dtype, np.integer)
            or np.any(filters < 1)
        ):
            raise ValueError(
                "filters must hold 3 positive integers, one per convolution; got "
                f"filters={self.filters!r}."
            )
        if self.early_stopping and self.validation_split == 0:
            raise ValueError(
                "early_stopping=True needs validation data: set validation_split "
                f"in (0, 1); got validation_split={self.validation_split!r}."
            )

    def _class_weights(self, y):
        alpha = self.alpha
        if alpha is None or isinstance(alpha, Real):
            return np.ones(len(self.classes_)), alpha
        # Errors name the classifier's parameter, alpha.
        weights = _weights(y, alpha, self.classes_, self.alpha_scale, self.beta,
                           "alpha")
        return weights, weights.tolist()

    def _new_optimizer(self):
        if isinstance(self.optimizer, str):
            kind = type(keras.optimizers.get(self.optimizer))
            return kind(learning_rate=self.learning_rate)
        return type(self.optimizer).from_config(self.optimizer.get_config())

    def fit(self, X, y, sample_weight=None):
        """Train the network on byte images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, side ** 2), (n_samples, side, \
                side) or (n_samples, side, side, 1)
            Byte values, 0 to 255, ``uint8`` or float.
        y : array-like of shape (n_samples,)
            Class labels, of any type; at least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, multiplied with the class weights of ``alpha``.

        Returns
        -------
        self : FocalCNNClassifier
            The fitted estimator.
        """
        self._validate_params()
        self._check_cross_params()
        if y is None:
            raise ValueError(
                "FocalCNNClassifier requires y to be passed, but the target y "
                "is None."
            )
        warm = self.warm_start and hasattr(self, "model_")

        X, y = self._validate_X(X, y, reset=not warm)
        check_classification_targets(y)
        if not warm:
            self.classes_ = np.unique(y)
        elif not np.isin(y, self.classes_).all():
            unseen = np.setdiff1d(np.unique(y), self.classes_).tolist()
            raise ValueError(
                "With warm_start=True, y must only hold labels among classes_ "
                f"{self.classes_.tolist()!r}; got new labels {unseen!r}."
            )
        if len(self.classes_) < 2:
            raise ValueError(
                "FocalCNNClassifier needs samples of at least 2 classes; got 1 "
                f"class: {self.classes_.tolist()!r}."
            )
        if X.dtype != np.uint8 and 0 < X.max() <= 1.0:
            warnings.warn(
                "X looks scaled to [0, 1], but the network expects byte values "
                "0 to 255 and divides them by 255 itself.",
                UserWarning,
                stacklevel=2,
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
        encoded = LabelEncoder().fit(self.classes_).transform(y).astype(np.int32)
        weights, loss_alpha = self._class_weights(y)
        self.class_weights_ = dict(zip(self.classes_.tolist(), weights.tolist()))
        counts = np.bincount(encoded, minlength=len(self.classes_))
        self.class_prior_ = counts / counts.sum()

        rng = check_random_state(self.random_state)
        build_seed, split_seed, shuffle_seed = rng.randint(2**31 - 1, size=3).tolist()
        loss = FocalLoss(alpha=loss_alpha, gamma=self.gamma, from_logits=True)
        if warm:
            optimizer = self.model_.optimizer
        else:
            self.model_ = build_cnn(
                len(self.classes_),
                input_side=square_side(X.shape[1]),
                filters=tuple(int(f) for f in self.filters),
                kernel_size=self.kernel_size,
                dense_units=self.dense_units,
                dropout=self.dropout,
                seed=build_seed,
            )
            optimizer = self._new_optimizer()
            self.history_ = {}
        self.model_.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        self._fit_network(X, encoded, sample_weight, split_seed, shuffle_seed)
        return self

    def _fit_network(self, X, y, weight, split_seed, shuffle_seed):
        validation, callbacks = None, []
        if self.validation_split > 0:
            counts = np.bincount(y)
            stratify = y if counts[counts > 0].min() >= 2 else None
            try:
                X, X_val, y, y_val, weight, w_val = train_test_split(
                    X,
                    y,
                    weight,
                    test_size=self.validation_split,
                    random_state=split_seed,
                    stratify=stratify,
                )
            except ValueError as exc:
                raise ValueError(
                    f"validation_split={self.validation_split!r} leaves no sample "
                    f"for training or validation out of {len(X)}: {exc}"
                ) from exc
            validation = self._dataset(X_val, y_val, w_val, seed=None)
            if self.early_stopping:
                callbacks.append(
                    keras.callbacks.EarlyStopping(
                        monitor="val_loss",
                        patience=_PATIENCE,
                        restore_best_weights=True,
                    )
                )

        history = self.model_.fit(
            self._dataset(X, y, weight, seed=shuffle_seed),
            epochs=self.epochs,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, with a seed
            verbose=min(int(self.verbose), 2),
        )
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)

    # Prediction ------------------------------------------------------------

    def _logits(self, X):
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        # Eager calls per batch: Model.predict retraces (and warns) for every
        # new input length, which cross-validation triggers at each fold.
        logits = np.concatenate(
            [
                keras.ops.convert_to_numpy(
                    self.model_(
                        X[start : start + _PREDICT_BATCH].astype(np.float32),
                        training=False,
                    )
                )
                for start in range(0, len(X), _PREDICT_BATCH)
            ]
        ).astype(np.float64)
        if self.logit_adjustment:
            # Menon et al.: subtracting tau * log(prior) favours rare classes.
            with np.errstate(divide="ignore"):
                log_prior = np.log(self.class_prior_)
            logits -= self.logit_adjustment * np.maximum(log_prior, -1e4)
        return logits

    def predict_proba(self, X):
        """Return the probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, side ** 2), (n_samples, side, \
                side) or (n_samples, side, side, 1)
            Byte values, 0 to 255.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the (adjusted, see ``logit_adjustment``) logits; columns
            follow ``classes_`` and rows sum to 1.
        """
        return softmax(self._logits(X), axis=1)

    def predict(self, X):
        """Return the most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, side ** 2), (n_samples, side, \
                side) or (n_samples, side, side, 1)
            Byte values, 0 to 255.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, of the type of ``classes_``.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Return the accuracy on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, side ** 2), (n_samples, side, \
                side) or (n_samples, side, side, 1)
            Byte values, 0 to 255.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.

        Raises
        ------
        ValueError
            If ``y`` holds labels that are not among ``classes_``: the model
            can never predict them, so the score would silently count them
            as errors.
        """
        check_is_fitted(self)
        unseen = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
        if len(unseen):
            raise ValueError(
                "y holds labels the classifier never saw in fit, so it cannot "
                f"predict them; known classes_ are {self.classes_.tolist()!r}; "
                f"got unseen labels {unseen.tolist()!r}."
            )
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    # Persistence -----------------------------------------------------------

    def __getstate__(self):
        # A copy: object.__getstate__ hands out the live instance dictionary.
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            state["_model_keras_bytes"] = _model_to_bytes(model)
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_model_keras_bytes", None)
        super().__setstate__(state)
        if data is not None:
            self.model_ = _model_from_bytes(data)

    def save(self, path):
        """Save the fitted estimator to a ``.keras`` file.

        The file is a regular Keras archive (``keras.saving.load_model``
        opens the network, which outputs logits) with one more member holding
        the parameters and fitted attributes; :meth:`load` reads both.

        Parameters
        ----------
        path : str or path-like
            Destination, ending in ``.keras``.
        """
        check_is_fitted(self)
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(
                f"path must end in '.keras'; got path={str(path)!r}."
            )
        meta = {
            "format": 1,
            "params": _to_json(self.get_params()),
            "classes": _to_json(self.classes_),
            "classes_dtype": self.classes_.dtype.str,
            "class_weights": _to_json(list(self.class_weights_.values())),
            "class_prior": _to_json(self.class_prior_),
            "n_features_in": int(self.n_features_in_),
            "history": self.history_,
        }
        self.model_.save(path)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(_SAVE_MEMBER, json.dumps(meta))

    @classmethod
    def load(cls, path):
        """Load an estimator written by :meth:`save`, in Keras' safe mode.

        Parameters
        ----------
        path : str or path-like
            A ``.keras`` file written by :meth:`save`.

        Returns
        -------
        estimator : FocalCNNClassifier
            The fitted estimator.
        """
        with zipfile.ZipFile(path) as archive:
            if _SAVE_MEMBER not in archive.namelist():
                raise ValueError(
                    f"{str(path)!r} is a Keras archive without skfocal metadata; "
                    "it was not written by FocalCNNClassifier.save."
                )
            meta = json.loads(archive.read(_SAVE_MEMBER))
        estimator = cls(**_from_json(meta["params"]))
        estimator.model_ = keras.saving.load_model(path, safe_mode=True)
        estimator.classes_ = np.asarray(
            _from_json(meta["classes"]), dtype=np.dtype(meta["classes_dtype"])
        )
        estimator.class_weights_ = dict(
            zip(estimator.classes_.tolist(), meta["class_weights"])
        )
        estimator.class_prior_ = np.asarray(meta["class_prior"])
        estimator.n_features_in_ = meta["n_features_in"]
        estimator.history_ = meta["history"]
        return estimator
