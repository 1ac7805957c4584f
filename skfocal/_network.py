"""The small convolutional network of the paper, built with Keras."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

__all__ = ["build_cnn"]


def _seeded(kind, seed, offset):
    """Return a fresh initializer, seeded per layer when ``seed`` is given."""
    return kind(seed=None if seed is None else seed + offset)


def build_cnn(
    n_classes,
    *,
    input_side=28,
    filters=(32, 64, 64),
    kernel_size=3,
    dense_units=128,
    dropout=0.0,
    seed=None,
):
    """Build the paper's CNN: three convolutions, two max-poolings, two dense.

    The model takes flat rows of ``input_side ** 2`` byte values (0 to 255,
    any numeric dtype), rescales them to [0, 1] and reshapes them to square
    single-channel images inside the network, so that raw ``uint8`` rows can
    be fed directly. A pooling follows each of the first two convolutions.
    The last dense layer outputs ``n_classes`` logits: apply a softmax where
    probabilities are needed.

    Parameters
    ----------
    n_classes : int
        Number of classes, >= 2.
    input_side : int, default=28
        Side of the square images; rows hold ``input_side ** 2`` bytes.
    filters : tuple of 3 int, default=(32, 64, 64)
        Number of filters of each convolution.
    kernel_size : int, default=3
        Side of the convolution kernels. Convolutions and poolings use
        ``'same'`` padding, so any ``input_side`` works.
    dense_units : int, default=128
        Width of the hidden dense layer.
    dropout : float, default=0.0
        Dropout rate before the output layer.
    seed : int or None, default=None
        Seed of the weight initializers and of the dropout; None draws fresh
        random weights.

    Returns
    -------
    model : keras.Model
        The uncompiled network, mapping ``(n, input_side ** 2)`` inputs to
        ``(n, n_classes)`` logits.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] W. Wang, M. Zhu, J. Wang, X. Zeng and Z. Yang, "End-to-end
       encrypted traffic classification with one-dimensional convolution
       neural networks", ISI 2017.

    Examples
    --------
    >>> from skfocal._network import build_cnn
    >>> model = build_cnn(3, seed=0)
    >>> model.output_shape
    (None, 3)
    """
    if len(filters) != 3:
        raise ValueError(
            "filters must hold the number of filters of the 3 convolutions; "
            f"got filters={filters!r}."
        )
    side = int(input_side)
    inputs = keras.Input(shape=(side * side,), name="bytes")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit")(inputs)
    x = keras.layers.Reshape((side, side, 1), name="to_image")(x)

    for i, n_filters in enumerate(filters):
        x = keras.layers.Conv2D(
            int(n_filters),
            kernel_size,
            padding="same",
            activation="relu",
            kernel_initializer=_seeded(keras.initializers.GlorotUniform, seed, i),
            name=f"conv{i + 1}",
        )(x)
        if i < 2:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i + 1}")(x)

    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        int(dense_units),
        activation="relu",
        kernel_initializer=_seeded(keras.initializers.GlorotUniform, seed, 3),
        name="dense",
    )(x)
    if dropout > 0:
        x = keras.layers.Dropout(
            dropout, seed=None if seed is None else seed + 4, name="dropout"
        )(x)
    outputs = keras.layers.Dense(
        int(n_classes),
        kernel_initializer=_seeded(keras.initializers.GlorotUniform, seed, 5),
        name="logits",
    )(x)
    return keras.Model(inputs, outputs, name="focal_cnn")


def square_side(n_features):
    """Return the side of the square image of ``n_features`` bytes, or None."""
    side = math.isqrt(int(n_features))
    return side if side * side == n_features and side > 0 else None
