import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import datasets, utils
from keras_gen.callbacks import ModeCollapseMonitor, SampleGrid, StopOnNonFinite, mean_pairwise_distance
from keras_gen.gan import (
    GAN,
    PRESETS,
    ConditionalGAN,
    build_conditional_gan,
    build_dcgan,
    build_gan,
    build_wgan_gp,
    preset_settings,
    settings_arguments,
)
from keras_gen.latent import interpolate, vector_arithmetic
from keras_gen.layers import MinibatchStddev, SpectralConv2D
from keras_gen.losses import (
    GAN_LOSSES,
    auxiliary_class_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)
from keras_gen.plotting import tile_images

ROOT = Path(__file__).resolve().parents[1]


def tiny_gan(**kwargs):
    """An MLP GAN on 8x8 images: fast enough to train in a test."""
    return build_gan(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0, **kwargs)


def images_in_range(n, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, *shape)).astype(np.float32)


def numpy_value(x):
    return float(keras.ops.convert_to_numpy(x))


# ---------------------------------------------------------------------------- losses

REAL = np.array([-2.0, -0.5, 0.3, 3.0], np.float32)
FAKE = np.array([-1.5, 0.2, 1.0, 4.0], np.float32)
SIG_R, SIG_F = 1 / (1 + np.exp(-REAL.astype(np.float64))), 1 / (1 + np.exp(-FAKE.astype(np.float64)))
LOG_D_LOSS = np.mean(-np.log(SIG_R)) + np.mean(-np.log(1 - SIG_F))
CLOSED_FORMS = {  # (discriminator loss, generator loss) written from the papers' definitions
    "minimax": (LOG_D_LOSS, np.mean(np.log(1 - SIG_F))),
    "non_saturating": (LOG_D_LOSS, np.mean(-np.log(SIG_F))),
    "least_squares": (0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE**2), 0.5 * np.mean((FAKE - 1) ** 2)),
    "hinge": (np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)), -np.mean(FAKE)),
    "wasserstein": (np.mean(FAKE) - np.mean(REAL), -np.mean(FAKE)),
}


@pytest.mark.parametrize("loss", GAN_LOSSES)
def test_losses_match_closed_forms(loss):
    d_expected, g_expected = CLOSED_FORMS[loss]
    np.testing.assert_allclose(numpy_value(discriminator_loss(REAL, FAKE, loss)), d_expected, rtol=1e-5)
    np.testing.assert_allclose(numpy_value(generator_loss(FAKE, loss)), g_expected, rtol=1e-5)
    # Mixed precision: float16 logits give a float32 loss.
    assert discriminator_loss(REAL.astype(np.float16), FAKE.astype(np.float16), loss).dtype == "float32"


def test_label_smoothing_and_stability_of_log_losses():
    smoothed = np.mean(-(0.9 * np.log(SIG_R) + 0.1 * np.log(1 - SIG_R))) + np.mean(-np.log(1 - SIG_F))
    np.testing.assert_allclose(numpy_value(discriminator_loss(REAL, FAKE, "minimax", 0.1)), smoothed, rtol=1e-5)
    # Confident logits: log(sigmoid(-200)) underflows to -inf in a naive formula.
    assert numpy_value(generator_loss(np.array([-200.0]), "non_saturating")) == pytest.approx(200.0)
    assert numpy_value(generator_loss(np.array([200.0]), "minimax")) == pytest.approx(-200.0)
    assert numpy_value(discriminator_loss(np.array([-200.0]), np.array([200.0]))) == pytest.approx(400.0)


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = <w, x>: the gradient is w everywhere, so the penalty is (||w|| - 1)^2.
    w = np.full((2, 2, 1), 1.5, np.float32)  # ||w|| = 3
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])  # noqa: E731
    real, fake = images_in_range(5, (2, 2, 1), seed=1), images_in_range(5, (2, 2, 1), seed=2)
    assert numpy_value(gradient_penalty(critic, real, fake, seed=0)) == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_of_a_quadratic_critic_with_fixed_epsilon():
    # critic(x) = 0.5 ||x||^2: the gradient at x_hat is x_hat itself.
    critic = lambda x: 0.5 * tf.reduce_sum(x**2, axis=[1, 2, 3])  # noqa: E731
    real = np.stack([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 0.5)]).astype(np.float32)
    fake = np.zeros_like(real)
    epsilon = np.array([0.25, 0.75], np.float32).reshape(2, 1, 1, 1)
    x_hat = epsilon * real + (1 - epsilon) * fake  # real weighted by epsilon, fake by 1 - epsilon
    expected = np.mean((np.linalg.norm(x_hat.reshape(2, -1), axis=1) - 1) ** 2)  # norms 0.5 and 0.75
    assert numpy_value(gradient_penalty(critic, real, fake, epsilon)) == pytest.approx(expected, rel=1e-5)
    swapped = np.mean((np.linalg.norm(((1 - epsilon) * real).reshape(2, -1), axis=1) - 1) ** 2)
    assert abs(expected - swapped) > 0.1  # so the test tells the two weightings apart


def test_gradient_penalty_draws_one_epsilon_per_example():
    seen = []
    critic = lambda x: seen.append(x) or tf.reduce_sum(x, axis=[1, 2, 3])  # noqa: E731
    real, fake = np.ones((64, 3, 3, 2), np.float32), np.zeros((64, 3, 3, 2), np.float32)
    gradient_penalty(critic, real, fake, seed=3)
    weights = seen[0].numpy().reshape(64, -1)  # x_hat = epsilon * 1 + (1 - epsilon) * 0
    assert np.ptp(weights, axis=1).max() == 0.0, "one epsilon per example, shared by its pixels"
    assert 0.0 <= weights.min() and weights.max() <= 1.0 and weights[:, 0].std() > 0.2, "U(0, 1) across examples"


