"""PixelCNN: the autoregressive family, with an exact likelihood and a compiled sampler.

p(x) = prod_i p(x_i | x_1, ..., x_{i-1}), pixels in raster order (channels in order
within a pixel). Masked convolutions (``keras_gen.layers.MaskedConv2D``) make the output
at pixel i depend on earlier pixels only, so one forward pass gives every conditional
and the exact negative log-likelihood, which ``fit`` minimises. Generation is
sequential: one pass per pixel (and channel), run here inside one ``tf.function``
``while`` loop on the window of the canvas that the pixel can see.

Binary images (``levels=2``) get one Bernoulli logit per pixel; ``levels`` > 2 (256 for
8-bit images) a softmax over the levels. Images go in and come out in [0, 1]: level k of
L is the value k / (L - 1).

Example:
    >>> model = build_pixelcnn(levels=2)
    >>> model.fit(load("mnist", binarize="static"), epochs=10)
    >>> exact_nll(model, load("mnist", split="test", binarize="static"))
    {'nll': ..., 'bits_per_dim': ..., 'num_images': 2000, ...}
    >>> images = model.sample(16, seed=0)        # the same seed gives the same images
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen.base import GenerativeModel
from keras_gen.layers import ClassConditioning, MaskedConv2D
from keras_gen.utils import (
    assert_labels_in_range,
    bits_per_dim,
    check_input_shape,
    check_num_classes,
    check_positive_int,
    is_int,
    split_batch,
)

MAX_LEVELS = 256
LEVEL_TOLERANCE = 1e-3  # |x * (L - 1) - round(x * (L - 1))| allowed for an image on the level grid
# Layers that act on each position alone: with MaskedConv2D they keep a network causal
# and let the sampler run it on a window of the canvas with the same result.
POINTWISE_LAYERS = (keras.layers.InputLayer, layers.Activation, layers.ReLU, layers.Add, layers.Multiply,
                    layers.Concatenate, ClassConditioning)


def _check_levels(levels):
    if not is_int(levels) or not 2 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be an integer in [2, {MAX_LEVELS}] (2: binary images, 256: 8-bit), "
                         f"got {levels!r}.")


def receptive_field(network):
    """``(rows, columns)``: how far up, and left or right, the output at a pixel can see.

    The largest sum of the kernels' half-sizes along any path through the network's
    ``MaskedConv2D`` layers. Raises a ValueError when the network holds a layer that
    mixes positions other than ``MaskedConv2D``: it would break causality (and the
    sampler's windows).
    """
    memo = {}

    def reach(tensor):
        operation, node_index, _ = tensor._keras_history
        key = (id(operation), node_index)
        if key not in memo:
            if isinstance(operation, MaskedConv2D):
                own = (operation.kernel_size[0] // 2, operation.kernel_size[1] // 2)
            elif isinstance(operation, POINTWISE_LAYERS):
                own = (0, 0)
            else:
                raise ValueError(
                    f"a PixelCNN network may hold MaskedConv2D and per-position layers only "
                    f"({', '.join(t.__name__ for t in POINTWISE_LAYERS)}); layer {operation.name!r} is a "
                    f"{type(operation).__name__}."
                )
            parents = [reach(t) for t in operation._inbound_nodes[node_index].input_tensors]
            memo[key] = tuple(o + max((p[i] for p in parents), default=0) for i, o in enumerate(own))
        return memo[key]

    return reach(network.outputs[0])


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelCNN(GenerativeModel):
    """An autoregressive image model trained by maximum likelihood with ``fit``.

    Args:
        network: a Functional model from ``image`` (N, h, w, C) in [0, 1] [and ``label``
            (N,) int32] to logits (N, h, w, C) for ``levels=2`` or (N, h, w, C * levels),
            built from ``MaskedConv2D`` and per-position layers (``build_pixelcnn``).
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
        _check_levels(levels)
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
        self.receptive_field = receptive_field(network)
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
        return {m.name: m.result() for m in self.metrics}

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

    def sample_graph(self, seed, num=None, labels=None):
        """TensorFlow ops drawing images pixel by pixel (use inside a ``tf.function``).

        Each step runs the network on the rows and columns the current pixel can see
        (``receptive_field``): the same conditional as on the whole canvas, at a fraction
        of the cost. Step i draws with the stateless seed ``(seed, i)``.

        Args:
            seed: int64 scalar tensor.
            num: int32 scalar tensor (unconditional model).
            labels: (N,) int32 tensor (conditional model).

        Returns:
            (N, H, W, C) float32 images in [0, 1].
        """
        height, width, channels = self.image_shape
        up, side = self.receptive_field
        if self.conditional:
            labels = assert_labels_in_range(labels, self.num_classes)
            num = tf.shape(labels)[0]
        steps = height * width * channels
        seed = tf.cast(seed, tf.int64)

        def body(i, canvas):
            row, column, channel = i // (width * channels), (i // channels) % width, i % channels
            top, left = tf.maximum(0, row - up), tf.maximum(0, column - side)
            window = canvas[:, top:row + 1, left:tf.minimum(width, column + side + 1), :]
            logits = tf.cast(self.logits(window, labels, training=False)[:, row - top, column - left, channel],
                             tf.float32)
            step_seed = tf.stack([seed, tf.cast(i, tf.int64)])
            if self.levels == 2:
                value = tf.cast(tf.random.stateless_uniform(tf.shape(logits), step_seed) < tf.sigmoid(logits),
                                tf.float32)
            else:
                drawn = tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int32)[:, 0]
                value = tf.cast(drawn, tf.float32) / (self.levels - 1)
            where = tf.reshape(tf.one_hot(i, steps, dtype=tf.float32), (1, height, width, channels))
            return i + 1, canvas + value[:, None, None, None] * where

        canvas = tf.zeros(tf.stack([num, height, width, channels]), tf.float32)
        _, canvas = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), canvas))
        return canvas

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
    """The exact test negative log-likelihood of a PixelCNN, per image.

    Args:
        model: a ``PixelCNN``.
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
    if not isinstance(model, PixelCNN):
        raise TypeError(f"model must be a PixelCNN, got {type(model).__name__}.")
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
    _check_levels(levels)
    images = np.asarray(images, np.float32)
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(f"images must lie in [0, 1], got [{images.min():g}, {images.max():g}].")
    return (np.round(images * (levels - 1)) / (levels - 1)).astype(np.float32)


ARCHITECTURES = ("pixelcnn", "gated")


def _gated(f, g, name):
    """The gated activation tanh(f) . sigmoid(g) of Gated PixelCNN."""
    return layers.Multiply(name=f"{name}_gated")([layers.Activation("tanh", name=f"{name}_tanh")(f),
                                                  layers.Activation("sigmoid", name=f"{name}_sigmoid")(g)])


def _gated_stacks(image, conv, filters, num_layers, kernel_size, first_kernel_size, residual, channels):
    """Gated PixelCNN's two stacks (van den Oord et al. 2016b), returning the horizontal
    stack's last features. Layer i (0: on the image, with ``first_kernel_size``):

    - vertical stack: a k x k convolution masked to the rows above (``"VA"`` on the
      image, ``"VB"`` after), so its features at a pixel hold the rows above only, in a
      cone that widens by k // 2 columns per layer on both sides;
    - horizontal stack: a 1 x k convolution on its own row, left of the pixel (mask
      ``"A"`` on the image, ``"B"`` after), plus a 1x1 convolution of the vertical
      stack's pre-activations (which see nothing of the current row), a gated
      activation per stack, a 1x1 convolution and a skip connection (``residual``,
      from layer 1).

    Together they see every earlier pixel in the cone: no blind spot.
    """
    vertical, horizontal = image, image
    for i in range(num_layers + 1):
        size, first = (first_kernel_size, True) if i == 0 else (kernel_size, False)
        v_f = conv(vertical, size, "VA" if first else "VB", f"v{i}_f")
        v_g = conv(vertical, size, "VA" if first else "VB", f"v{i}_g")
        h_f = conv(horizontal, (1, size), "A" if first else "B", f"h{i}_f")
        h_g = conv(horizontal, (1, size), "A" if first else "B", f"h{i}_g")
        v_both = layers.Concatenate(name=f"v{i}_pre_activation")([v_f, v_g])
        # The vertical stack's pre-activations join the horizontal stack's through 1x1 convolutions.
        link_f = MaskedConv2D(filters, 1, mask_type="VB", name=f"v{i}_to_h_f")(v_both)
        link_g = MaskedConv2D(filters, 1, mask_type="VB", name=f"v{i}_to_h_g")(v_both)
        h_f = layers.Add(name=f"h{i}_f_with_v")([h_f, link_f])
        h_g = layers.Add(name=f"h{i}_g_with_v")([h_g, link_g])
        vertical = _gated(v_f, v_g, f"v{i}")
        out = MaskedConv2D(filters, 1, mask_type="B", color_channels=channels, name=f"h{i}_1x1")(
            _gated(h_f, h_g, f"h{i}"))
        horizontal = layers.Add(name=f"h{i}_residual")([horizontal, out]) if residual and not first else out
    return horizontal


def build_pixelcnn(
    input_shape=(28, 28, 1),
    levels=2,
    filters=32,
    num_layers=8,
    kernel_size=3,
    first_kernel_size=7,
    gated=False,
    residual=True,
    head_filters=None,
    num_classes=None,
    optimizer="adam",
    architecture="pixelcnn",
    name="pixelcnn",
):
    """Builds and compiles a PixelCNN (van den Oord et al. 2016) or a Gated PixelCNN
    with two stacks (van den Oord et al. 2016b).

    ``architecture="pixelcnn"``: a ``first_kernel_size`` mask-A convolution on the
    image; ``num_layers`` blocks, each a ``kernel_size`` mask-B convolution with ReLU
    and a 1x1 convolution, with a skip connection around the block (``residual``). With
    ``gated``, a block's convolution is the gated activation tanh(W_f * x) .
    sigmoid(W_g * x) instead of ReLU(W * x). Masked convolutions stacked this way have a
    blind spot: pixels above and to the right that no path reaches.

    ``architecture="gated"``: Gated PixelCNN's vertical and horizontal stacks (see
    ``_gated_stacks``), gated activations throughout (``gated`` is implied), a layer on
    the image and ``num_layers`` more: no blind spot.

    Both end with a 1x1 ReLU layer of ``head_filters`` and a 1x1 layer of logits. With
    ``num_classes``, every masked convolution of the blocks or stacks gets a learned
    per-class bias (``ClassConditioning``), as in conditional Gated PixelCNN.

    Args:
        input_shape: ``(H, W, C)`` of the images; C > 1 orders channels in a pixel.
        levels: values per pixel: 2 (binarized, Bernoulli output) up to 256 (softmax).
        filters: feature maps of every layer (>= C).
        num_layers: number of blocks; the output sees ``first_kernel_size // 2 +
            num_layers * (kernel_size // 2)`` rows up.
        kernel_size, first_kernel_size: odd kernel sizes.
        gated, residual: see above.
        head_filters: width of the 1x1 output layer (default: ``filters``).
        num_classes: None, or the number of classes for a class-conditional model.
        optimizer: optimizer for ``compile``.
        architecture: ``"pixelcnn"`` or ``"gated"`` (two stacks, no blind spot).

    Returns:
        A compiled ``PixelCNN`` with ``.network`` (image [, label] -> logits).

    Example:
        >>> model = build_pixelcnn(levels=2, num_classes=10, gated=True)
        >>> model.fit(load("mnist", labels=True, binarize="static"), epochs=10)
        >>> sevens = model.generate([7] * 8, seed=1)
    """
    height, width, channels = check_input_shape(input_shape)
    _check_levels(levels)
    for arg, value in (("filters", filters), ("num_layers", num_layers), ("kernel_size", kernel_size),
                       ("first_kernel_size", first_kernel_size)):
        check_positive_int(arg, value)
    head_filters = filters if head_filters is None else head_filters
    check_positive_int("head_filters", head_filters)
    if kernel_size % 2 == 0 or first_kernel_size % 2 == 0:
        raise ValueError(f"kernel sizes must be odd, got kernel_size={kernel_size}, "
                         f"first_kernel_size={first_kernel_size}.")
    if min(filters, head_filters) < channels:
        raise ValueError(f"filters and head_filters must be >= the image's {channels} channels, "
                         f"got {filters} and {head_filters}.")
    if height < 2 and width < 2:
        raise ValueError(f"input_shape {input_shape!r} has a single pixel: nothing to model autoregressively.")
    check_num_classes(num_classes, allow_none=True)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")

    image = keras.Input((None, None, channels), name="image")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None

    def conv(x, size, mask_type, layer_name, n=filters):
        y = MaskedConv2D(n, size, mask_type=mask_type, color_channels=channels, name=layer_name)(x)
        return y if label is None else ClassConditioning(num_classes, name=f"{layer_name}_class")([y, label])

    if architecture == "gated":
        x = _gated_stacks(image, conv, filters, num_layers, kernel_size, first_kernel_size, residual, channels)
    else:
        x = conv(image, first_kernel_size, "A", "conv_a")
    for i in range(num_layers if architecture == "pixelcnn" else 0):
        if gated:
            h = _gated(conv(x, kernel_size, "B", f"block_{i}_conv_f"), conv(x, kernel_size, "B", f"block_{i}_conv_g"),
                       f"block_{i}")
        else:
            h = layers.Activation("relu", name=f"block_{i}_relu")(conv(x, kernel_size, "B", f"block_{i}_conv"))
        h = MaskedConv2D(filters, 1, mask_type="B", color_channels=channels, name=f"block_{i}_1x1")(h)
        x = layers.Add(name=f"block_{i}_residual")([x, h]) if residual else h
    # (No ReLU right after an Add: Grappler's remapper fails on that pattern inside the
    # sampler's while loop and logs an error.)
    x = MaskedConv2D(head_filters, 1, mask_type="B", color_channels=channels, activation="relu", name="head")(x)
    logits = MaskedConv2D(channels if levels == 2 else channels * levels, 1, mask_type="B",
                          color_channels=channels, dtype="float32", name="logits")(x)
    network = keras.Model([image] if label is None else [image, label], logits, name=f"{name}_network")
    model = PixelCNN(network, (height, width, channels), levels=levels, num_classes=num_classes, name=name)
    model.compile(optimizer=optimizer)
    return model
