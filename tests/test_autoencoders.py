import keras
import numpy as np
import pytest

from keras_gen import (
    build_conv_autoencoder,
    build_denoising_autoencoder,
    build_dense_autoencoder,
    build_encoder_classifier,
    build_latent2d_autoencoder,
    corrupt,
    datasets,
)


@pytest.mark.parametrize(
    "builder, code_shape, params",
    [
        # 784*32+32 + 32*784+784, the lecture's single-layer dense autoencoder
        (build_dense_autoencoder, (32,), 50992),
        # conv: 2 * (3*3*1*32+32) ... see the layer list in build_conv_autoencoder
        (build_conv_autoencoder, (7, 7, 32), 320 + 9248 + 9248 + 9248 + 289),
        # 784*512+512 + 512*2+2 + 2*512+512 + 512*784+784
        (build_latent2d_autoencoder, (2,), 401920 + 1026 + 1536 + 402192),
    ],
)
def test_builder_shapes_and_parameter_counts(builder, code_shape, params):
    autoencoder, encoder, decoder = builder()
    assert encoder.output.shape[1:] == code_shape
    assert decoder.input.shape[1:] == code_shape
    assert autoencoder.output.shape[1:] == (28, 28, 1)
    assert autoencoder.count_params() == params == encoder.count_params() + decoder.count_params()
    assert isinstance(autoencoder.loss, keras.losses.BinaryCrossentropy)


def test_conv_autoencoder_follows_the_input_channels_and_filters():
    autoencoder, encoder, _ = build_conv_autoencoder((32, 32, 3), filters=(16, 8, 4))
    assert encoder.output.shape[1:] == (4, 4, 4)
    assert autoencoder.output.shape[1:] == (32, 32, 3)
    with pytest.raises(ValueError, match=r"divisible by 4.*\(30, 30, 1\)|\(30, 30, 1\).*divisible by 4"):
        build_conv_autoencoder((30, 30, 1))


def test_mse_on_request_and_bad_arguments():
    autoencoder, _, _ = build_dense_autoencoder(loss="mse")
    assert isinstance(autoencoder.loss, keras.losses.MeanSquaredError)
    with pytest.raises(ValueError, match="unknown reconstruction loss 'l1'"):
        build_dense_autoencoder(loss="l1")
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1, got 0"):
        build_dense_autoencoder(latent_dim=0)
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, channels\)"):
        build_dense_autoencoder(input_shape=(784,))
    with pytest.raises(ValueError, match="architecture must be one of .*got 'rnn'"):
        build_denoising_autoencoder(architecture="rnn")


def test_denoising_noise_in_training_only(fashion_small):
    x = fashion_small[0][:16]
    autoencoder, encoder, decoder = build_denoising_autoencoder(noise="salt_and_pepper", noise_amount=0.3, seed=0)
    clean_path = keras.ops.convert_to_numpy(decoder(encoder(x)))
    np.testing.assert_allclose(autoencoder.predict(x, verbose=0), clean_path, atol=1e-6)
    trained_view = keras.ops.convert_to_numpy(autoencoder(x, training=True))
    assert np.abs(trained_view - clean_path).max() > 1e-3


def _fit_and_evaluate(autoencoder, x_train, x_test, epochs):
    before = autoencoder.evaluate(x_test, x_test, verbose=0)
    autoencoder.fit(x_train, x_train, epochs=epochs, batch_size=64, verbose=0)
    return before, autoencoder.evaluate(x_test, x_test, verbose=0)


def test_conv_autoencoder_learns_on_real_data(fashion_small):
    keras.utils.set_random_seed(0)
    x = fashion_small[0]
    autoencoder, _, _ = build_conv_autoencoder()
    before, after = _fit_and_evaluate(autoencoder, x[:1500], x[1500:], epochs=2)
    assert before > 0.6  # an untrained sigmoid output sits near 0.5 everywhere
    assert after < 0.40, f"test BCE per pixel {after:.3f} after 2 epochs on 1,500 images"


def test_denoising_autoencoder_removes_noise(fashion_small):
    keras.utils.set_random_seed(0)
    x = fashion_small[0]
    autoencoder, _, _ = build_denoising_autoencoder(noise="gaussian", noise_amount=0.3, seed=0)
    autoencoder.fit(x[:1500], x[:1500], epochs=3, batch_size=64, verbose=0)
    noisy = keras.ops.convert_to_numpy(corrupt(x[1500:], "gaussian", 0.3, seed=11))
    denoised = autoencoder.predict(noisy, verbose=0)
    assert np.mean((denoised - x[1500:]) ** 2) < 0.5 * np.mean((noisy - x[1500:]) ** 2)


@pytest.mark.parametrize("builder", [build_dense_autoencoder, build_denoising_autoencoder])
def test_keras_file_round_trip(tmp_path, fashion_small, builder):
    x = fashion_small[0][:256]
    autoencoder, encoder, _ = builder()
    autoencoder.fit(x, x, epochs=1, batch_size=64, verbose=0)
    path = tmp_path / "model.keras"
    autoencoder.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), autoencoder.predict(x, verbose=0))
    restored.fit(x, x, epochs=1, batch_size=64, verbose=0)  # reloaded optimizer state keeps training


def test_encoder_as_frozen_feature_extractor(fashion_small):
    keras.utils.set_random_seed(0)
    x, y = fashion_small
    autoencoder, encoder, _ = build_conv_autoencoder()
    autoencoder.fit(x[:1500], x[:1500], epochs=2, batch_size=64, verbose=0)
    weights = [w.copy() for w in encoder.get_weights()]
    classifier = build_encoder_classifier(encoder, num_classes=10)
    classifier.fit(x[:1500], y[:1500], epochs=10, batch_size=64, verbose=0)
    for before, after in zip(weights, encoder.get_weights()):
        np.testing.assert_array_equal(before, after)
    accuracy = classifier.evaluate(x[1500:], y[1500:], verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.6, f"linear probe accuracy {accuracy:.2f} on 10 classes"
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        build_encoder_classifier(encoder, num_classes=1)


def test_fit_on_a_loaded_dataset():
    keras.utils.set_random_seed(0)
    train = datasets.as_autoencoder_pairs(datasets.load("fashion_mnist", batch_size=64, limit=640))
    autoencoder, _, _ = build_dense_autoencoder()
    history = autoencoder.fit(train, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_mixed_precision_keeps_a_float32_output(fashion_small):
    x = fashion_small[0][:128]
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        autoencoder, encoder, _ = build_conv_autoencoder()
        assert encoder.output.dtype == "float16"
        assert autoencoder.output.dtype == "float32"
        history = autoencoder.fit(x, x, epochs=2, batch_size=32, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][1] < history.history["loss"][0]
