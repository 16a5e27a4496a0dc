"""PixelRNN's Row LSTM and Diagonal BiLSTM: causal by gradients, the Row LSTM's
triangular receptive field and the Diagonal BiLSTM's complete one, an exact and
normalised likelihood, carried-state samplers drawing from the full network's
conditionals, save/load, and a short real-data run."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_pixelcnn import input_gradients, naive_sample

from keras_gen import datasets
from keras_gen.autoregressive import exact_nll
from keras_gen.pixelrnn import DiagonalLSTM, PixelRNN, RowLSTM, build_pixelrnn, skew, unskew


def tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return build_pixelrnn(**{"hidden": 6, "layers_count": 2, "first_kernel_size": 3, **kwargs})


def test_row_lstm_layer_by_hand():
    """One unit, a 1-wide state kernel: the LSTM equations of the docstring, row by row."""
    layer = RowLSTM(1, kernel_size=1)
    gates = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float32)
    layer.build(gates.shape)
    layer.state_kernel.assign(np.array([[[0.5, -1.0, 2.0, 0.3]]], np.float32))
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c, expected = np.zeros((2, 4, 1)), np.zeros((2, 4, 1)), []
    for row in range(3):
        z = gates[:, row] + h * np.array([0.5, -1.0, 2.0, 0.3])
        i, f, o, g = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        expected.append(h)
    np.testing.assert_allclose(np.asarray(layer(gates)), np.stack(expected, 1), rtol=1e-5, atol=1e-6)


def test_diagonal_lstm_layer_by_hand():
    """One unit: the state at (r, c) from (r, c - 1) and (r - 1, c), pixel by pixel in
    raster order, equals the layer's diagonal-by-diagonal computation; right to left,
    the mirrored computation moved down one row."""
    gates = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float32)
    left_kernel, up_kernel = np.array([0.5, -1.0, 2.0, 0.3]), np.array([-0.7, 0.4, 1.1, -0.2])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

    def by_hand(g):
        h, c = np.zeros((2, 3, 4, 1)), np.zeros((2, 3, 4, 1))
        for row in range(3):
            for column in range(4):
                h_left = h[:, row, column - 1] if column else 0.0
                c_left = c[:, row, column - 1] if column else 0.0
                h_up = h[:, row - 1, column] if row else 0.0
                i, f, o, cand = np.split(g[:, row, column] + h_left * left_kernel + h_up * up_kernel, 4, axis=-1)
                c[:, row, column] = sigmoid(f) * c_left + sigmoid(i) * np.tanh(cand)
                h[:, row, column] = sigmoid(o) * np.tanh(c[:, row, column])
        return h

    for direction in ("left_to_right", "right_to_left"):
        layer = DiagonalLSTM(1, direction=direction)
        layer.build(gates.shape)
        layer.state_kernel.assign(np.stack([left_kernel, up_kernel])[:, None].astype(np.float32))
        if direction == "left_to_right":
            expected = by_hand(gates)
        else:
            expected = np.pad(by_hand(gates[:, :, ::-1])[:, :, ::-1], [(0, 0), (1, 0), (0, 0), (0, 0)])[:, :-1]
        np.testing.assert_allclose(np.asarray(layer(gates)), expected, rtol=1e-5, atol=1e-6)


def test_skew_makes_diagonals_columns():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    skewed = np.asarray(skew(tf.constant(x)))
    assert skewed.shape == (2, 3, 6, 2)
    for row in range(3):
        np.testing.assert_array_equal(skewed[:, row, row:row + 4], x[:, row])
        assert not skewed[:, row, :row].any() and not skewed[:, row, row + 4:].any()
    np.testing.assert_array_equal(np.asarray(unskew(tf.constant(skewed), 4)), x)


@pytest.mark.parametrize("kind", ["row_lstm", "diagonal_bilstm"])
@pytest.mark.parametrize("channels", [1, 3])
def test_networks_are_causal(kind, channels):
    height, width = 5, 6
    x = np.random.default_rng(0).random((1, height, width, channels)).astype(np.float32)
    order = np.arange(height * width * channels).reshape(height, width, channels)
    # 4 units per colour group: with 2, a pixel's head ReLUs can all be off (zero gradient).
    model = tiny(input_shape=(height, width, channels), kind=kind, hidden=12)
    for row, column, channel in [(0, 0, 0), (2, 3, channels - 1), (4, 5, 0), (3, 0, channels // 2)]:
        grad = input_gradients(model.logits, x, row, column, channel)
        i = order[row, column, channel]
        assert np.all(grad[order >= i] == 0), (row, column, channel)
        assert i == 0 or np.abs(grad[order < i]).sum() > 0


def test_row_lstm_sees_a_triangle_above():
    """Output at (5, 1) of a 6x10 image, first convolution 7x7, state kernel 3: d rows up
    it sees every column left of 1 + d + 2 (the state of the row above reaches one column
    further per row, the first convolution 3 - 1 more), in its own row the pixel to its
    left, and nothing else, whatever the depth."""
    x = np.random.default_rng(1).random((1, 6, 10, 1)).astype(np.float32)
    rows, columns = np.meshgrid(np.arange(6), np.arange(10), indexing="ij")
    triangle = ((rows < 5) & (columns <= 1 + (5 - rows) + 2)) | ((rows == 5) & (columns < 1))
    for depth in (1, 3):
        model = tiny(input_shape=(6, 10, 1), first_kernel_size=7, layers_count=depth)
        grad = input_gradients(model.logits, x, 5, 1, 0)[..., 0]
        np.testing.assert_array_equal(grad != 0, triangle)


def test_diagonal_bilstm_sees_every_previous_pixel():
    """With one layer and a 3x3 first convolution, every pixel before the output's (and
    none after) has a nonzero gradient, far above-right included, which the Row LSTM's
    triangle misses."""
    x = np.random.default_rng(1).random((1, 6, 10, 1)).astype(np.float32)
    order = np.arange(60).reshape(6, 10)
    model = tiny(input_shape=(6, 10, 1), kind="diagonal_bilstm", layers_count=1)
    for row, column in [(5, 1), (3, 0), (2, 9), (5, 9)]:
        grad = input_gradients(model.logits, x, row, column, 0)[..., 0]
        np.testing.assert_array_equal(grad != 0, order < order[row, column])


@pytest.mark.parametrize("kwargs", [
    dict(input_shape=(2, 2, 1), levels=2),
    dict(input_shape=(2, 3, 1), levels=2, kind="diagonal_bilstm"),
    dict(input_shape=(1, 2, 2), levels=3, num_classes=3),
    dict(input_shape=(2, 1, 2), levels=3, num_classes=3, kind="diagonal_bilstm"),
])
def test_likelihood_is_exact_and_normalised(kwargs):
    model = tiny(**kwargs)
    height, width, channels = model.image_shape
    images = np.array(list(itertools.product(range(model.levels), repeat=height * width * channels)))
    images = (images.reshape(-1, height, width, channels) / (model.levels - 1)).astype(np.float32)
    for label in ([None] if model.num_classes is None else [0, 2]):
        labels = None if label is None else np.full(len(images), label)
        np.testing.assert_allclose(np.exp(-model.nll(images, labels).astype(np.float64)).sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", ["row_lstm", "diagonal_bilstm"])
def test_nll_is_the_sum_of_hand_computed_pixel_terms(kind):
    model = tiny(input_shape=(4, 5, 1), kind=kind)
    x = (np.random.default_rng(2).random((3, 4, 5, 1)) > 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-np.asarray(model.logits(tf.constant(x)), np.float64)))
    by_hand = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(model.nll(x), by_hand, rtol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(input_shape=(6, 7, 1), levels=2),
    dict(input_shape=(5, 4, 2), levels=4, num_classes=3),
    dict(input_shape=(4, 5, 1), levels=2, kind="diagonal_bilstm"),
    dict(input_shape=(3, 4, 2), levels=4, num_classes=3, kind="diagonal_bilstm"),
])
def test_carried_state_sampler_draws_from_the_full_network(kwargs):
    """The samplers run a row (Row LSTM) or one LSTM step per layer (Diagonal BiLSTM) per
    pixel from the carried states; the reference runs the whole network on the whole
    canvas for every pixel: the same images."""
    model = tiny(**kwargs)
    if model.conditional:
        labels = np.array([0, 2, 1], np.int32)
        np.testing.assert_array_equal(model.generate(labels, seed=4), naive_sample(model, 4, labels=labels))
    else:
        np.testing.assert_array_equal(model.sample(3, seed=4), naive_sample(model, 4, num=3))


@pytest.mark.parametrize("kind", ["row_lstm", "diagonal_bilstm"])
def test_sampling_is_seeded_and_survives_save_and_load(tmp_path, kind):
    model = tiny(input_shape=(6, 6, 1), num_classes=3, kind=kind)
    a = model.generate([0, 1, 2, 2], seed=3)
    assert not np.array_equal(a, model.generate([0, 1, 2, 2], seed=4))
    model.save(tmp_path / "pixelrnn.keras")
    restored = keras.models.load_model(tmp_path / "pixelrnn.keras")
    assert isinstance(restored, PixelRNN) and restored.kind == kind and restored.num_classes == 3
    np.testing.assert_array_equal(restored.generate([0, 1, 2, 2], seed=3), a)


@pytest.mark.parametrize("kind", ["row_lstm", "diagonal_bilstm"])
def test_short_real_run_lowers_test_nll(kind):
    keras.utils.set_random_seed(0)
    train = datasets.load("mnist", batch_size=32, binarize="static", limit=512, seed=0)
    test = datasets.load("mnist", split="test", batch_size=250, binarize="static", limit=250, seed=0)
    model = tiny(hidden=8, layers_count=1, kind=kind, optimizer=keras.optimizers.Adam(1e-2))
    before = exact_nll(model, test)["nll"]
    model.fit(train, epochs=1, verbose=0)
    after = exact_nll(model, test)["nll"]
    # About 784 ln 2 = 543 nats untrained; 16 steps on 512 real images took it to 172 (Row LSTM)
    # and 160 (Diagonal BiLSTM) here.
    assert 400 < before < 700 and after < 0.6 * before, (before, after)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        build_pixelrnn(kind="diagonal")
    with pytest.raises(ValueError, match="kernel sizes must be odd"):
        build_pixelrnn(kernel_size=2)
    with pytest.raises(ValueError, match="hidden must be >="):
        build_pixelrnn(input_shape=(8, 8, 3), hidden=2)
    with pytest.raises(ValueError, match="direction must be one of"):
        DiagonalLSTM(4, direction="up")


@pytest.mark.parametrize("kind", ["row_lstm", "diagonal_bilstm"])
def test_mixed_precision_trains_with_float32_logits(kind):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny(input_shape=(4, 5, 1), kind=kind)
        x = (np.random.default_rng(0).random((8, 4, 5, 1)) > 0.5).astype(np.float32)
        history = model.fit(x, batch_size=8, epochs=2, verbose=0)
        assert model.network.get_layer("conv_a").compute_dtype == "float16"
        assert model.logits(tf.constant(x)).dtype == tf.float32
        assert np.isfinite(history.history["loss"]).all()
        assert model.sample(2, seed=0).shape == (2, 4, 5, 1)
    finally:
        keras.mixed_precision.set_global_policy("float32")