def test_r1_penalty_of_linear_and_quadratic_critics_by_hand():
    # critic(x) = <w, x>: the gradient is w, so the penalty is ||w||^2 = 9 at any x.
    w = np.full((2, 2, 1), 1.5, np.float32)
    linear = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])  # noqa: E731
    real = images_in_range(5, (2, 2, 1), seed=1)
    penalty, scores = r1_penalty(linear, real)
    assert numpy_value(penalty) == pytest.approx(9.0, rel=1e-5)
    np.testing.assert_allclose(scores, (real * w).sum(axis=(1, 2, 3)), rtol=1e-6)  # the forward pass, reused
    # critic(x) = 0.5 ||x||^2: the gradient is x, so the penalty is mean ||x||^2.
    quadratic = lambda x: 0.5 * tf.reduce_sum(x**2, axis=[1, 2, 3])  # noqa: E731
    expected = np.mean((real.reshape(5, -1) ** 2).sum(axis=1))
    assert numpy_value(r1_penalty(quadratic, real)[0]) == pytest.approx(expected, rel=1e-5)


def test_r1_weight_adds_half_gamma_times_the_penalty_to_the_discriminator_loss():
    x = images_in_range(16)
    gans = {gamma: tiny_gan(loss="hinge", r1_weight=gamma) for gamma in (0.0, 4.0)}
    critic = lambda images: gans[0.0].discriminator(images, training=True)  # noqa: E731
    penalty = numpy_value(r1_penalty(critic, x)[0])  # at the initial weights, which both GANs share
    logs = {gamma: gan.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0).history
            for gamma, gan in gans.items()}
    assert logs[4.0]["d_real"] == pytest.approx(logs[0.0]["d_real"], rel=1e-6)  # the same real scores, one pass
    assert logs[4.0]["d_loss"][0] - logs[0.0]["d_loss"][0] == pytest.approx(0.5 * 4.0 * penalty, rel=1e-4)
    assert penalty > 1e-3


def test_auxiliary_class_loss_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], np.float32)
    labels = np.array([0, 1])
    expected = np.mean([np.log(np.exp(row).sum()) - row[k] for row, k in zip(logits.astype(np.float64), labels)])
    assert numpy_value(auxiliary_class_loss(labels, logits)) == pytest.approx(expected, rel=1e-6)
    assert auxiliary_class_loss(labels, logits.astype(np.float16)).dtype == "float32"


def tiny_acgan(class_weight):
    return build_conditional_gan(num_classes=3, latent_dim=4, filters=4, embedding_dim=2, seed=0,
                                 auxiliary_classifier=True, class_weight=class_weight)


def test_class_weight_adds_the_class_heads_cross_entropy_to_both_losses():
    # AC-GAN: D's loss adds class_weight * CE(class head on the real images, their labels),
    # G's adds class_weight * CE(class head on its images, the labels asked for).
    real, labels = tf.constant(images_in_range(6, (28, 28, 1))), tf.constant([0, 1, 2, 0, 1, 2])
    d_steps = {w: tiny_acgan(w)._discriminator_step(real, labels, 6)[0] for w in (0.0, 2.5)}
    reference = tiny_acgan(0.0)  # the same initial weights, untouched
    real_ce = auxiliary_class_loss(labels, reference.discriminator([real, labels], training=True)[1])
    assert numpy_value(d_steps[2.5] - d_steps[0.0]) == pytest.approx(2.5 * numpy_value(real_ce), rel=1e-4)

    g_steps = {w: tiny_acgan(w)._generator_step(labels, 6) for w in (0.0, 2.5)}
    z = keras.random.normal((6, 4), seed=keras.random.SeedGenerator(0))  # the model's first draw: seed 0
    fake = reference.generator([z, labels], training=True)
    fake_ce = auxiliary_class_loss(labels, reference.discriminator([fake, labels], training=True)[1])
    assert numpy_value(g_steps[2.5] - g_steps[0.0]) == pytest.approx(2.5 * numpy_value(fake_ce), rel=1e-4)
    assert numpy_value(real_ce) > 0.5 and numpy_value(fake_ce) > 0.5  # log(3) = 1.1 for an untrained head


def test_auxiliary_classifier_learns_the_classes_and_survives_save_and_load(tmp_path):
    # The two halves' brightness decides the class; the class head learns it from real images.
    keras.utils.set_random_seed(0)
    labels = np.arange(192) % 2
    left = np.concatenate([np.full((28, 14, 1), 0.6), np.full((28, 14, 1), -0.6)], axis=1)
    images = (np.where(labels[:, None, None, None] == 0, left, -left)
              + np.random.default_rng(0).uniform(-0.2, 0.2, (192, 28, 28, 1))).astype(np.float32)
    gan = build_conditional_gan(num_classes=2, latent_dim=4, filters=4, embedding_dim=2, seed=0,
                                auxiliary_classifier=True, class_weight=0.5)
    head = lambda model: model.discriminator([images, labels], training=False)[1].numpy()  # noqa: E731
    gan.fit(images, labels, batch_size=32, epochs=4, verbose=0)
    assert (head(gan).argmax(axis=1) == labels).mean() > 0.95
    gan.save(tmp_path / "acgan.keras")
    loaded = keras.models.load_model(tmp_path / "acgan.keras")
    assert loaded.auxiliary_classifier and loaded.class_weight == 0.5
    np.testing.assert_array_equal(head(loaded), head(gan))
    np.testing.assert_array_equal(loaded.generate(labels[:4], seed=1), gan.generate(labels[:4], seed=1))


