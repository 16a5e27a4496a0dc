import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import ImageCorruption, MinibatchStddev, SpectralConv2D, SpectralDense, corrupt


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


# ----------------------------------------------------------------- spectral normalization


def _unit(x):
    return x / np.sqrt((x**2).sum() + 1e-12)


def test_spectral_dense_one_power_iteration_by_hand_and_convergence_to_the_largest_singular_value():
    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(6, 3)), rng.normal(size=(3,)), rng.normal(size=(4, 6))
    layer = SpectralDense(3, u_seed=1)
    layer.build((None, 6))
    layer.kernel.assign(w)
    layer.bias.assign(b)
    u0 = layer.spectral_u.numpy().astype(np.float64)
    v = _unit(u0 @ w.T)
    u1 = _unit(v @ w)
    sigma = (v @ w @ u1.T).item()  # one power iteration, the paper's Algorithm 1
    out = keras.ops.convert_to_numpy(layer(x.astype(np.float32), training=True))
    np.testing.assert_allclose(out, x @ (w / sigma) + b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.spectral_u.numpy(), u1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layer.kernel.numpy(), w, rtol=1e-6)  # the trainable kernel is not overwritten
    stored = layer.spectral_u.numpy()
    layer(x.astype(np.float32), training=False)
    np.testing.assert_array_equal(layer.spectral_u.numpy(), stored)  # inference does not move u
    for _ in range(30):
        layer(x.astype(np.float32), training=True)
    largest = np.linalg.svd(w, compute_uv=False)[0]
    out = keras.ops.convert_to_numpy(layer(x.astype(np.float32), training=True))
    np.testing.assert_allclose(out, x @ (w / largest) + b, rtol=1e-4, atol=1e-5)
    assert abs(largest - sigma) > 0.05, "the test tells one iteration from the converged value"


def test_spectral_conv2d_normalizes_the_kernel_read_as_a_matrix_and_gradients_flow_through_sigma():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    layer = SpectralConv2D(3, 3, strides=2, padding="same", u_seed=0)
    plain = keras.layers.Conv2D(3, 3, strides=2, padding="same")
    layer.build(x.shape), plain.build(x.shape)
    for _ in range(40):
        layer(x, training=True)
    w = layer.kernel.numpy()
    largest = np.linalg.svd(w.reshape(-1, 3), compute_uv=False)[0]
    plain.set_weights([w / largest, layer.bias.numpy()])
    np.testing.assert_allclose(layer(x, training=False), plain(x), rtol=1e-4, atol=1e-5)
    # d/dW sum(conv(x, W / sigma(W))): not the same as with sigma held fixed.
    with tf.GradientTape(persistent=True) as tape:
        through = tf.reduce_sum(layer(x, training=False))
        fixed = tf.reduce_sum(layer.convolution_op(x, layer.kernel / float(largest)))
    difference = np.abs(tape.gradient(through, layer.kernel) - tape.gradient(fixed, layer.kernel)).max()
    assert difference > 1e-3, difference


def test_spectral_layers_save_and_reload_with_their_power_iteration_state(tmp_path):
    image = keras.Input((8, 8, 1))
    y = SpectralConv2D(4, 3, strides=2, padding="same", u_seed=3, name="conv")(image)
    model = keras.Model(image, SpectralDense(1, u_seed=4, name="logit")(keras.layers.Flatten()(y)))
    x = np.random.default_rng(2).normal(size=(5, 8, 8, 1)).astype(np.float32)
    model(x, training=True)
    model.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    for name in ("conv", "logit"):
        original, restored = model.get_layer(name), loaded.get_layer(name)
        np.testing.assert_array_equal(restored.spectral_u.numpy(), original.spectral_u.numpy())
        assert restored.get_config()["u_seed"] == original.get_config()["u_seed"]
    np.testing.assert_array_equal(loaded(x, training=True), model(x, training=True))
    with pytest.raises(ValueError, match="channels_last' only"):
        SpectralConv2D(4, 3, data_format="channels_first")


def test_minibatch_stddev_appends_the_batch_variety_by_hand_and_reloads(tmp_path):
    x = np.array([[[[1.0, 0.0]]], [[[3.0, 4.0]]]], np.float32)  # 2 images of 1x1 pixels, 2 features
    out = MinibatchStddev(epsilon=1e-8)(x).numpy()
    # per-feature stddevs over the batch: 1 and 2; their mean 1.5, appended to both images
    np.testing.assert_allclose(out, [[[[1.0, 0.0, 1.5]]], [[[3.0, 4.0, 1.5]]]], rtol=1e-6)
    copies = np.repeat(x[:1], 4, axis=0)
    variable = tf.Variable(copies)
    with tf.GradientTape() as tape:
        variety = tf.reduce_sum(MinibatchStddev()(variable)[..., -1])
    assert float(variety) == pytest.approx(4 * 1e-4, rel=1e-3)  # sqrt(epsilon): near-copies have no variety
    assert np.isfinite(tape.gradient(variety, variable).numpy()).all()  # epsilon keeps the gradient finite at 0

    image = keras.Input((4, 4, 3))
    model = keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(MinibatchStddev(epsilon=1e-6)(image))))
    assert model.layers[1].compute_output_shape((None, 4, 4, 3)) == (None, 4, 4, 4)
    batch = np.random.default_rng(0).normal(size=(6, 4, 4, 3)).astype(np.float32)
    model.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert loaded.layers[1].epsilon == 1e-6
    np.testing.assert_array_equal(loaded(batch), model(batch))
    with pytest.raises(ValueError, match="epsilon must be a number > 0, got 0"):
        MinibatchStddev(epsilon=0)
