import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import Sampling, build_vae, datasets
from keras_gen.losses import bernoulli_nll, gaussian_kl, gaussian_nll
from keras_gen.vae import VAE


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
    vae = build_vae(latent_dim=3, seed=5)
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
        build_vae(input_shape=(30, 30, 1))
    vae = build_vae()
    x = fashion_small[0][:64]
    with pytest.raises(ValueError, match=r"images have shape \(28, 28\) per example; this VAE expects \(28, 28, 1\)"):
        vae.fit(x[..., 0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"needs images in \[0, 1\], got values in \[0, 255\]"):
        vae.fit(x * 255, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"needs images in \[0, 1\], got values in \[-1, 1\]"):
        vae.fit(datasets.load(x, value_range=(-1, 1)), epochs=1, verbose=0)