# ------------------------------------------------------------------------- training


def test_generator_learns_from_fresh_z_scored_by_the_updated_discriminator():
    # z's draws in a step: the first for D's fakes, the second for G's update; G's loss is
    # the updated D's verdict on the initial G's images of the second draw.
    real = images_in_range(16, (28, 28, 1))
    gan, reference = (build_dcgan(latent_dim=4, filters=4, seed=0) for _ in range(2))
    logs = gan.fit(real, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    draws = keras.random.SeedGenerator(0)
    first, second = (keras.random.normal((16, 4), seed=draws) for _ in range(2))
    losses = [numpy_value(generator_loss(gan.discriminator(reference.generator(z, training=True), training=True),
                                         "non_saturating")) for z in (first, second)]
    assert logs["g_loss"][0] == pytest.approx(losses[1], rel=1e-5)
    assert abs(losses[0] - losses[1]) > 1e-4  # not D's fakes of the first draw


def test_d_steps_discriminator_updates_per_generator_update():
    gan = tiny_gan(d_steps=3, loss="hinge")
    gan.fit(images_in_range(80), batch_size=16, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations) == 5
    assert int(gan.d_optimizer.iterations) == 15


def test_ema_generator_is_a_moving_average_with_a_warm_up():
    gan = tiny_gan(ema=0.9)
    before = [w.numpy() for w in gan.generator.weights]
    np.testing.assert_array_equal(gan.ema_generator.weights[0].numpy(), before[0])
    gan.fit(images_in_range(16), batch_size=16, epochs=1, verbose=0)
    decay = min(0.9, 2 / 11)  # generator step t = 1: min(ema, (1 + t) / (10 + t))
    for ema, w0, w1 in zip(gan.ema_generator.weights, before, gan.generator.weights):
        np.testing.assert_allclose(ema.numpy(), decay * w0 + (1 - decay) * w1.numpy(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(before[0], gan.generator.weights[0].numpy())
    # Late in training the decay is the one asked for: at t = 1000, (1 + t) / (10 + t) > 0.9.
    gan.g_optimizer.iterations.assign(999)
    before = [w.numpy() for w in gan.ema_generator.weights]
    gan.fit(images_in_range(16), batch_size=16, epochs=1, verbose=0)
    for ema, w0, w1 in zip(gan.ema_generator.weights, before, gan.generator.weights):
        np.testing.assert_allclose(ema.numpy(), 0.9 * w0 + 0.1 * w1.numpy(), rtol=1e-5, atol=1e-7)
    z = gan.latent_vectors(4, seed=1)
    expected = (keras.ops.convert_to_numpy(gan.ema_generator(z)) + 1) / 2
    np.testing.assert_allclose(gan.generate(z=z), expected, rtol=1e-6)  # generate uses the EMA copy, in [0, 1]


MIRRORED = textwrap.dedent("""
    import json, sys
    import keras, numpy as np, tensorflow as tf
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    from keras_gen.gan import build_conditional_gan, build_gan

    sgd = lambda: keras.optimizers.SGD(0.1)  # SGD, unlike Adam, sees the gradient's scale
    makers = {
        # the critic's gradient penalty, two critic steps
        "wgan_gp": lambda: build_gan(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0,
                                     loss="wasserstein", d_steps=2, d_optimizer=sgd(), g_optimizer=sgd()),
        # spectral normalization (its power-iteration state), R1, a projection discriminator
        "spectral_r1_projection": lambda: build_conditional_gan(
            num_classes=3, latent_dim=4, filters=4, embedding_dim=2, seed=0, conditioning="projection",
            spectral_norm=True, r1_weight=1.0, loss="hinge", auxiliary_classifier=False, d_optimizer=sgd(),
            g_optimizer=sgd()),
        # AC-GAN's class head: its cross-entropy in both losses
        "acgan": lambda: build_conditional_gan(num_classes=3, latent_dim=4, filters=4, embedding_dim=2, seed=0,
                                               auxiliary_classifier=True, d_optimizer=sgd(), g_optimizer=sgd()),
    }
    rng = np.random.default_rng(0)
    data = {"wgan_gp": (rng.uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32), None),
            "spectral_r1_projection": (rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32), np.arange(8) % 3)}
    data["acgan"] = data["spectral_r1_projection"]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync}
    for kind, make in makers.items():
        with strategy.scope():
            distributed = make()
        single = make()
        initial = [w.numpy() for w in single.weights]
        out[kind] = {"same_init": all(np.array_equal(a.numpy(), b) for a, b in zip(distributed.weights, initial)),
                     "initial": [w.tolist() for w in initial]}
        x, y = data[kind]
        for name, gan in [("distributed", distributed), ("single", single)]:
            gan.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
            out[kind][name] = [w.numpy().tolist() for w in gan.weights]
    print("RESULT" + json.dumps(out))
""")


def test_mirrored_strategy_step_equals_single_device_step():
    run = subprocess.run([sys.executable, "-c", MIRRORED, str(ROOT)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.split("RESULT")[-1])
    assert out["replicas"] == 2
    for kind in ("wgan_gp", "spectral_r1_projection", "acgan"):
        assert out[kind]["same_init"], kind
        moved = 0.0
        for distributed, single, initial in zip(out[kind]["distributed"], out[kind]["single"], out[kind]["initial"]):
            np.testing.assert_allclose(distributed, single, rtol=1e-4, atol=1e-6, err_msg=kind)
            moved = max(moved, np.abs(np.array(single) - np.array(initial)).max())
        assert moved > 1e-4, f"{kind}: the step changed the weights"


def test_short_dcgan_run_on_fashion_mnist():
    keras.utils.set_random_seed(0)
    train = datasets.load("fashion_mnist", value_range=(-1, 1), limit=2048, batch_size=64)
    gan = build_dcgan(filters=32, seed=0)
    z = gan.latent_vectors(64, seed=1)

    def mean_d_of_fake():
        return float(tf.reduce_mean(tf.sigmoid(gan.discriminator(gan.generator(z, training=False)))))

    d_fake_before, brightness_before = mean_d_of_fake(), gan.generate(z=z).mean()
    history = gan.fit(train, epochs=3, verbose=0)
    samples = gan.generate(z=z)
    d_fake_after = mean_d_of_fake()
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert abs(d_fake_after - d_fake_before) > 0.1, (d_fake_before, d_fake_after)
    assert samples.shape == (64, 28, 28, 1) and 0.0 <= samples.min() and samples.max() <= 1.0
    # Fashion-MNIST is mostly black background (mean 0.29); the untrained generator is gray.
    assert brightness_before > 0.45 and samples.mean() < brightness_before - 0.08, (brightness_before, samples.mean())
    flat = samples.reshape(64, -1)
    assert flat.std(axis=1).min() > 0.05, "every sample has structure"
    distances = np.sqrt(((flat[:, None] - flat[None]) ** 2).mean(-1))[np.triu_indices(64, 1)]
    assert distances.mean() > 0.1 and distances.min() > 0.01, "samples differ from one another"


@pytest.mark.parametrize("conditioning", ["channel", "projection"])
def test_conditional_gan_follows_its_labels(tmp_path, conditioning):
    # Three classes no generator can mix up once it reads its label: bright left half,
    # bright right half, bright top half.
    keras.utils.set_random_seed(0)
    left = np.concatenate([np.full((28, 14, 1), 0.5), np.full((28, 14, 1), -0.5)], axis=1)
    prototypes = np.stack([left, -left, np.transpose(left, (1, 0, 2))])
    labels = np.arange(600) % 3
    noise = np.random.default_rng(0).uniform(-0.2, 0.2, (600, 28, 28, 1))
    images = (prototypes[labels] + noise).astype(np.float32)
    adam = lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)  # noqa: E731  (faster than 2e-4 for a short test)
    gan = build_conditional_gan(num_classes=3, latent_dim=16, filters=16, embedding_dim=8, seed=0,
                                conditioning=conditioning, d_optimizer=adam(), g_optimizer=adam())
    wanted = np.repeat(np.arange(3), 20)

    def accuracy():  # nearest prototype, in [0, 1] units
        samples = gan.generate(wanted, seed=2).reshape(60, 1, -1)
        distances = ((samples - (prototypes.reshape(1, 3, -1) + 1) / 2) ** 2).mean(-1)
        return (distances.argmin(axis=1) == wanted).mean()

    before = accuracy()
    gan.fit(images, labels, batch_size=50, epochs=12, verbose=0)
    after = accuracy()
    assert before < 0.6 and after >= 0.95, f"{before:.2f} -> {after:.2f} of the samples look like their class"
    assert gan.sample(6).shape == (6, 28, 28, 1)
    gan.save(tmp_path / "cgan.keras")
    loaded = keras.models.load_model(tmp_path / "cgan.keras")
    assert type(loaded) is ConditionalGAN and loaded.num_classes == 3
    for restored, original in zip(keras.tree.flatten(loaded.discriminator([images[:4], labels[:4]])),
                                  keras.tree.flatten(gan.discriminator([images[:4], labels[:4]]))):  # logit, classes
        np.testing.assert_array_equal(restored, original)
    np.testing.assert_array_equal(loaded.generate(wanted, seed=2), gan.generate(wanted, seed=2))


def test_save_and_load_restore_the_model_and_its_training_state(tmp_path):
    x = images_in_range(64, (28, 28, 1))
    gan = build_dcgan(latent_dim=8, filters=4, seed=0, loss="least_squares", d_steps=2, ema=0.9, extra_layers=1,
                      minibatch_stddev=True)
    gan.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")

    assert type(loaded) is GAN and (loaded.gan_loss, loaded.d_steps, loaded.ema) == ("least_squares", 2, 0.9)
    z = gan.latent_vectors(8, seed=5)
    np.testing.assert_array_equal(loaded.generate(z=z), gan.generate(z=z))
    np.testing.assert_array_equal(loaded.generator(z), gan.generator(z))
    np.testing.assert_array_equal(loaded.discriminator(x[:8]), gan.discriminator(x[:8]))
    for original, restored in [(gan.d_optimizer, loaded.d_optimizer), (gan.g_optimizer, loaded.g_optimizer)]:
        assert int(restored.iterations) == int(original.iterations) > 0
        assert float(restored.beta_1) == 0.5 and len(restored.variables) == len(original.variables)
        for a, b in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Training continues exactly where it stopped: optimizer state and noise stream restored.
    gan.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert (int(loaded.d_optimizer.iterations), int(loaded.g_optimizer.iterations)) == (16, 8)
    for a, b in zip(gan.weights + gan.ema_generator.weights, loaded.weights + loaded.ema_generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_wgan_gp_trains_with_its_defaults():
    gan = build_wgan_gp(latent_dim=8, filters=4, seed=0)
    steps = PRESETS["wgan_gp"]["default"]["d_steps"]
    history = gan.fit(images_in_range(32, (28, 28, 1)), batch_size=16, epochs=1, verbose=0)
    assert (gan.gan_loss, int(gan.d_optimizer.iterations), int(gan.g_optimizer.iterations)) == ("wasserstein",
                                                                                              2 * steps, 2)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in gan.discriminator.layers)
    # The fresh critic's input gradients are tiny (N(0, 0.02) weights), so its penalty
    # (||grad|| - 1)^2 is close to 1: d_loss = E[D(fake)] - E[D(real)] + 10 * penalty ~ 10.
    d_loss, d_real, d_fake = (history.history[k][0] for k in ("d_loss", "d_real", "d_fake"))
    assert abs(d_real) < 0.1 and abs(d_fake) < 0.1, "raw critic scores, not probabilities"
    assert 8.0 < d_loss - (d_fake - d_real) < 10.1, d_loss


def _adam(optimizer):
    return (float(optimizer.learning_rate), float(optimizer.beta_1), float(optimizer.beta_2))


def test_presets_set_the_builders_defaults_and_explicit_arguments_override_them():
    # The classic settings, one argument away.
    radford = build_dcgan(latent_dim=8, preset="radford", seed=0)
    assert radford.discriminator.get_layer("discriminator_conv_0").filters == 64
    assert (radford.gan_loss, radford.ema, radford.r1_weight) == ("non_saturating", None, 0.0)
    assert _adam(radford.d_optimizer) == _adam(radford.g_optimizer) == pytest.approx((2e-4, 0.5, 0.999))
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in radford.discriminator.layers)
    assert radford.generator.get_layer("generator_deconv_0").dtype_policy.name == "float32"
    paper = build_wgan_gp(latent_dim=8, preset="gulrajani", seed=0)
    assert (paper.d_steps, paper.gp_weight, paper.discriminator.get_layer("discriminator_conv_0").filters) == (
        5, 10.0, 64)
    assert _adam(paper.d_optimizer) == pytest.approx((1e-4, 0.0, 0.9))
    # Each builder's default is its "default" preset, every setting of it.
    for family, build in [("gan", build_gan), ("dcgan", build_dcgan), ("conditional_gan", build_conditional_gan),
                          ("wgan_gp", build_wgan_gp)]:
        settings, gan = PRESETS[family]["default"], build(latent_dim=8, seed=0)
        assert (gan.gan_loss, gan.d_steps, gan.ema) == (settings["loss"], settings["d_steps"], settings["ema"]), family
        assert _adam(gan.d_optimizer) == pytest.approx(
            (settings["d_learning_rate"], settings["beta_1"], settings["beta_2"])), family
        assert _adam(gan.g_optimizer) == pytest.approx(
            (settings["g_learning_rate"], settings["beta_1"], settings["beta_2"])), family
        if "filters" in settings:
            assert gan.discriminator.get_layer("discriminator_conv_0").filters == settings["filters"], family
        if settings.get("spectral_norm") is not None:
            spectral = isinstance(gan.discriminator.get_layer("discriminator_conv_0"), SpectralConv2D)
            assert spectral == settings["spectral_norm"], family
        if "extra_layers" in settings:
            extra = [layer for layer in gan.generator.layers + gan.discriminator.layers if "extra_conv" in layer.name]
            assert len(extra) == 2 * settings["extra_layers"], family
            has_stddev = any(isinstance(layer, MinibatchStddev) for layer in gan.discriminator.layers)
            assert has_stddev == settings["minibatch_stddev"], family
            policy = gan.generator.get_layer("generator_deconv_0").dtype_policy.name
            assert policy == utils.resolve_precision(settings["precision"]), family
        if "auxiliary_classifier" in settings:
            assert (gan.auxiliary_classifier, gan.class_weight) == (settings["auxiliary_classifier"],
                                                                    settings["class_weight"]), family
    # Explicit arguments win over the preset, the rest stays the preset's.
    mixed = build_dcgan(latent_dim=8, filters=8, preset="radford", ema=0.99, loss="hinge", seed=0)
    assert (mixed.discriminator.get_layer("discriminator_conv_0").filters, mixed.ema, mixed.gan_loss) == (
        8, 0.99, "hinge")
    assert _adam(mixed.d_optimizer) == pytest.approx((2e-4, 0.5, 0.999))
    with pytest.raises(ValueError, match=r"preset must be one of \['default', 'radford'\] for dcgan, got 'dcgan'"):
        build_dcgan(preset="dcgan")


def test_linear_lr_decay_reaches_half_the_rate_halfway_for_both_networks():
    # With 3 critic updates per step (WGAN-GP's settings before the study) D's schedule must count them.
    settings = {**preset_settings("wgan_gp"), "d_steps": 3, "lr_decay": "linear"}
    _, compiled = settings_arguments(settings, decay_steps=8)
    gan = build_gan(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0, loss="wasserstein",
                    d_steps=settings["d_steps"], gp_weight=10.0, d_optimizer=compiled["d_optimizer"],
                    g_optimizer=compiled["g_optimizer"])
    gan.fit(images_in_range(64), batch_size=16, epochs=1, verbose=0)  # 4 of the 8 steps
    assert int(gan.g_optimizer.iterations) == 4 and int(gan.d_optimizer.iterations) == 12
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(settings["g_learning_rate"] / 2)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(settings["d_learning_rate"] / 2)
    with pytest.raises(ValueError, match="lr_decay 'linear' needs decay_steps, a positive int.*got None"):
        settings_arguments(settings)
    with pytest.raises(ValueError, match="lr_decay must be None or 'linear', got 'cosine'"):
        settings_arguments({**settings, "lr_decay": "cosine"}, decay_steps=8)


def test_settings_reach_the_compiled_model():
    # A study candidate or a recipe's changed preset is a settings dict; every setting must arrive.
    settings = {**preset_settings("dcgan"), "filters": 8, "label_smoothing": 0.1, "ema": 0.99}
    network, compiled = settings_arguments(settings)
    gan = build_dcgan(latent_dim=4, seed=0, **network, **compiled)
    assert (gan.label_smoothing, gan.ema, gan.gan_loss) == (0.1, 0.99, "non_saturating")
    assert gan.discriminator.get_layer("discriminator_conv_0").filters == 8
    assert _adam(gan.d_optimizer) == pytest.approx((1.2e-3, 0.5, 0.999))


def test_mixed_precision_training_step():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = tiny_gan(loss="non_saturating")
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        logs = gan.fit(images_in_range(32), batch_size=16, epochs=1, verbose=0).history
        assert all(np.isfinite(v[0]) for v in logs.values()) and 0 < logs["d_real"][0] < 1
        assert gan.sample(2).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ---------------------------------------------------------------------- bad inputs


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1, got 0"):
        build_gan(latent_dim=0)
    with pytest.raises(ValueError, match=r"loss must be one of \('minimax'.*got 'relativistic'"):
        tiny_gan(loss="relativistic")
    with pytest.raises(ValueError, match="d_steps must be an integer >= 1, got 0"):
        tiny_gan(d_steps=0)
    with pytest.raises(ValueError, match=r"size \[28, 32, 64\], got input_shape \(30, 30, 1\)"):
        build_dcgan(input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        build_conditional_gan(num_classes=1)
    with pytest.raises(ValueError, match="label_smoothing applies to the log losses"):
        tiny_gan(loss="hinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match="ema must be None or a decay in"):
        tiny_gan(ema=1.0)
    with pytest.raises(ValueError, match="r1_weight must be a number >= 0, got -1.0"):
        tiny_gan(r1_weight=-1.0)
    with pytest.raises(TypeError, match="spectral_norm must be True or False, got 'yes'"):
        build_dcgan(spectral_norm="yes")
    with pytest.raises(TypeError, match="minibatch_stddev must be True or False, got 'yes'"):
        build_dcgan(minibatch_stddev="yes")
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError, match=f"extra_layers must be an int >= 0, got {bad!r}"):
            build_dcgan(extra_layers=bad)
    with pytest.raises(ValueError, match=r"conditioning must be one of \('channel', 'projection'\), got 'concat'"):
        build_conditional_gan(conditioning="concat")
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        tiny_gan(d_optimizer=adam, g_optimizer=adam)
    with pytest.raises(TypeError, match="auxiliary_classifier must be True or False, got 1"):
        build_conditional_gan(filters=4, auxiliary_classifier=1)
    with pytest.raises(ValueError, match="class_weight must be a number >= 0, got -1"):
        tiny_acgan(-1)
    with pytest.raises(ValueError, match="r1_weight must be 0 with a discriminator with a class head"):
        build_conditional_gan(filters=4, auxiliary_classifier=True, r1_weight=1.0)
    acgan = tiny_acgan(1.0)
    with pytest.raises(ValueError, match=r"class head must output shape \(5,\) for num_classes 5, got \(3,\)"):
        ConditionalGAN(acgan.generator, acgan.discriminator, latent_dim=4, num_classes=5)
    two_outputs = keras.Model(acgan.discriminator.inputs[0], acgan.discriminator([acgan.discriminator.inputs[0],
                                                                                   tf.zeros([1], "int32")]))
    with pytest.raises(ValueError, match=r"must output one logit per image, shape \(1,\), got outputs"):
        GAN(build_dcgan(latent_dim=4, filters=4).generator, two_outputs, latent_dim=4)


def test_fit_checks_the_first_batch():
    gan = tiny_gan()
    x = images_in_range(16)
    with pytest.raises(ValueError, match=r"images must lie in \[-1, 1\], got values in \[0, 255\]; "
                                         r"load them with value_range=\(-1, 1\)"):
        gan.fit(np.round((x + 1) * 127.5), verbose=0)
    with pytest.raises(ValueError, match=r"shape \(9, 9, 1\) per example; this GAN expects \(8, 8, 1\)"):
        gan.fit(images_in_range(4, (9, 9, 1)), verbose=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        gan.fit(tf.data.Dataset.from_tensor_slices(np.where(x > 0.9, np.nan, x)).batch(8), verbose=0)
    with pytest.warns(UserWarning, match=r"lies in \[0, 1\] but value_range is \(-1.0, 1.0\)"):
        gan.fit((x + 1) / 2, verbose=0, epochs=1)
    with pytest.raises(ValueError, match="no validation loss"):
        gan.fit(x, validation_data=x, verbose=0)
    assert int(gan.g_optimizer.iterations) == 1, "only the warned fit trained"


def test_conditional_fit_checks_labels():
    gan = build_conditional_gan(num_classes=3, latent_dim=4, filters=4, seed=0)
    assert isinstance(gan, ConditionalGAN)
    x = images_in_range(8, (28, 28, 1))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\], got 5"):
        gan.fit(x, np.array([0, 1, 2, 5, 0, 1, 2, 0]), verbose=0)
    with pytest.raises(ValueError, match="labels are missing"):
        gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), verbose=0)
    with pytest.raises(ValueError, match="got 3 labels for 8 images"):
        gan.fit(x, np.array([0, 1, 2]), verbose=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\], got -1"):
        gan.generate([0, -1])


# ---------------------------------------------------------------------- latent tools


def test_vector_arithmetic_and_generation_along_a_path():
    groups = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 1.0]]), np.array([0.5, -1.0])]
    np.testing.assert_allclose(vector_arithmetic(*groups), [2.0 - 1.0 + 0.5, 3.0 - 1.0 - 1.0])
    with pytest.raises(ValueError, match="must share latent_dim, got sizes \\[2, 2, 3\\]"):
        vector_arithmetic(groups[0], groups[1], np.zeros(3))
    gan = tiny_gan()
    a, b = gan.latent_vectors(2, seed=0)
    frames = gan.generate(z=interpolate(a, b, steps=5, method="spherical"))
    assert frames.shape == (5, 8, 8, 1) and 0.0 <= frames.min() and frames.max() <= 1.0
    np.testing.assert_allclose(frames[0], gan.generate(z=a[None])[0], atol=1e-6)


