import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import Sampling, build_conditional_vae, build_vae, datasets
from keras_gen.callbacks import KLWarmUp
from keras_gen.losses import bernoulli_nll, gaussian_kl, gaussian_nll
from keras_gen.vae import VAE, ConditionalVAE, evaluate_likelihood, prior_quantiles


def test_closed_form_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4, 3)).astype(np.float32)
    log_var = rng.normal(scale=0.5, size=(4, 3)).astype(np.float32)
    z = mu + np.exp(0.5 * log_var) * rng.normal(size=(200_000, 4, 3))
    log_q = -0.5 * (np.log(2 * np.pi) + log_var + (z - mu) ** 2 / np.exp(log_var))
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    monte_carlo = (log_q - log_p).sum(-1).mean(0)
    closed = keras.ops.convert_to_numpy(gaussian_kl(mu, log_var))
    np.testing.assert_allclose(closed, monte_carlo, atol=0.02)
    assert keras.ops.convert_to_numpy(gaussian_kl(np.zeros((2, 5)), np.zeros((2, 5)))).tolist() == [0.0, 0.0]


def test_likelihoods_match_hand_computation():
    x = np.array([[1.0, 0.0, 1.0]], np.float32)
    p = np.array([[0.9, 0.2, 0.6]], np.float32)
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.6))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bernoulli_nll(x, p)), [expected], rtol=1e-6)
    mean = np.array([[0.5, 0.5, 0.5]], np.float32)
    g = 0.5 * (3 * np.log(2 * np.pi * 0.1) + ((x - mean) ** 2).sum() / 0.1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gaussian_nll(x, mean, np.log(0.1))), [g], rtol=1e-5)
    huge = keras.ops.convert_to_numpy(gaussian_kl(np.zeros((1, 2)), np.full((1, 2), 1e4)))
    assert np.isfinite(huge).all(), "the log-variance is clamped before exp"


def test_sampling_is_seeded_and_passes_gradients():
    mu = tf.Variable(np.zeros((256, 2), np.float32))
    log_var = tf.Variable(np.zeros((256, 2), np.float32))
    with tf.GradientTape() as tape:
        z = Sampling(seed=3)([mu, log_var])
        loss = tf.reduce_sum(z**2)
    grad_mu, grad_log_var = tape.gradient(loss, [mu, log_var])
    np.testing.assert_allclose(grad_mu.numpy(), 2 * z.numpy(), rtol=1e-5)  # dz/dmu = 1
    np.testing.assert_allclose(grad_log_var.numpy(), z.numpy() ** 2, rtol=1e-4)  # dz/dlogvar = z/2 at mu=0
    np.testing.assert_array_equal(Sampling(seed=3)([mu, log_var]), z)
    assert 0.8 < np.std(z.numpy()) < 1.2


def test_gradients_reach_the_encoder(fashion_small):
    vae = build_vae(latent_dim=2, seed=0)
    x = fashion_small[0][:32]
    with tf.GradientTape() as tape:
        reconstruction, kl = vae.compute_terms(x, training=True)
        loss = tf.reduce_mean(reconstruction)  # the reconstruction term alone reaches q(z|x) only through z
    grads = tape.gradient(loss, vae.encoder.trainable_weights)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_beta_zero_reduces_the_loss_to_reconstruction(fashion_small):
    x = fashion_small[0][:64]
    vae = build_vae(latent_dim=4, beta=0.0, seed=0)
    logs = vae.evaluate(x, verbose=0, return_dict=True)
    assert logs["kl_loss"] > 0
    np.testing.assert_allclose(logs["loss"], logs["reconstruction_loss"], rtol=1e-6)
    vae_beta = build_vae(latent_dim=4, beta=2.0, seed=0)
    logs = vae_beta.evaluate(x, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["reconstruction_loss"] + 2.0 * logs["kl_loss"], rtol=1e-5)


def test_short_real_run_lowers_test_elbo():
    keras.utils.set_random_seed(0)
    train = datasets.load("fashion_mnist", batch_size=128, limit=6000)
    test = datasets.load("fashion_mnist", split="test", batch_size=500, limit=2000)
    vae = build_vae(latent_dim=2, seed=0)
    before = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
    history = vae.fit(train, epochs=2, validation_data=test, verbose=0)
    after = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
    assert before > 500 and after < before - 120, f"negative ELBO {before:.1f} -> {after:.1f} nats"
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss", "val_loss"}


