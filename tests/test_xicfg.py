"""xICFG (Johnson and Zhang 2018): the functional step against hand computations, the
approximator's fit, an episode, training on real images, save/load, export, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import export_model
from keras_gen.metrics import fid
from keras_gen.xicfg import XICFG, build_xicfg


def tiny(**kwargs):
    """A small conv xICFG on 28x28 images: a few seconds per episode."""
    args = {"latent_dim": 8, "filters": 8, "stages": 3, "seed": 0, **kwargs}
    return build_xicfg(**args)


def mlp_discriminator(weights, shape=(2, 2, 1)):
    """D(x) = v . tanh(W x + b) + c on flattened 2x2 images, with the given weights."""
    image = keras.Input(shape)
    hidden = keras.layers.Dense(3, activation="tanh")(keras.layers.Flatten()(image))
    model = keras.Model(image, keras.layers.Dense(1)(hidden))
    model.set_weights(weights)
    return model


def linear_approximator(latent_dim=2, shape=(2, 2, 1)):
    z = keras.Input((latent_dim,))
    return keras.Model(z, keras.layers.Reshape(shape)(keras.layers.Dense(int(np.prod(shape)))(z)))


def random_weights(seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(3, 1)), rng.normal(size=1)]


def hand_gradient(weights, x):
    """grad_x of v . tanh(W x + b) + c, per image, by the chain rule."""
    w, b, v, _ = weights
    flat = x.reshape(len(x), -1)
    return ((1.0 - np.tanh(flat @ w + b) ** 2) * v[:, 0]) @ w.T


def small_model(stages=2):
    weights = [np.asarray(w, np.float32) for w in random_weights(0)]
    model = XICFG(linear_approximator(), mlp_discriminator(weights), latent_dim=2, stages=stages, seed=0)
    model.compile(eta=0.3)
    return model


def test_functional_step_equals_the_hand_computation():
    model = small_model()
    x = np.random.default_rng(1).normal(size=(5, 2, 2, 1)).astype(np.float32)
    weights = [w.numpy() for w in model.discriminator.weights]
    expected = x.reshape(5, -1) + 0.3 * hand_gradient(weights, x)
    np.testing.assert_allclose(np.asarray(model.functional_step(x)).reshape(5, -1), expected, rtol=1e-5, atol=1e-6)

    # Two stages with two different kept discriminators: D_1's step, then D_2's.
    second = [np.asarray(w, np.float32) for w in random_weights(1)]
    history = [np.stack([a, b]) for a, b in zip(weights, second)]
    once = x.reshape(5, -1) + 0.7 * hand_gradient(weights, x)
    twice = once + 0.7 * hand_gradient(second, once.reshape(x.shape))
    np.testing.assert_allclose(np.asarray(model.functional_steps(x, history, 2, 0.7)).reshape(5, -1), twice,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.functional_steps(x, history, 0, 0.7), x)  # no stage yet: G~ alone


def test_a_step_moves_samples_toward_where_the_discriminator_rises():
    # D(x) = direction . x increases toward the region {x : direction . x >= 4}.
    direction = np.array([1.0, -1.0, 0.5, 2.0], np.float32)
    image = keras.Input((2, 2, 1))
    dense = keras.layers.Dense(1, use_bias=False)
    discriminator = keras.Model(image, dense(keras.layers.Flatten()(image)))
    dense.kernel.assign(direction[:, None])
    model = XICFG(linear_approximator(), discriminator, latent_dim=2, stages=1, seed=0)
    model.compile(eta=0.1)
    x = np.random.default_rng(0).normal(size=(16, 2, 2, 1)).astype(np.float32)

    def gap(images):  # distance to the region along the direction
        return np.maximum(0.0, 4.0 - images.reshape(len(images), -1) @ direction) / np.linalg.norm(direction)

    moved = np.asarray(model.functional_step(x))
    assert (gap(moved) <= gap(x)).all() and gap(moved).mean() < gap(x).mean()
    np.testing.assert_allclose(moved - x, np.broadcast_to(0.1 * direction.reshape(1, 2, 2, 1), x.shape), atol=1e-6)


def test_the_approximator_fit_lowers_its_loss_on_the_pool_and_cuts_a_rising_learning_rate():
    model = small_model()
    z = np.random.default_rng(2).normal(size=(40, 2)).astype(np.float32)
    targets = np.tanh(np.random.default_rng(3).normal(size=(40, 2, 2, 1))).astype(np.float32)

    def pool_loss():
        made = np.asarray(model.approximator(z))
        return 0.5 * np.mean(np.sum((made - targets).reshape(40, -1) ** 2, axis=1))

    before = pool_loss()
    model.compile(eta=0.3, approximator_epochs=10, approximator_optimizer=keras.optimizers.RMSprop(0.01))
    last = float(model.approximate(z, targets, 8))
    assert pool_loss() < 0.5 * before and last < before
    assert float(model.approximator_optimizer.learning_rate.numpy()) == pytest.approx(0.01), "no rise: no cut"

    model.compile(eta=0.3, approximator_epochs=6, lr_reductions=2,
                  approximator_optimizer=keras.optimizers.SGD(50.0))  # far too large: the loss rises
    model.approximate(z, targets, 8)
    assert float(model.approximator_optimizer.learning_rate.numpy()) == pytest.approx(0.5), "divided twice only"


def test_one_episode_brings_the_approximator_closer_to_the_grown_generator(mnist_bundled):
    model = tiny(eta=50.0)  # long steps, so that G~ has far to go
    x = mnist_bundled[0][:96].astype(np.float32) / 127.5 - 1.0
    model.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False)  # 3 steps: the initial fit, then 1 episode
    assert (int(model.episode.numpy()), int(model.stage.numpy()), int(model.sampler_stages.numpy())) == (1, 0, 3)
    z = model.latent_vectors(64, seed=5)
    grown = np.asarray(model.generator_images(z))  # kept G~ (before the fit) and the episode's 3 steps
    before = np.asarray(model.sampler_approximator(z, training=False))
    after = np.asarray(model.approximator_images(z))
    assert np.abs(grown - before).max() > 1e-3, "the steps moved the images"
    assert np.mean((after - grown) ** 2) < 0.8 * np.mean((before - grown) ** 2)


def test_training_on_real_fashion_mnist_improves_fid(fashion_small):
    images = fashion_small[0][:1024] * 2.0 - 1.0
    model = tiny(approximator="dense", units=128, filters=16, latent_dim=32, stages=5)  # eta 2.5
    model.fit(images[:64], batch_size=64, epochs=1, verbose=0)  # the first step only fits G~ to a projection
    start = fid(fashion_small[0][1024:1524], model, dataset="fashion_mnist", num_samples=500, seed=0)["fid"]
    history = model.fit(images, batch_size=64, epochs=10, verbose=0)  # 160 steps: 32 episodes
    trained = fid(fashion_small[0][1024:1524], model, dataset="fashion_mnist", num_samples=500, seed=0)["fid"]
    assert {"d_loss", "d_real", "d_gen", "approximator_loss", "episode"} <= set(history.history)
    assert trained < 0.7 * start, (start, trained)


def test_save_load_and_export_give_the_same_images(tmp_path, mnist_bundled):
    model = tiny()
    model.fit(mnist_bundled[0][:96].astype(np.float32) / 127.5 - 1.0, batch_size=32, epochs=2, verbose=0)
    images = model.sample(6, seed=3)
    model.save(tmp_path / "x.keras")
    loaded = keras.models.load_model(tmp_path / "x.keras")
    np.testing.assert_array_equal(loaded.sample(6, seed=3), images)
    assert int(loaded.sampler_stages.numpy()) == 3 and loaded.eta == model.eta
    assert loaded.get_compile_config()["approximator_epochs"] == model.approximator_epochs

    served = tf.saved_model.load(str(export_model(model, "xicfg", base_dir=tmp_path)))
    z = model.latent_vectors(6, seed=3)
    np.testing.assert_allclose(served.signatures["serving_default"](z=tf.constant(z))["image"].numpy(),
                               model.generate(z=z), atol=1e-5)
    sampled = served.signatures["sample"](seed=tf.constant(3, tf.int64), num=tf.constant(6))["image"].numpy()
    assert sampled.shape == (6, 28, 28, 1) and 0.0 <= sampled.min() and sampled.max() <= 1.0


def test_interrupted_training_resumes_mid_episode_as_if_never_stopped(tmp_path, mnist_bundled):
    x = mnist_bundled[0][:64].astype(np.float32) / 127.5 - 1.0  # 4 steps of 16 per epoch; episodes of 3 steps
    uninterrupted = tiny()
    uninterrupted.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    first = tiny()
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path)), Interrupt()])
    assert (int(first.episode.numpy()), int(first.stage.numpy())) == (2, 2), "stopped in the middle of an episode"
    resumed = tiny()  # as after a restart: a new process builds the model again
    history = resumed.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path))])
    assert len(history.history["d_loss"]) == 1, "only the third epoch ran"
    assert int(resumed.episode.numpy()) == int(uninterrupted.episode.numpy()) == 4
    for a, b in zip(uninterrupted.weights + uninterrupted.approximator_optimizer.variables,
                    resumed.weights + resumed.approximator_optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6, err_msg=a.path)
    np.testing.assert_allclose(resumed.sample(4, seed=1), uninterrupted.sample(4, seed=1), atol=1e-5)


def test_a_run_whose_discriminator_gap_explodes_stops_and_keeps_the_last_generator(mnist_bundled, capsys):
    model = tiny(max_d_gap=1e-6)
    x = mnist_bundled[0][:320].astype(np.float32) / 127.5 - 1.0
    model.fit(x[:32], batch_size=32, epochs=1, verbose=0)  # the initial projection fit only (stage 1 of 3)
    before = model.sample(4, seed=0)
    history = model.fit(x, batch_size=32, epochs=1, verbose=0)
    assert len(history.history["d_loss"]) == 1 and bool(model.diverged.numpy())
    assert "exceeded max_d_gap=1e-06" in capsys.readouterr().err
    assert int(model.d_optimizer.iterations.numpy()) == 3, "stopped at the end of the first episode"
    np.testing.assert_array_equal(model.sample(4, seed=0), before)  # the kept generator is untouched
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, batch_size=32, epochs=1, verbose=0)
    model.compile(eta=0.5, max_d_gap=None)
    model.fit(x[:96], batch_size=32, epochs=1, verbose=0)
    assert int(model.episode.numpy()) == 1


def test_bad_arguments_are_refused_before_training():
    with pytest.raises(ValueError, match="eta must be a number > 0"):
        tiny(eta=0.0)
    with pytest.raises(ValueError, match="stages"):
        tiny(stages=0)
    with pytest.raises(ValueError, match="approximator must be one of"):
        tiny(approximator="resnet")
    with pytest.raises(ValueError, match="pool_size"):
        tiny(pool_size=0)
    model = tiny(pool_size=16)
    with pytest.raises(ValueError, match=r"pool_size \(16\) must be at least the approximator's batch \(32\)"):
        model.fit(-np.ones((64, 28, 28, 1), np.float32), batch_size=32, epochs=1, verbose=0)
    approximator = linear_approximator(shape=(3, 3, 1))
    with pytest.raises(ValueError, match=r"makes images of shape \(3, 3, 1\); the discriminator takes \(2, 2, 1\)"):
        XICFG(approximator, mlp_discriminator(random_weights(0)), latent_dim=2)
    with pytest.raises(ValueError, match=r"images must lie in \[-1, 1\]"):
        tiny().fit(np.full((32, 28, 28, 1), 2.0, np.float32), batch_size=32, verbose=0)
