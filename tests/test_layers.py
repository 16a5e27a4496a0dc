import keras
import numpy as np
import pytest

from keras_gen import ImageCorruption, corrupt


@pytest.fixture
def images(fashion_small):
    return fashion_small[0][:64]


def test_corruption_only_while_training(images):
    layer = ImageCorruption("gaussian", 0.5, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    noisy = keras.ops.convert_to_numpy(layer(images, training=True))
    assert noisy.shape == images.shape
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0
    assert np.abs(noisy - images).mean() > 0.2


@pytest.mark.parametrize("kind", ["salt_and_pepper", "mask"])
def test_fraction_corruptions(images, kind):
    noisy = keras.ops.convert_to_numpy(corrupt(images, kind, 0.3, seed=4))
    changed = noisy != images
    # A pixel drawn for corruption can already hold the value it is set to; count draws
    # on the pixels where any change is visible: for masks, the non-zero pixels.
    if kind == "mask":
        nonzero = images > 0
        assert abs(changed[nonzero].mean() - 0.3) < 0.02
        assert (noisy[changed] == 0).all()
    else:
        assert set(np.unique(noisy[changed])) <= {0.0, 1.0}
        assert abs((noisy == 1.0).mean() - (images == 1.0).mean() - 0.15) < 0.02


def test_corruption_is_seeded(images):
    a = corrupt(images, "gaussian", 0.3, seed=7)
    b = corrupt(images, "gaussian", 0.3, seed=7)
    c = corrupt(images, "gaussian", 0.3, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    layer = ImageCorruption("mask", 0.5, seed=3)
    first, second = layer(images, training=True), layer(images, training=True)
    assert not np.array_equal(first, second), "a new draw at each training step"


def test_config_round_trip():
    layer = ImageCorruption("salt_and_pepper", 0.2, seed=5, name="noise")
    clone = ImageCorruption.from_config(layer.get_config())
    assert (clone.kind, clone.amount, clone.seed, clone.name) == ("salt_and_pepper", 0.2, 5, "noise")


def test_bad_arguments():
    with pytest.raises(ValueError, match="must be one of .*got 'speckle'"):
        ImageCorruption("speckle")
    with pytest.raises(ValueError, match=r"fraction amount in \[0, 1\], got 1.5"):
        ImageCorruption("mask", 1.5)
    with pytest.raises(ValueError, match="stddev amount >= 0, got -0.1"):
        corrupt(np.zeros((1, 2, 2, 1), np.float32), "gaussian", -0.1)