def test_gaussian_likelihood_with_learned_variance(fashion_small):
    keras.utils.set_random_seed(0)
    x = fashion_small[0]
    vae = build_vae(latent_dim=8, architecture="dense", likelihood="gaussian", seed=0)
    history = vae.fit(x, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Pixel errors are far below the initial variance 1, so the learned log-variance falls
    # (Adam moves it about lr = 1e-3 per step: 96 steps here).
    assert float(vae.log_observation_variance.numpy()) < -0.05
    fixed = build_vae(likelihood="gaussian", observation_variance=0.05)
    assert not fixed.log_observation_variance.trainable


def test_save_and_reload_without_custom_objects(tmp_path, fashion_small):
    x = fashion_small[0][:256]
    vae = build_vae(latent_dim=3, architecture="conv", seed=5)
    vae.fit(x, epochs=1, batch_size=64, verbose=0)
    vae.save(tmp_path / "vae.keras")
    restored = keras.models.load_model(tmp_path / "vae.keras")
    again = keras.models.load_model(tmp_path / "vae.keras")
    # Two loads start from the same Sampling seed: identical stochastic outputs.
    np.testing.assert_array_equal(restored.predict(x, verbose=0), again.predict(x, verbose=0))
    assert isinstance(restored, VAE) and restored.likelihood == "bernoulli"
    for a, b in zip(vae.encoder.predict(x, verbose=0)[:2], restored.encoder.predict(x, verbose=0)[:2]):
        np.testing.assert_array_equal(a, b)  # z_mean and z_log_var
    np.testing.assert_array_equal(vae.sample(16, seed=7), restored.sample(16, seed=7))
    restored.fit(x, epochs=1, batch_size=64, verbose=0)  # optimizer state reloaded, training resumes


def test_bad_input_is_refused_before_training(fashion_small):
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1, got 0"):
        build_vae(latent_dim=0)
    with pytest.raises(ValueError, match="beta must be a number >= 0, got -1"):
        build_vae(beta=-1)
    with pytest.raises(ValueError, match="likelihood must be one of .*got 'poisson'"):
        build_vae(likelihood="poisson")
    with pytest.raises(ValueError, match="divisible by 4"):
        build_vae(input_shape=(30, 30, 1), architecture="conv")
    vae = build_vae()
    x = fashion_small[0][:64]
    with pytest.raises(ValueError, match=r"images have shape \(28, 28\) per example; this VAE expects \(28, 28, 1\)"):
        vae.fit(x[..., 0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\], got values in \[0, 255\]"):
        vae.fit(x * 255, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\], got values in \[-1, 1\]"):
        vae.fit(datasets.load(x, value_range=(-1, 1)), epochs=1, verbose=0)


@pytest.fixture(scope="module")
def trained_binary_vae(fashion_small):
    """A small dense VAE trained briefly on statically binarized real Fashion-MNIST."""
    keras.utils.set_random_seed(0)
    x = (np.random.default_rng(0).random(fashion_small[0].shape) < fashion_small[0]).astype(np.float32)
    vae = build_vae(latent_dim=4, architecture="dense", hidden_units=(128,), seed=0)
    vae.fit(x[:1500], epochs=3, batch_size=64, verbose=0)
    return vae, x[1500:1800]


def test_importance_weighted_bound_is_above_the_elbo_and_tightens(trained_binary_vae):
    vae, x = trained_binary_vae
    results = {k: evaluate_likelihood(vae, x, num_samples=k, seed=1) for k in (1, 10, 100)}
    elbo = results[1]["negative_elbo"]
    # K=1 is a one-sample ELBO estimate (Monte-Carlo KL instead of the closed form).
    assert abs(results[1]["iw_nll"] - elbo) < 0.02 * elbo
    assert abs(results[100]["negative_elbo"] - elbo) < 0.02 * elbo
    assert results[100]["iw_nll"] < results[10]["iw_nll"] < results[1]["iw_nll"]
    assert results[100]["iw_nll"] < elbo - 1.0, results
    assert results[100] == evaluate_likelihood(vae, x, num_samples=100, seed=1), "same seed, same numbers"
    assert results[100]["iw_nll_bits_per_dim"] == pytest.approx(results[100]["iw_nll"] / (784 * np.log(2)))
    assert results[100]["num_images"] == 300


def test_importance_weights_average_to_the_elbo(trained_binary_vae):
    # E_q[log w] = E_q[log p(x|z)] - KL(q || p): the Monte-Carlo mean of the log-weights
    # must match the closed-form-KL ELBO, checking log q(z|x) and log p(z) in the weights.
    vae, x = trained_binary_vae
    x = x[:20]
    eps = keras.random.normal((4000, 20, vae.latent_dim), seed=2)
    mean_log_w = keras.ops.convert_to_numpy(keras.ops.mean(vae.log_importance_weights(x, eps=eps)[1], axis=0))
    z_mean, z_log_var, _ = vae.encoder(x)
    kl = keras.ops.convert_to_numpy(gaussian_kl(z_mean, z_log_var))
    reconstruction = np.mean([keras.ops.convert_to_numpy(vae.compute_terms(x)[0]) for _ in range(200)], axis=0)
    np.testing.assert_allclose(-mean_log_w, reconstruction + kl, rtol=0.01)


def test_kl_warm_up_raises_beta_linearly(fashion_small):
    x = fashion_small[0][:256]
    vae = build_vae(latent_dim=2, beta=2.0, seed=0)
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(float(vae.beta.numpy())))
    history = vae.fit(x, epochs=3, batch_size=64, verbose=0, callbacks=[KLWarmUp(epochs=2), record])
    # 4 steps per epoch: beta = 2 * step / 8 for steps 0..7, then 2.
    np.testing.assert_allclose(seen, [2 * s / 8 for s in range(8)] + [2.0] * 4, rtol=1e-6)
    np.testing.assert_allclose(history.history["beta"], [0.75, 1.75, 2.0])  # beta of the last step
    with pytest.raises(ValueError, match="epochs must be a number > 0, got 0"):
        KLWarmUp(epochs=0)
    with pytest.raises(ValueError, match="needs a model with a `beta` weight"):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(loss="mse")
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0, callbacks=[KLWarmUp(epochs=1)])