# ------------------------------------------------------- callbacks, resume, class interpolation


def test_sample_grid_draws_fixed_noise_to_png_and_tensorboard(tmp_path):
    gan = tiny_gan()
    grid = SampleGrid(tmp_path / "png", every=2, num=6, ncols=3, seed=4, log_dir=str(tmp_path / "tb"))
    drawn = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: drawn.append(gan.sample(6, seed=4)))
    gan.fit(images_in_range(32), batch_size=16, epochs=3, verbose=0, callbacks=[grid, record])
    # Every 2nd epoch and the last one.
    assert [p.name for p in grid.paths] == ["samples_epoch_002.png", "samples_epoch_003.png"]
    assert all(p.stat().st_size > 1000 for p in grid.paths)
    assert not np.array_equal(drawn[1], drawn[2]), "training changed the samples of the fixed noise"
    events = [event for path in (tmp_path / "tb" / "samples").glob("events.out.tfevents.*")
              for event in tf.compat.v1.train.summary_iterator(str(path))]
    images = {event.step: value for event in events for value in event.summary.value if value.tag == "samples"}
    assert sorted(images) == [2, 3]
    width, height, png = tf.make_ndarray(images[3].tensor)  # tf.summary.image's encoding
    assert (int(width), int(height)) == (24, 16), "6 images of 8x8 in 3 columns"
    decoded = tf.io.decode_png(png).numpy()
    np.testing.assert_allclose(decoded[:, :, 0] / 255.0, tile_images(drawn[2], ncols=3)[:, :, 0], atol=1 / 255)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        SampleGrid(tmp_path, every=0)


