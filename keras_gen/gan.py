"""Generative adversarial networks: the ``GAN`` and ``ConditionalGAN`` models (custom
``train_step``), the builders ``build_gan``, ``build_dcgan``, ``build_conditional_gan``
and ``build_wgan_gp``. Latent interpolation and DCGAN's vector arithmetic are in
``keras_gen.latent``; ``ConditionalGAN.interpolate_classes`` morphs one class into another.

A generator maps z ~ N(0, I) to images in the GAN's ``value_range`` ((-1, 1) for the
builders' tanh outputs); a discriminator (critic) maps images to one raw score per image,
a logit (no sigmoid inside). The losses are in ``keras_gen.losses``. ``generate`` and
``sample`` always return images in [0, 1].

Example:
    >>> gan = build_dcgan()
    >>> gan.fit(load("fashion_mnist", value_range=(-1, 1)), epochs=5)
    >>> images = gan.sample(16, seed=0)                  # (16, 28, 28, 1) in [0, 1]
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen.base import GenerativeModel
from keras_gen.distribute import replica_noise
from keras_gen.latent import interpolate
from keras_gen.losses import (
    LOG_LOSSES,
    auxiliary_class_loss,
    check_gan_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)
from keras_gen.networks import check_dcgan_arguments, dcgan_networks, seeded_initializer
from keras_gen.utils import (
    check_bool,
    check_input_shape,
    check_labels,
    check_num_classes,
    check_positive_int,
    check_value_range,
    dtype_policy,
    resolve_precision,
)


def _default_optimizer():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)  # Radford et al. 2016


@keras.saving.register_keras_serializable(package="keras_gen")
class GAN(GenerativeModel):
    """A GAN trained with ``fit``. Per batch: ``d_steps`` discriminator updates, each on the
    same real batch and fresh fakes (new z), then one generator update on new z. (Updating G
    on the last D update's fakes instead saves a generator forward pass, 1.10x the images/s
    of the default DCGAN, but was no better at equal training time: holdout FID at 600 s
    20.4 ± 0.7 against 19.8 ± 0.5 over 3 seeds, benchmarks/results/gan_study.md.)

    Args:
        generator: a Functional model from z ``(latent_dim,)`` to images in ``value_range``.
        discriminator: a Functional model from images to one logit per image.
        latent_dim: size of z.
        value_range: ``(low, high)`` of the training images and of the generator's output.
        seed: seed of the model's noise (z and WGAN-GP's interpolation weights).

    ``fit`` data are images, or ``(images, labels)`` whose labels are ignored, in
    ``value_range``: use ``load(..., value_range=(-1, 1))`` for tanh generators. Metrics:
    ``d_loss`` (with the gradient and R1 penalties), ``g_loss``, and ``d_real``, ``d_fake``: the
    mean discriminator output on real and on generated images at the last discriminator
    step, as a probability sigmoid(logit) for the log losses (minimax, non-saturating)
    and as the raw score for the others.
    """

    MAX_DISCRIMINATOR_OUTPUTS, DISCRIMINATOR_OUTPUTS = 1, "one logit per image, shape (1,)"

    def __init__(self, generator, discriminator, latent_dim, value_range=(-1.0, 1.0), seed=None, **kwargs):
        check_positive_int("latent_dim", latent_dim)
        value_range = check_value_range(value_range)
        super().__init__(**kwargs)
        z_shape = tuple(generator.inputs[0].shape[1:])
        made, taken = tuple(generator.outputs[0].shape[1:]), tuple(discriminator.inputs[0].shape[1:])
        if z_shape != (latent_dim,):
            raise ValueError(f"latent_dim is {latent_dim} but the generator's z input has shape {z_shape}.")
        if made != taken:
            raise ValueError(f"the generator makes images of shape {made}; the discriminator takes {taken}.")
        outputs = [tuple(o.shape[1:]) for o in discriminator.outputs]
        if outputs[0] != (1,) or len(outputs) > self.MAX_DISCRIMINATOR_OUTPUTS:
            raise ValueError(f"the discriminator must output {self.DISCRIMINATOR_OUTPUTS}, got outputs of shapes "
                             f"{outputs}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.value_range = value_range
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_generator = None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True  # generator and discriminator are built Functional models

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def compile(self, d_optimizer=None, g_optimizer=None, loss="non_saturating", d_steps=1, gp_weight=10.0,
                label_smoothing=0.0, ema=None, r1_weight=0.0, class_weight=1.0, **kwargs):
        """Sets the training configuration; ``model.save`` stores it with both optimizers' state.

        Args:
            d_optimizer, g_optimizer: two distinct optimizers (instances or names) for the
                discriminator and the generator; default ``Adam(2e-4, beta_1=0.5)`` each.
            loss: one of ``keras_gen.losses.GAN_LOSSES``.
            d_steps: discriminator updates per generator update (>= 1).
            gp_weight: weight of the gradient penalty; used with ``loss="wasserstein"`` only.
            label_smoothing: one-sided: real targets ``1 - label_smoothing`` (log losses).
            r1_weight: gamma of the R1 penalty on real images (any loss): the
                discriminator's loss adds ``gamma / 2 * mean(||grad D(x_real)||^2)``
                (``keras_gen.losses.r1_penalty``); 0 turns it off. Like the gradient
                penalty it needs a discriminator without batch normalization.
            class_weight: weight of AC-GAN's class loss
                (``keras_gen.losses.auxiliary_class_loss``), used only when the
                discriminator has a class head (a ``ConditionalGAN`` built with
                ``auxiliary_classifier=True``): D adds it on the real images, G on its own.
            ema: None, or a decay in (0, 1) such as 0.999: keeps ``ema_generator``, an
                exponential moving average of the generator's weights (batch-norm
                statistics copied), updated after each generator step and used by
                ``generate``/``sample``. At generator step t the decay is
                ``min(ema, (1 + t) / (10 + t))`` (the warm-up of TensorFlow's
                ``ExponentialMovingAverage(num_updates=t)``), so early in training the
                average follows the generator instead of staying near its random
                start: with 0.999 and no warm-up, half of the average is still the
                initial weights after 700 steps. Each ``compile`` restarts it from the
                generator.
            **kwargs: ``jit_compile``, ``run_eagerly``, ``steps_per_execution``.
        """
        check_gan_loss(loss, label_smoothing)
        check_positive_int("d_steps", d_steps)
        for name, value in (("gp_weight", gp_weight), ("r1_weight", r1_weight), ("class_weight", class_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
        if ema is not None and not (isinstance(ema, float) and 0.0 < ema < 1.0):
            raise ValueError(f"ema must be None or a decay in (0, 1) such as 0.999, got {ema!r}.")
        if r1_weight and self.auxiliary_classifier:
            raise ValueError("r1_weight must be 0 with a discriminator with a class head (auxiliary_classifier=True, "
                             f"the conditional GAN's default), got {r1_weight!r}: the penalty's pass yields no class "
                             "logits. Build with auxiliary_classifier=False to use R1.")
        if isinstance(d_optimizer, keras.optimizers.Optimizer) and d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two optimizer instances, got the same one twice.")
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._loss_scaled(keras.optimizers.get(d_optimizer or _default_optimizer()))
        self.g_optimizer = self._loss_scaled(keras.optimizers.get(g_optimizer or _default_optimizer()))
        self.gan_loss, self.d_steps, self.gp_weight, self.r1_weight = loss, d_steps, float(gp_weight), float(r1_weight)
        self.class_weight = float(class_weight)
        self.label_smoothing, self.ema, self._compile_kwargs = float(label_smoothing), ema, kwargs
        # Built now (inside a strategy's scope when compiled there), so load_model can
        # restore their state and a distributed step creates no variables.
        for optimizer, network in [(self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)]:
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.ema_generator = None
        if ema is not None:
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.name, self.ema_generator.trainable = "ema_generator", False

    def _loss_scaled(self, optimizer):
        """Wraps the optimizer in a LossScaleOptimizer under mixed precision, as Keras does."""
        if self.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
                "loss": self.gan_loss, "d_steps": self.d_steps, "gp_weight": self.gp_weight,
                "r1_weight": self.r1_weight, "class_weight": self.class_weight,
                "label_smoothing": self.label_smoothing, "ema": self.ema,
                **self._compile_kwargs}

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def call(self, inputs, training=False):
        """The generator's images (in ``value_range``) for its inputs."""
        return self.generator(inputs, training=training)

    # ------------------------------------------------------------------------ training
    # Under a tf.distribute strategy, each replica runs train_step on its share of the batch.

    def train_step(self, data):
        real, labels = self._unpack(data)
        batch = tf.shape(real)[0]
        # The same real batch serves all d_steps discriminator updates, each with fresh z.
        for _ in range(self.d_steps):  # a Python loop: unrolled in the traced graph
            d_loss, real_logits, fake_logits = self._discriminator_step(real, labels, batch)
        g_loss = self._generator_step(labels, batch)
        if self.ema_generator is not None:
            self._update_ema()
        as_score = keras.ops.sigmoid if self.gan_loss in LOG_LOSSES else keras.ops.convert_to_tensor
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(keras.ops.mean(as_score(real_logits)))
        self.d_fake_tracker.update_state(keras.ops.mean(as_score(fake_logits)))
        return self.metric_logs()

    def _discriminator_step(self, real, labels, batch):
        z = replica_noise(keras.random.normal, (batch, self.latent_dim), self.seed_generator)
        fake = self._generate(z, labels, training=True)  # outside the tape: D's step leaves G alone
        critic = lambda images: self._discriminate(images, labels, training=True)[0]  # noqa: E731
        with tf.GradientTape() as tape:
            if self.r1_weight > 0:  # the penalty's pass is also the real images' forward pass
                (r1, real_logits), real_classes = r1_penalty(critic, real), None
            else:
                real_logits, real_classes = self._discriminate(real, labels, training=True)
            fake_logits = critic(fake)
            loss = discriminator_loss(real_logits, fake_logits, self.gan_loss, self.label_smoothing)
            if self.r1_weight > 0:
                loss += 0.5 * self.r1_weight * r1
            if real_classes is not None:  # AC-GAN: D also learns to classify the real images
                loss += self.class_weight * auxiliary_class_loss(labels, real_classes)
            if self.gan_loss == "wasserstein" and self.gp_weight > 0:
                per_image = (batch,) + (1,) * (len(real.shape) - 1)
                epsilon = replica_noise(keras.random.uniform, per_image, self.seed_generator)
                loss += self.gp_weight * gradient_penalty(critic, real, fake, epsilon)
            scaled = self.replica_scaled_loss(loss, self.d_optimizer)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return loss, real_logits, fake_logits

    def _generator_step(self, labels, batch):
        z = replica_noise(keras.random.normal, (batch, self.latent_dim), self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits, fake_classes = self._discriminate(self._generate(z, labels, training=True), labels,
                                                           training=True)
            loss = generator_loss(fake_logits, self.gan_loss)
            if fake_classes is not None:  # AC-GAN: G draws images D classifies as their labels
                loss += self.class_weight * auxiliary_class_loss(labels, fake_classes)
            scaled = self.replica_scaled_loss(loss, self.g_optimizer)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return loss

    def _update_ema(self):
        step = keras.ops.cast(self.g_optimizer.iterations, "float32")  # t >= 1: the generator step just taken
        decay = keras.ops.minimum(self.ema, (1.0 + step) / (10.0 + step))
        for ema_weight, weight in zip(self.ema_generator.weights, self.generator.weights):
            ema_weight.assign(decay * ema_weight + (1.0 - decay) * weight if weight.trainable else weight)

    # Subclasses with labels override these three.
    def _unpack(self, data):
        """(images, labels) of a batch; an unconditional GAN ignores labels."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def _generate(self, z, labels, training):
        return self.generator(z, training=training)

    def _discriminate(self, images, labels, training):
        """``(logits, class logits or None)``: class logits come from a class head only."""
        return self.discriminator(images, training=training), None

    @property
    def auxiliary_classifier(self):
        """True when the discriminator has AC-GAN's class head (a second output)."""
        return len(self.discriminator.outputs) == 2

    # ---------------------------------------------------------------------- data checks
    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` after ``check_data`` on the first batch. A GAN has no
        validation loss: ``validation_data``/``validation_split`` raise a ValueError."""
        if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
            raise ValueError("a GAN has no validation loss; measure samples with a callback instead.")
        return super().fit(x, y, *args, **kwargs)

    @property
    def image_shape(self):
        return tuple(self.discriminator.inputs[0].shape[1:])

    # ------------------------------------------------------------------------- sampling
    def decode_latent(self, z, labels=None):
        """The sampler's images (in ``value_range``) for numpy z (and labels): the EMA
        generator when there is one."""
        return self.sampler(z if labels is None else [z, labels], training=False)

    @property
    def sampler(self):
        """The network that makes the samples: the EMA generator when ``ema`` is on,
        else the generator. Its output is in ``value_range``."""
        return self.generator if self.ema_generator is None else self.ema_generator

    # -------------------------------------------------------------------- serialization
    def get_config(self):
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim, "value_range": list(self.value_range), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalGAN(GAN):
    """A class-conditional GAN: G(z, label) and D(image, label).

    Args:
        generator: a Functional model from ``[z, label]`` to images.
        discriminator: a Functional model from ``[image, label]`` to one logit.
        num_classes: number of classes (>= 2); labels are integer ids in [0, num_classes).
        latent_dim, value_range, seed: see ``GAN``.

    ``fit`` data are ``(images, labels)``. Generated images in training get the labels of
    the real batch, so classes are drawn as often as in the data. A discriminator with a
    second output ``(num_classes,)``, class logits, is an AC-GAN's (Odena et al. 2017):
    both losses add ``class_weight`` times its cross-entropy (see ``GAN.compile``).
    """

    MAX_DISCRIMINATOR_OUTPUTS = 2
    DISCRIMINATOR_OUTPUTS = "one logit per image, shape (1,), and optionally class logits, shape (num_classes,)"

    def __init__(self, generator, discriminator, latent_dim, num_classes=10, **kwargs):
        check_num_classes(num_classes)
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise ValueError("a ConditionalGAN needs a generator taking [z, label] and a discriminator taking "
                             f"[image, label], got {len(generator.inputs)} and {len(discriminator.inputs)} inputs.")
        if len(discriminator.outputs) == 2 and tuple(discriminator.outputs[1].shape[1:]) != (num_classes,):
            raise ValueError(f"the discriminator's class head must output shape ({num_classes},) for num_classes "
                             f"{num_classes}, got {tuple(discriminator.outputs[1].shape[1:])}.")
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.num_classes = num_classes

    def _unpack(self, data):
        return data[0], tf.reshape(tf.cast(data[1], tf.int32), [-1])

    def _generate(self, z, labels, training):
        return self.generator([z, labels], training=training)

    def _discriminate(self, images, labels, training):
        outputs = self.discriminator([images, labels], training=training)
        return tuple(outputs) if self.auxiliary_classifier else (outputs, None)

    def interpolate_classes(self, start, end, steps=8, z=None, seed=0):
        """Class interpolation: images generated along the straight line from the label
        embedding of class ``start`` to that of class ``end``, with z held fixed, so
        each row morphs one style from one class into the other.

        Needs a generator from ``build_conditional_gan`` (layers
        ``generator_label_embedding`` and ``z_with_label``).

        Args:
            start, end: class ids in [0, num_classes).
            steps: images per row (>= 2), both classes included.
            z: ``(rows, latent_dim)`` latent vectors, one per row; default: 4 drawn with ``seed``.

        Returns:
            A float32 array ``(rows, steps, H, W, C)`` in [0, 1].
        """
        start, end = (int(k) for k in check_labels([start, end], self.num_classes))
        z = self.latent_vectors(4, seed) if z is None else self.check_z(z, len(z))
        # A copy of the generator, cut after its label embedding: a model built on the
        # original's inner tensors would break the original's serialization.
        generator = keras.models.clone_model(self.sampler)
        generator.set_weights(self.sampler.get_weights())
        try:
            table = keras.ops.convert_to_numpy(generator.get_layer("generator_label_embedding").embeddings)
            joined = generator.get_layer("z_with_label").input  # [z, label embedding]
        except ValueError:
            raise ValueError("interpolate_classes needs a generator made by build_conditional_gan, with layers "
                             "'generator_label_embedding' and 'z_with_label'.") from None
        path = interpolate(table[start], table[end], steps=steps)
        tail = keras.Model(joined, generator.outputs[0])
        images = tail([np.repeat(z, steps, axis=0), np.tile(path, (len(z), 1))], training=False)
        images = self.to_unit(images)
        return images.reshape(len(z), steps, *images.shape[1:])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


# ------------------------------------------------------------------------------ builders

# Settings each builder starts from: ``preset="default"`` (chosen by measured sample
# quality per second of CPU training, benchmarks/gan_study.py; the README's "GAN
# defaults" gives the numbers) or a classic paper's settings. Explicit builder arguments
# override the preset's. ``batch_size`` is the batch the preset was measured with (the
# recipes' default); builders do not use it.
RADFORD = {"filters": 64, "spectral_norm": False, "loss": "non_saturating", "d_steps": 1, "r1_weight": 0.0,
           "ema": None, "d_learning_rate": 2e-4, "g_learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
           "batch_size": 64}  # Radford et al. 2016
# The MLP GAN's classic settings: Goodfellow et al.'s networks trained with Radford's optimizer.
GOODFELLOW = {"hidden_units": (256, 512), **{k: v for k, v in RADFORD.items() if k not in ("filters", "spectral_norm")}}
PRESETS = {
    # default: the classic settings with Adam 8e-4 for both networks (holdout FID at 600 s over 3
    # seeds 84.6 ± 4.9 against 93.5 ± 6.9, lower at every point of the mean and at 600 s on every
    # seed; 7-8 of 10 classes either way); benchmarks/results/gan_study.md.
    "gan": {"default": {**GOODFELLOW, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
            "goodfellow": dict(GOODFELLOW)},
    # default: Radford's with 32 filters (3.9x the images/s on a CPU; holdout FID at 600 s over
    # 3 seeds 31.6 ± 0.6 against 47.8 ± 0.4), Adam 8e-4 for both (at equal steps 22.6 ± 1.8,
    # against 25.3 ± 1.5 with 4e-4 and 31.6 ± 0.6 with 2e-4), batch 128 (1.26x the images/s;
    # 20.8 ± 0.3 against 22.6 ± 1.8, lower on every seed at 600 s though behind until 300 s), and
    # at batch 128 Adam 1.2e-3 (19.8 ± 0.5 against 20.8 ± 0.3, lower on every seed at 600 s), and
    # precision "auto": mixed bfloat16 on a CPU with native bfloat16 (1.23x the images/s; holdout
    # FID lower at every point of the mean, 45.1 against 51.0 at 100 s and 19.5 ± 1.2 against
    # 19.8 ± 0.5 at 600 s), float32 elsewhere; benchmarks/results/gan_study.md.
    "dcgan": {"default": {**RADFORD, "filters": 32, "extra_layers": 0, "minibatch_stddev": False,
                          "precision": "auto", "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                          "batch_size": 128},
              "radford": {**RADFORD, "extra_layers": 0, "minibatch_stddev": False, "precision": "float32"}},
    # default: Radford's with 32 filters, the projection discriminator and a generator EMA
    # (holdout FID at 600 s over 3 seeds 5.9 ± 0.5 against 18.4 ± 1.3, conditional accuracy 0.934
    # against 0.869), AC-GAN's class head (conditional accuracy 0.988 ± 0.002 against 0.934 ±
    # 0.002 at FID 6.3 ± 0.5 against 5.9 ± 0.5, recall 0.64 against 0.69), and Adam 8e-4 for both
    # (FID lower at every point, 13.4 against 28.7 at 100 s and 5.3 ± 0.2 against 6.3 ± 0.5 at 600 s,
    # recall 0.68 against 0.64, accuracy 0.981 ± 0.002 against 0.988 ± 0.002); benchmarks/results/gan_study.md.
    "conditional_gan": {"default": {**RADFORD, "filters": 32, "conditioning": "projection", "ema": 0.999,
                                    "auxiliary_classifier": True, "class_weight": 1.0,
                                    "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
                        "radford": {**RADFORD, "conditioning": "channel", "auxiliary_classifier": False,
                                    "class_weight": 1.0}},
    # default: one critic step per generator step, Adam(beta_1 0, beta_2 0.9) at 1.6e-3 for the
    # critic and 4e-4 for G, and a generator EMA: holdout FID at 600 s over 3 seeds 28.5 ± 2.5
    # against 72.7 ± 4.4 with the settings before (3 critic steps, Adam(2e-4, 0.5, 0.9), no EMA,
    # still reachable as builder arguments and recipe flags); benchmarks/results/gan_study.md.
    "wgan_gp": {"default": {"filters": 32, "loss": "wasserstein", "d_steps": 1, "gp_weight": 10.0, "ema": 0.999,
                            "d_learning_rate": 1.6e-3, "g_learning_rate": 4e-4, "beta_1": 0.0, "beta_2": 0.9,
                            "batch_size": 64},
                "gulrajani": {"filters": 64, "loss": "wasserstein", "d_steps": 5, "gp_weight": 10.0, "ema": None,
                              "d_learning_rate": 1e-4, "g_learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9,
                              "batch_size": 64}},  # Gulrajani et al. 2017, Algorithm 1
}
NETWORK_SETTINGS = ("hidden_units", "filters", "spectral_norm", "conditioning", "auxiliary_classifier", "extra_layers",
                    "minibatch_stddev", "precision")
COMPILE_SETTINGS = ("loss", "d_steps", "gp_weight", "r1_weight", "class_weight", "ema", "label_smoothing")


def preset_settings(family, preset="default"):
    """A copy of the settings of ``preset`` for ``family`` (``"gan"``, ``"dcgan"``,
    ``"conditional_gan"``, ``"wgan_gp"``); see ``PRESETS``."""
    if family not in PRESETS:
        raise ValueError(f"family must be one of {sorted(PRESETS)}, got {family!r}.")
    if preset not in PRESETS[family]:
        raise ValueError(f"preset must be one of {sorted(PRESETS[family])} for {family}, got {preset!r}.")
    return dict(PRESETS[family][preset])


def describe_settings(settings):
    """One line of a settings dict (the batch size aside), for printed protocols; precision
    ``"auto"`` with the policy it resolves to on this machine."""
    def value(key, v):
        if key == "precision" and v == "auto":
            return f"auto ({resolve_precision(v)} here)"
        return "off" if v is None else v

    return ", ".join(f"{k} {value(k, v)}" for k, v in settings.items() if k != "batch_size")


def settings_arguments(settings, decay_steps=None):
    """``(network arguments, compile arguments)`` of a settings dict (a preset's, maybe
    changed): the builder's network arguments, and ``GAN.compile``'s with two new Adam
    optimizers made from the learning rates and betas.

    With ``settings["lr_decay"] == "linear"`` both learning rates fall linearly to 0 over
    ``decay_steps`` training steps (then required; D's optimizer makes ``d_steps``
    updates per step, so its schedule counts ``d_steps * decay_steps``)."""
    decay = settings.get("lr_decay")
    if decay not in (None, "linear"):
        raise ValueError(f"lr_decay must be None or 'linear', got {decay!r}.")
    if decay and not (isinstance(decay_steps, int) and decay_steps > 0):
        raise ValueError(f"lr_decay 'linear' needs decay_steps, a positive int of training steps, got {decay_steps!r}.")

    def adam(rate, updates_per_step):
        if decay:
            rate = keras.optimizers.schedules.PolynomialDecay(rate, decay_steps * updates_per_step, 0.0)
        return keras.optimizers.Adam(rate, beta_1=settings["beta_1"], beta_2=settings["beta_2"])

    network = {k: settings[k] for k in NETWORK_SETTINGS if k in settings}
    compiled = {k: settings[k] for k in COMPILE_SETTINGS if k in settings}
    return network, {**compiled, "d_optimizer": adam(settings["d_learning_rate"], settings.get("d_steps", 1)),
                     "g_optimizer": adam(settings["g_learning_rate"], 1)}


def _from_preset(family, preset, given, compile_args):
    """The builder's network arguments (``given`` where not None, else the preset's) and
    compile arguments (the preset's, overridden by ``compile_args``)."""
    network, compiled = settings_arguments(preset_settings(family, preset))
    return {k: (network[k] if v is None else v) for k, v in given.items()}, {**compiled, **compile_args}


def _mlp_networks(input_shape, latent_dim, hidden_units, seed):
    init = seeded_initializer(keras.initializers.GlorotUniform, seed)
    z = keras.Input((latent_dim,), name="z")
    x = z
    for i, units in enumerate(hidden_units):
        x = layers.LeakyReLU(0.2)(layers.Dense(units, kernel_initializer=init(), name=f"generator_dense_{i}")(x))
    x = layers.Dense(int(np.prod(input_shape)), kernel_initializer=init(), name="generator_pixels")(x)
    generated = layers.Activation("tanh", dtype="float32", name="image")(layers.Reshape(input_shape)(x))

    image = keras.Input(input_shape, name="image")
    y = layers.Flatten()(image)
    for i, units in enumerate(reversed(hidden_units)):
        y = layers.LeakyReLU(0.2)(layers.Dense(units, kernel_initializer=init(), name=f"discriminator_dense_{i}")(y))
    logit = layers.Dense(1, kernel_initializer=init(), dtype="float32", name="logit")(y)
    return keras.Model(z, generated, name="generator"), keras.Model(image, logit, name="discriminator")


def _compiled(gan, compile_args):
    gan.compile(**compile_args)
    return gan


def build_gan(input_shape=(28, 28, 1), latent_dim=100, hidden_units=None, preset="default", seed=None, name="gan",
              **compile_args):
    """Builds and compiles the original MLP GAN (Goodfellow et al. 2014): G has Dense
    ``hidden_units`` with LeakyReLU(0.2) and a tanh output; D mirrors them down to a logit.

    Args:
        input_shape: ``(H, W, C)`` of images in [-1, 1].
        latent_dim: size of z.
        hidden_units: generator layer sizes; the discriminator uses them reversed
            (default: the preset's).
        preset: ``"default"`` or ``"goodfellow"``: the starting settings (``PRESETS``);
            the arguments given override them.
        seed: seed of the initial weights and of the training noise.
        **compile_args: ``GAN.compile`` arguments (loss, optimizers, d_steps, ema, ...),
            over the preset's.

    Returns:
        A compiled ``GAN`` with ``.generator`` (z -> image) and ``.discriminator``.
    """
    network, compile_args = _from_preset("gan", preset, {"hidden_units": hidden_units}, compile_args)
    hidden_units = network["hidden_units"]
    shape = check_input_shape(input_shape)
    check_positive_int("latent_dim", latent_dim)
    for units in hidden_units:
        check_positive_int("hidden_units entry", units)
    generator, discriminator = _mlp_networks(shape, latent_dim, tuple(hidden_units), seed)
    return _compiled(GAN(generator, discriminator, latent_dim, seed=seed, name=name), compile_args)


def build_dcgan(input_shape=(28, 28, 1), latent_dim=100, filters=None, spectral_norm=None, extra_layers=None,
                minibatch_stddev=None, precision=None, preset="default", seed=None, name="dcgan", **compile_args):
    """Builds and compiles a DCGAN (see ``keras_gen.networks.dcgan_networks``).

    Args:
        input_shape: ``(size, size, C)`` of images in [-1, 1], size 28, 32 or 64.
        filters: width of D's first layer, doubled at each stage; G mirrors D.
        spectral_norm: spectral normalization on D's layers instead of batch norm
            (Miyato et al. 2018).
        extra_layers: stride-1 3x3 convolutions added to G before its output layer and to
            D after its first layer (Arjovsky et al.'s ``n_extra_layers``).
        minibatch_stddev: give D a channel of the batch's variety (``MinibatchStddev``;
            Karras et al. 2018) before its logit.
        precision: the Keras dtype policy the networks compute in (see
            ``keras_gen.utils.resolve_precision``): ``"auto"`` (the global policy when
            one is set, else mixed bfloat16 on a CPU with native bfloat16 and no GPU,
            else float32), ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
        preset: ``"default"`` (Radford's settings with 32 filters, Adam 1.2e-3 for both
            networks and batch 128 (``fit``'s, through the recipes' ``--batch-size``),
            chosen for CPU training by ``benchmarks/gan_study.py``) or
            ``"radford"`` (Radford et al. 2016: 64 filters, Adam 2e-4); ``filters``,
            ``spectral_norm``, ``extra_layers``, ``minibatch_stddev`` and ``precision``
            (``"auto"`` in the default preset, ``"float32"`` in Radford's) default to the preset's.
        latent_dim, seed, compile_args: see ``build_gan``.

    Returns:
        A compiled ``GAN``.
    """
    given = {"filters": filters, "spectral_norm": spectral_norm, "extra_layers": extra_layers,
             "minibatch_stddev": minibatch_stddev, "precision": precision}
    network, compile_args = _from_preset("dcgan", preset, given, compile_args)
    shape = check_dcgan_arguments(input_shape, latent_dim, network["filters"], network["extra_layers"])
    check_bool("spectral_norm", network["spectral_norm"])
    check_bool("minibatch_stddev", network["minibatch_stddev"])
    with dtype_policy(resolve_precision(network.pop("precision"))):
        generator, discriminator = dcgan_networks(shape, latent_dim, seed=seed, **network)
        return _compiled(GAN(generator, discriminator, latent_dim, seed=seed, name=name), compile_args)


def build_conditional_gan(input_shape=(28, 28, 1), num_classes=10, latent_dim=100, filters=None, embedding_dim=50,
                          conditioning=None, spectral_norm=None, auxiliary_classifier=None, preset="default", seed=None,
                          name="conditional_gan", **compile_args):
    """Builds and compiles a class-conditional DCGAN (Mirza and Osindero 2014).

    Args:
        num_classes: number of classes (>= 2).
        embedding_dim: size of the label embedding joined to z.
        conditioning: how D sees the label: ``"channel"`` (a learned per-class image
            plane as an extra channel) or ``"projection"`` (Miyato and Koyama 2018).
        preset: ``"default"`` (Radford's settings with 32 filters, Adam 8e-4 for both
            networks, the projection discriminator, AC-GAN's class head with
            ``class_weight`` 1 and a generator EMA of 0.999, chosen for CPU training by
            ``benchmarks/gan_study.py``) or
            ``"radford"`` (64 filters, the label as an
            extra channel of D, no EMA); ``filters``, ``conditioning``,
            ``spectral_norm`` and ``auxiliary_classifier`` default to the preset's.
        auxiliary_classifier: give D a second output, class logits from its last
            features (AC-GAN, Odena et al. 2017); its cross-entropy, weighted by the
            compile argument ``class_weight`` (default 1), joins D's loss on real images
            and G's on generated ones.
        input_shape, latent_dim, filters, spectral_norm, seed, compile_args: see ``build_dcgan``.

    Returns:
        A compiled ``ConditionalGAN``; both networks take a second input, ``label``.
    """
    given = {"filters": filters, "spectral_norm": spectral_norm, "conditioning": conditioning,
             "auxiliary_classifier": auxiliary_classifier}
    network, compile_args = _from_preset("conditional_gan", preset, given, compile_args)
    shape = check_dcgan_arguments(input_shape, latent_dim, network["filters"])
    check_num_classes(num_classes)
    check_positive_int("embedding_dim", embedding_dim)
    check_bool("spectral_norm", network["spectral_norm"])
    check_bool("auxiliary_classifier", network["auxiliary_classifier"])
    generator, discriminator = dcgan_networks(shape, latent_dim, seed=seed, num_classes=num_classes,
                                               embedding_dim=embedding_dim, **network)
    gan = ConditionalGAN(generator, discriminator, latent_dim, num_classes=num_classes, seed=seed, name=name)
    return _compiled(gan, compile_args)


def build_wgan_gp(input_shape=(28, 28, 1), latent_dim=100, filters=None, preset="default", seed=None, name="wgan_gp",
                  **compile_args):
    """Builds and compiles a WGAN-GP (Gulrajani et al. 2017): DCGAN networks whose critic
    has no batch normalization (the penalty needs per-example gradients) and the
    Wasserstein loss with the gradient penalty.

    Args:
        preset: ``"default"`` (chosen for CPU training by ``benchmarks/gan_study.py``: 32
            filters, one critic update per generator update, Adam(beta_1=0,
            beta_2=0.9) with 1.6e-3 for the critic and 4e-4 for G, gp_weight 10 and a
            generator EMA of 0.999) or ``"gulrajani"`` (the paper's Algorithm 1: 5
            critic updates per generator update, Adam(1e-4, beta_1=0, beta_2=0.9),
            gp_weight 10, 64 filters); ``filters`` defaults to the preset's.
        input_shape, latent_dim, filters, seed, compile_args: see ``build_dcgan``.

    Returns:
        A compiled ``GAN``.
    """
    network, compile_args = _from_preset("wgan_gp", preset, {"filters": filters}, compile_args)
    shape = check_dcgan_arguments(input_shape, latent_dim, network["filters"])
    generator, discriminator = dcgan_networks(shape, latent_dim, network["filters"], seed, batch_norm=False)
    return _compiled(GAN(generator, discriminator, latent_dim, seed=seed, name=name), compile_args)