def test_prior_quantiles():
    grid = prior_quantiles(3, 0.05, 0.95)
    np.testing.assert_allclose(grid, [-1.6448536, 0.0, 1.6448536], atol=1e-6)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        prior_quantiles(5, 0.0, 1.0)


@pytest.fixture(scope="module")
def mnist_cvae(mnist_bundled):
    keras.utils.set_random_seed(0)
    x, y = mnist_bundled
    x = x[:8000].astype(np.float32) / 255.0
    cvae = build_conditional_vae(latent_dim=2, num_classes=10, architecture="dense", hidden_units=(256,), seed=0)
    cvae.fit(x, y[:8000], epochs=8, batch_size=64, verbose=0)
    return cvae, x, y[:8000]


def test_conditional_vae_generates_the_requested_class(mnist_cvae):
    cvae, x, y = mnist_cvae
    # An independent judge: a small classifier trained here on the real digits.
    judge = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10),
    ])
    judge.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    judge.fit(x, y, epochs=2, batch_size=64, verbose=0)
    labels = np.repeat(np.arange(10), 20)
    predicted = np.argmax(judge.predict(cvae.generate(labels, seed=3), verbose=0), axis=1)
    accuracy = np.mean(predicted == labels)
    assert accuracy > 0.8, f"only {accuracy:.0%} of generated digits are judged to be the requested class"
    # The same z with different labels gives different images (the label is used) ...
    z = np.zeros((2, 2), np.float32)
    a, b = cvae.generate([3, 8], z=z)
    assert np.abs(a - b).mean() > 0.05
    np.testing.assert_array_equal(cvae.generate([4, 5], seed=9), cvae.generate([4, 5], seed=9))


def test_conditional_vae_round_trip_and_bad_labels(tmp_path, mnist_cvae):
    cvae, x, y = mnist_cvae
    cvae.save(tmp_path / "cvae.keras")
    restored = keras.models.load_model(tmp_path / "cvae.keras")
    assert isinstance(restored, ConditionalVAE) and restored.num_classes == 10
    np.testing.assert_array_equal(restored.generate([1, 7], seed=4), cvae.generate([1, 7], seed=4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], got 10 \(num_classes=10\)"):
        restored.fit(x[:64], np.full(64, 10), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], got -1"):
        restored.generate([0, -1])
    with pytest.raises(ValueError, match=r"labels are missing: a conditional model needs \(images, labels\)"):
        restored.fit(x[:64], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"z must have shape \(2, 2\), got \(2, 3\)"):
        restored.generate([0, 1], z=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        build_conditional_vae(num_classes=1)
    result = evaluate_likelihood(restored, tf.data.Dataset.from_tensor_slices((x[:200], y[:200])).batch(100),
                                 num_samples=5)
    assert 50 < result["iw_nll"] <= result["negative_elbo"] + 5


def test_mixed_precision_training_stays_finite(fashion_small):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        vae = build_vae(latent_dim=2, architecture="dense", hidden_units=(64,), seed=0)  # float16 is slow on CPUs
        history = vae.fit(fashion_small[0][:512], epochs=2, batch_size=64, verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer)
    assert vae.decoder.output.dtype == "float32" and vae.encoder.get_layer("z_mean").compute_dtype == "float16"
    assert np.isfinite(history.history["loss"]).all() and history.history["loss"][1] < history.history["loss"][0]


DISTRIBUTED = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_gen.vae import VAE

def deterministic_vae():
    # z = z_mean (no sampling noise), so both runs see the same computation.
    keras.utils.set_random_seed(0)
    image = keras.Input((28, 28, 1))
    h = keras.layers.Dense(8, activation="tanh")(keras.layers.Flatten()(image))
    z_mean, z_log_var = keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)
    encoder = keras.Model(image, [z_mean, z_log_var, z_mean])
    code = keras.Input((2,))
    decoder = keras.Model(code, keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784, activation="sigmoid")(code)))
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.SGD(0.1))
    return vae

x = np.load(sys.argv[1])
plain = deterministic_vae()
plain.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = deterministic_vae()
logs = mirrored.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0).history
assert strategy.num_replicas_in_sync == 2
for a, b in zip(plain.get_weights(), mirrored.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
print("same weights", logs["loss"])
"""


def test_mirrored_strategy_gives_the_same_update(tmp_path, fashion_small):
    import os
    import subprocess
    import sys

    np.save(tmp_path / "x.npy", fashion_small[0][:64])  # one global batch of 64 = 2 replicas x 32
    run = subprocess.run([sys.executable, "-c", DISTRIBUTED, str(tmp_path / "x.npy")], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0 and "same weights" in run.stdout, run.stderr[-3000:]