def test_non_finite_losses_stop_training_and_name_the_step(tmp_path, capsys):
    x = images_in_range(64)
    x[40] = np.nan  # in the third batch of 16; fit checks only the first batch of a dataset
    gan = tiny_gan()
    stop = StopOnNonFinite()
    history = gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=3, verbose=0, callbacks=[stop])
    assert "d_loss = nan" in stop.message and "epoch 1, batch 3 (step 3" in stop.message
    assert stop.message in capsys.readouterr().err
    assert int(gan.g_optimizer.iterations) == 3 and len(history.history["d_loss"]) == 1, "stopped at once"


def test_mode_collapse_monitor_warns_on_identical_samples(fashion_small):
    real = fashion_small[0]
    flat = real[:3].reshape(3, -1)
    by_hand = np.mean([np.linalg.norm(flat[i] - flat[j]) for i in range(3) for j in range(3) if i != j])
    assert mean_pairwise_distance(real[:3]) == pytest.approx(by_hand, rel=1e-6)

    # Adam 2e-4 (the classic preset): two steps at the default's 8e-4 move the zeroed kernel
    # to a diversity of 0.01; this test is about the monitor, not the learning rate.
    gan = build_gan(latent_dim=4, hidden_units=(16,), seed=0, preset="goodfellow")
    pixels = gan.generator.get_layer("generator_pixels")
    pixels.kernel.assign(np.zeros(pixels.kernel.shape, np.float32))  # every z gives the same image
    monitor = ModeCollapseMonitor(real, num=64, stop=True)
    images = np.clip(real[:64] * 2 - 1, -1, 1)
    with pytest.warns(UserWarning, match=r"possible mode collapse at epoch 1: .* 0.00 times that of real images"):
        history = gan.fit(images, batch_size=32, epochs=3, verbose=0, callbacks=[monitor])
    assert len(history.history["diversity"]) == 1 and monitor.history[0][1] < 0.01

    # Real images against other real images: a diversity ratio near 1, no warning.
    class RealImages:
        def sample(self, num, seed=0):
            return real[1000:1000 + num]

    healthy = ModeCollapseMonitor(real, num=256)
    healthy.set_model(RealImages())
    healthy.params = {"epochs": 1}
    logs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        healthy.on_epoch_end(0, logs)
    assert 0.9 < logs["diversity"] < 1.1
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ModeCollapseMonitor(images, num=8)


