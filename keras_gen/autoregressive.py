"""Autoregressive image models: ``AutoregressiveModel``, the base of PixelCNN and
PixelRNN, with the exact likelihood, training and the compiled sampler's plumbing, and
``exact_nll`` and ``quantize``.

p(x) = prod_i p(x_i | x_1, ..., x_{i-1}), pixels in raster order (channels in order
within a pixel). A network whose output at pixel i depends on earlier pixels only gives
every conditional in one forward pass, hence the exact negative log-likelihood, which
``fit`` minimises. Binary images (``levels=2``) get one Bernoulli logit per pixel;
``levels`` > 2 (256 for 8-bit images) a softmax over the levels. Images go in and come out
in [0, 1]: level k of L is the value k / (L - 1). Generation is sequential; each family
writes its sampler (``sample_graph``).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_gen.base import GenerativeModel
from keras_gen.utils import bits_per_dim, check_input_shape, check_num_classes, check_positive_int, is_int, split_batch

MAX_LEVELS = 256
LEVEL_TOLERANCE = 1e-3  # |x * (L - 1) - round(x * (L - 1))| allowed for an image on the level grid


def check_levels(levels):
    if not is_int(levels) or not 2 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be an integer in [2, {MAX_LEVELS}] (2: binary images, 256: 8-bit), "
                         f"got {levels!r}.")


class AutoregressiveModel(GenerativeModel):
    """An autoregressive image model trained by maximum likelihood with ``fit``: the
    base of ``PixelCNN`` and ``PixelRNN``, which add their sampler (``sample_graph``).

    Args:
        network: a Functional model from ``image`` (N, h, w, C) in [0, 1] [and ``label``
            (N,) int32] to logits (N, h, w, C) for ``levels=2`` or (N, h, w, C * levels),
            whose output at a pixel depends only on earlier pixels (and channels).
        image_shape: ``(H, W, C)`` of the images.
        levels: number of values a pixel takes: 2 (Bernoulli) to 256 (softmax).
        num_classes: for a class-conditional network, its number of classes.

    ``fit``/``evaluate`` data are images in [0, 1] on the level grid (k / (levels - 1)),
    or ``(images, labels)``; an unconditional model ignores the labels of a dataset, a
    conditional one needs them. Metrics: ``loss`` (the exact NLL, nats per image, averaged
    over images) and ``bits_per_dim``.
    """

    def __init__(self, network, image_shape, levels=2, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(network, keras.Model):
            raise TypeError(f"network must be a keras.Model, got {type(network).__name__}.")
        self.image_shape = check_input_shape(image_shape)
        check_levels(levels)
        check_num_classes(num_classes, allow_none=True)
        if len(network.inputs) != (1 if num_classes is None else 2):
            raise ValueError(
                f"the network has {len(network.inputs)} inputs; expected [image] without num_classes and "
                f"[image, label] with it (num_classes={num_classes!r})."
            )
        channels = self.image_shape[-1]
        expected = channels if levels == 2 else channels * levels
        if network.inputs[0].shape[-1] != channels or network.outputs[0].shape[-1] != expected:
            raise ValueError(
                f"the network maps {network.inputs[0].shape[-1]} channels to {network.outputs[0].shape[-1]}; "
                f"images of {channels} channels and {levels} levels need {channels} -> {expected}."
            )
        self.network = network
        self.levels = levels
        self.num_classes = num_classes
        self.bits_per_nat = float(bits_per_dim(1.0, self.image_shape))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True  # the network is a built Functional model
        self._samplers = {}

    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_tracker]

    # ------------------------------------------------------------------ likelihood

    def call(self, inputs, training=False):
        """The conditionals' logits: (N, H, W, C) for ``levels=2``, else (N, H, W, C, levels)."""
        images, labels = split_batch(inputs) if self.conditional else (split_batch(inputs)[0], None)
        return self.logits(images, labels, training=training)

    def logits(self, images, labels=None, training=False):
        """Logits of p(x_i | x_<i) at every pixel of ``images`` (any height and width)."""
        outputs = self.network(images if labels is None else [images, labels], training=training)
        if self.levels == 2:
            return outputs
        shape = tf.shape(outputs)
        return tf.reshape(outputs, tf.concat([shape[:3], [self.image_shape[-1], self.levels]], axis=0))

    def level_indices(self, images):
        """Integer levels 0..L-1 of images in [0, 1]; fails (also inside a graph) when a
        value is outside [0, 1] or off the level grid k / (L - 1)."""
        images = tf.cast(images, tf.float32)
        scaled = images * (self.levels - 1)
        rounded = tf.round(scaled)
        with tf.control_dependencies([
            tf.debugging.assert_greater_equal(images, 0.0, message="images must lie in [0, 1]"),
            tf.debugging.assert_less_equal(images, 1.0, message="images must lie in [0, 1]"),
            tf.debugging.assert_less_equal(
                tf.abs(scaled - rounded), LEVEL_TOLERANCE,
                message=f"images must take the {self.levels} values k / {self.levels - 1} (binarize or quantize them)",
            ),
        ]):
            return tf.cast(rounded, tf.int32)

    def pixel_nll(self, images, labels=None, training=False):
        """-log p(x_i | x_<i) of every pixel and channel, (N, H, W, C) in nats."""
        targets = self.level_indices(images)
        logits = tf.cast(self.logits(images, labels, training=training), tf.float32)
        if self.levels == 2:
            return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(targets, tf.float32), logits=logits)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    def image_nll(self, images, labels=None, training=False):
        """-log p(x) per image (N,), in nats: the sum of ``pixel_nll``."""
        return tf.reduce_sum(self.pixel_nll(images, labels, training=training), axis=[1, 2, 3])

    def nll(self, images, labels=None):
        """The exact -log p(x) [or -log p(x | y)] of each image, in nats, as numpy.

        Args:
            images: ``(N, H, W, C)`` in [0, 1] on the level grid.
            labels: class ids (conditional model only).
        """
        if labels is not None and not self.conditional:
            raise ValueError("labels were given, but this PixelCNN is not class-conditional (num_classes=None).")
        images, labels = self.check_data(images, labels)
        labels = None if labels is None else tf.constant(labels)
        return keras.ops.convert_to_numpy(self.image_nll(tf.constant(images, tf.float32), labels))

    def _inputs(self, data):
        images, labels = split_batch(data)
        return images, labels if self.conditional else None

    def _record(self, nll):
        self.loss_tracker.update_state(nll)  # per image: the mean is over images, whatever the batches
        self.bits_tracker.update_state(nll * self.bits_per_nat)
        return self.metric_logs()

    def train_step(self, data):
        images, labels = self._inputs(data)
        with tf.GradientTape() as tape:
            nll = self.image_nll(images, labels, training=True)
            scaled = self.replica_scaled_loss(tf.reduce_mean(nll))
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(nll)

    def test_step(self, data):
        return self._record(self.image_nll(*self._inputs(data), training=False))

    def _check_images(self, images):
        """Images on the level grid k / (levels - 1)."""
        scaled = images.astype(np.float64) * (self.levels - 1)
        off = np.abs(scaled - np.round(scaled)) > LEVEL_TOLERANCE
        if off.any():
            raise ValueError(
                f"images must take the {self.levels} values k / {self.levels - 1}; found {images[off].flat[0]:g}. "
                + ("Binarize them (datasets.load(..., binarize='static' or 'dynamic'))." if self.levels == 2
                   else "Quantize them to the level grid first.")
            )

    # -------------------------------------------------------------------- sampling

    def draw_level(self, logits, seed, step):
        """One pixel value per image in [0, 1], drawn from ``logits`` ((N,) Bernoulli
        logits, or (N, levels)) with the stateless seed ``(seed, step)``: every sampler
        draws step i of the raster order this way, so that two samplers of the same
        model give the same images."""
        step_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
        if self.levels == 2:
            return tf.cast(tf.random.stateless_uniform(tf.shape(logits), step_seed) < tf.sigmoid(logits), tf.float32)
        drawn = tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int32)[:, 0]
        return tf.cast(drawn, tf.float32) / (self.levels - 1)

    def draw_into(self, canvas, logits, seed, step):
        """``canvas`` (N, H, W, C) with raster step ``step`` (one channel of one pixel) drawn
        by ``draw_level`` from its (N,) or (N, levels) logits."""
        height, width, channels = self.image_shape
        value = self.draw_level(tf.cast(logits, tf.float32), seed, step)
        where = tf.reshape(tf.one_hot(step, height * width * channels, dtype=tf.float32), (1, height, width, channels))
        return canvas + value[:, None, None, None] * where

    def sample_graph(self, seed, num=None, labels=None):
        """TensorFlow ops drawing ``num`` images (or one per label) pixel by pixel with the
        stateless seed ``seed``: each family's own sampler. Returns (N, H, W, C) float32
        images in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} defines no sampler.")

    def _sampler(self):
        """The compiled sampler: ``(seed, num)`` or ``(seed, labels)`` -> images."""
        if "sample" not in self._samplers:
            seed_spec = tf.TensorSpec((), tf.int64)
            if self.conditional:
                fn = tf.function(lambda seed, labels: self.sample_graph(seed, labels=labels),
                                 input_signature=[seed_spec, tf.TensorSpec((None,), tf.int32)])
            else:
                fn = tf.function(lambda seed, num: self.sample_graph(seed, num=num),
                                 input_signature=[seed_spec, tf.TensorSpec((), tf.int32)])
            self._samplers["sample"] = fn
        return self._samplers["sample"]

    def _draw(self, num, labels, z, seed):
        """``num`` images (or one per label) from the compiled sampler; ``sample`` and
        ``generate`` (``keras_gen.base.GenerativeModel``) call this."""
        seed = tf.constant(seed, tf.int64)
        if labels is None:
            return self._sampler()(seed, tf.constant(num, tf.int32)).numpy()
        return self._sampler()(seed, tf.constant(labels, tf.int32)).numpy()

    def get_config(self):
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "image_shape": list(self.image_shape),
            "levels": self.levels,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def exact_nll(model, data, batch_size=256, marginal=False):
    """The exact test negative log-likelihood of a PixelCNN or PixelRNN, per image.

    Args:
        model: a ``PixelCNN`` or ``PixelRNN`` (an ``AutoregressiveModel``).
        data: a ``tf.data.Dataset`` of image batches (``(images, labels)`` for a
            conditional model; an unconditional one ignores dataset labels), a numpy
            array of images or an ``(images, labels)`` tuple.
        batch_size: images per forward pass for numpy data.
        marginal: for a conditional model, also -log p(x) = -log (1/K) sum_y p(x | y),
            the class-mixture likelihood with a uniform prior over the K classes
            (exact too; K forward passes per image).

    Returns:
        A dict: ``nll`` (mean -log p(x) in nats per image; -log p(x | y) when
        conditional), ``nll_std_error`` (its standard error over images),
        ``bits_per_dim``, ``num_images``, ``levels``, ``conditional``; with ``marginal``,
        ``marginal_nll`` and ``marginal_bits_per_dim``.
    """
    if not isinstance(model, AutoregressiveModel):
        raise TypeError(f"model must be an autoregressive model (PixelCNN, PixelRNN), got {type(model).__name__}.")
    check_positive_int("batch_size", batch_size)
    if marginal and not model.conditional:
        raise ValueError("marginal=True needs a class-conditional PixelCNN; this one has num_classes=None.")
    if not isinstance(data, tf.data.Dataset):
        images, labels = model.check_data(data)
        data = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels)).batch(batch_size)
    model.check_data(data)
    step = tf.function(lambda images, labels: model.image_nll(images, labels, training=False))
    values, mixture = [], []
    for batch in data:
        images, labels = model._inputs(batch)
        values.append(keras.ops.convert_to_numpy(step(images, labels)))
        if marginal:
            by_class = [step(images, tf.fill(tf.shape(labels), k)) for k in range(model.num_classes)]
            log_p = -tf.stack(by_class, axis=1)
            mixture.append(-(tf.reduce_logsumexp(log_p, axis=1) - math.log(model.num_classes)).numpy())
    values = np.concatenate(values)
    if not np.isfinite(values).all():
        raise FloatingPointError("the likelihood came out NaN or inf: is the model diverged?")
    mean = float(values.mean())
    result = {
        "nll": mean,
        "nll_std_error": float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan"),
        "bits_per_dim": float(bits_per_dim(mean, model.image_shape)),
        "num_images": int(len(values)),
        "levels": model.levels,
        "conditional": model.conditional,
    }
    if marginal:
        result["marginal_nll"] = float(np.concatenate(mixture).mean())
        result["marginal_bits_per_dim"] = float(bits_per_dim(result["marginal_nll"], model.image_shape))
    return result


def quantize(images, levels=MAX_LEVELS):
    """Maps images in [0, 1] to the level grid k / (levels - 1), k = round(x * (levels - 1)).

    For 8-bit data loaded as k / 255 floats and ``levels=256`` this is exact (the
    levels come back as they were stored).
    """
    check_levels(levels)
    images = np.asarray(images, np.float32)
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(f"images must lie in [0, 1], got [{images.min():g}, {images.max():g}].")
    return (np.round(images * (levels - 1)) / (levels - 1)).astype(np.float32)
