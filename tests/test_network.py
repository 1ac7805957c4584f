"""The paper's CNN: layout, input handling and seeding."""

import keras
import numpy as np
import pytest

from skfocal._network import build_cnn, square_side


def count(model, kind):
    return sum(isinstance(layer, kind) for layer in model.layers)


def test_layout_of_the_paper():
    model = build_cnn(5, seed=0)
    assert count(model, keras.layers.Conv2D) == 3
    assert count(model, keras.layers.MaxPooling2D) == 2
    assert count(model, keras.layers.Dense) == 2
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 5)
    # Logits: no softmax on the last layer.
    assert model.layers[-1].activation is keras.activations.linear


def test_raw_bytes_go_in_and_are_rescaled_inside():
    model = build_cnn(3, seed=0)
    rescale = model.get_layer("to_unit")
    assert rescale.scale == pytest.approx(1 / 255)
    assert model.layers.index(rescale) == 1  # right after the input
    rows = np.random.default_rng(0).integers(0, 256, size=(4, 784), dtype=np.uint8)
    from_uint8 = model.predict(rows, verbose=0)
    from_float = model(rows.astype(np.float32), training=False)
    np.testing.assert_allclose(from_uint8, np.asarray(from_float), rtol=1e-5)


@pytest.mark.parametrize("side", [8, 16, 32])
def test_other_square_sides(side):
    model = build_cnn(2, input_side=side, filters=(2, 2, 2), dense_units=4)
    out = model(np.zeros((3, side * side), dtype=np.float32))
    assert tuple(out.shape) == (3, 2)


def test_seed_fixes_the_weights_and_dropout_is_optional():
    first = build_cnn(3, seed=1, dropout=0.5)
    second = build_cnn(3, seed=1, dropout=0.5)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert count(first, keras.layers.Dropout) == 1
    assert count(build_cnn(3, seed=1), keras.layers.Dropout) == 0


def test_bad_filters():
    with pytest.raises(ValueError, match="filters must hold the number of filters"):
        build_cnn(3, filters=(8, 8))


@pytest.mark.parametrize("n, side", [(784, 28), (1, 1), (100, 10), (785, None)])
def test_square_side(n, side):
    assert square_side(n) == side