def test_interrupted_training_resumes_with_optimizer_state(tmp_path):
    x = images_in_range(64)

    def fresh():
        return build_gan(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0, d_steps=2)

    uninterrupted = fresh()
    uninterrupted.fit(x, batch_size=16, epochs=4, shuffle=False, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    backup = tmp_path / "backup"
    first = fresh()
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, batch_size=16, epochs=4, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup)), Interrupt()])
    assert int(first.g_optimizer.iterations) == 8
    resumed = fresh()  # as after a restart: a new process builds the model again
    history = resumed.fit(x, batch_size=16, epochs=4, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(backup))])
    assert len(history.history["d_loss"]) == 2, "only epochs 3 and 4 ran"
    assert (int(resumed.d_optimizer.iterations), int(resumed.g_optimizer.iterations)) == (32, 16)
    for a, b in zip(uninterrupted.d_optimizer.variables + uninterrupted.weights,
                    resumed.d_optimizer.variables + resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_class_interpolation_moves_between_the_two_classes():
    gan = build_conditional_gan(num_classes=4, latent_dim=6, filters=4, embedding_dim=3, seed=0)
    assert gan.sampler is gan.ema_generator  # the default samples from the EMA copy: edit that one
    embedding = gan.sampler.get_layer("generator_label_embedding")
    embedding.embeddings.assign(np.random.default_rng(0).normal(0, 3, (4, 3)).astype(np.float32))
    z = gan.latent_vectors(2, seed=1)
    rows = gan.interpolate_classes(1, 3, steps=5, z=z)
    assert rows.shape == (2, 5, 28, 28, 1)
    np.testing.assert_allclose(rows[:, 0], gan.generate([1, 1], z=z), atol=1e-6)
    np.testing.assert_allclose(rows[:, -1], gan.generate([3, 3], z=z), atol=1e-6)
    # Halfway (step 3 of 5) is the generator given the mean of the two embeddings.
    table = embedding.embeddings.numpy()
    embedding.embeddings.assign(np.concatenate([(table[1:2] + table[3:4]) / 2, table[1:]]))
    np.testing.assert_allclose(rows[:, 2], gan.generate([0, 0], z=z), atol=1e-6)
    assert np.abs(rows[:, 2] - rows[:, 0]).max() > 1e-4, "the rows change along the path"
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\], got 4"):
        gan.interpolate_classes(0, 4)


def test_minibatch_stddev_lets_the_discriminator_see_the_rest_of_the_batch():
    rng = np.random.default_rng(0)
    varied = rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    copies = np.repeat(varied[:1], 8, axis=0)  # the same first image, in a batch with no variety
    for stddev in (False, True):
        gan = build_dcgan(latent_dim=4, filters=4, seed=0, minibatch_stddev=stddev)
        d = lambda batch: gan.discriminator(batch, training=False).numpy()[0]  # noqa: E731
        # Inference-mode batch norm uses its moving statistics: only the stddev channel links the images.
        difference = abs(float(d(varied)[0] - d(copies)[0]))  # small: D's initial weights are N(0, 0.02)
        assert difference > 1e-5 if stddev else difference < 1e-7, (stddev, difference)
    layers = [layer.name for layer in gan.discriminator.layers]
    # after D's last batch norm, which would subtract a batch-constant channel away
    assert layers.index("discriminator_minibatch_stddev") > layers.index("discriminator_bn_1")


def test_precision_auto_picks_bfloat16_only_on_a_bfloat16_cpu_and_respects_a_global_policy(tmp_path, monkeypatch):
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n")
    assert not utils.native_bfloat16_cpu(cpu)
    cpu.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert utils.native_bfloat16_cpu(cpu)
    assert not utils.native_bfloat16_cpu(tmp_path / "missing")
    for native, expected in [(True, "mixed_bfloat16"), (False, "float32")]:
        monkeypatch.setattr(utils, "native_bfloat16_cpu", lambda native=native: native)
        assert utils.resolve_precision("auto") == expected
        assert utils.resolve_precision("float32") == "float32"
    with utils.dtype_policy("mixed_float16"):  # a policy the user set wins over the CPU's
        assert utils.resolve_precision("auto") == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"  # restored
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', .*\), got 'bfloat16'"):
        build_dcgan(precision="bfloat16")


def test_bfloat16_dcgan_computes_in_bfloat16_reloads_identically_and_leaves_the_global_policy_alone(tmp_path):
    x = images_in_range(64, (28, 28, 1))
    gan = build_dcgan(latent_dim=8, filters=4, seed=0, precision="mixed_bfloat16", ema=0.9)
    assert keras.config.dtype_policy().name == "float32"
    assert {layer.dtype_policy.name for layer in gan.generator.layers[1:-1]} == {"mixed_bfloat16"}
    assert gan.generator.get_layer("generator_deconv_0").kernel.dtype == "float32"  # weights stay float32
    assert gan.generator.output.dtype == gan.discriminator.output.dtype == "float32"  # images and logits
    history = gan.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert all(np.isfinite(history[key]).all() for key in history)
    z = gan.latent_vectors(8, seed=5)
    images = gan.generate(z=z)
    assert images.dtype == np.float32 and 0.0 <= images.min() <= images.max() <= 1.0
    float32 = build_dcgan(latent_dim=8, filters=4, seed=0, precision="float32", ema=0.9)
    float32.fit(x, batch_size=16, epochs=2, shuffle=False, verbose=0)
    difference = np.abs(float32.generate(z=z) - images).max()
    assert 0.0 < difference < 0.1, difference  # the same training, rounded differently
    gan.save(tmp_path / "bf16.keras")
    loaded = keras.models.load_model(tmp_path / "bf16.keras")
    assert loaded.ema_generator.get_layer("generator_deconv_0").dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(loaded.generate(z=z), images)
