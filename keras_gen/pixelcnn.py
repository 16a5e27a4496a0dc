"""PixelCNN and Gated PixelCNN: autoregressive models (``keras_gen.autoregressive``)
whose networks are masked convolutions.

Masked convolutions (``keras_gen.layers.MaskedConv2D``) make the output at pixel i depend
on earlier pixels only, so one forward pass gives every conditional and the exact
negative log-likelihood (``AutoregressiveModel``). Generation is sequential: one pass
per pixel (and channel), run here inside one ``tf.function`` ``while`` loop on the
window of the canvas that the pixel can see.

Example:
    >>> model = build_pixelcnn(levels=2)
    >>> model.fit(load("mnist", binarize="static"), epochs=10)
    >>> exact_nll(model, load("mnist", split="test", binarize="static"))   # keras_gen.autoregressive
    {'nll': ..., 'bits_per_dim': ..., 'num_images': 2000, ...}
    >>> images = model.sample(16, seed=0)        # the same seed gives the same images
"""

import keras
import tensorflow as tf
from keras import layers

from keras_gen.autoregressive import AutoregressiveModel, check_levels
from keras_gen.layers import ClassConditioning, MaskedConv2D
from keras_gen.utils import (
    assert_labels_in_range,
    check_input_shape,
    check_num_classes,
    check_positive_int,
)

# Layers that act on each position alone: with MaskedConv2D they keep a network causal
# and let the sampler run it on a window of the canvas with the same result.
POINTWISE_LAYERS = (keras.layers.InputLayer, layers.Activation, layers.ReLU, layers.Add, layers.Multiply,
                    layers.Concatenate, ClassConditioning)


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
class PixelCNN(AutoregressiveModel):
    """PixelCNN: an ``AutoregressiveModel`` whose network is built from ``MaskedConv2D``
    and per-position layers (``build_pixelcnn``), sampled on windows of the canvas.

    Args:
        network: a Functional model from ``image`` (N, h, w, C) in [0, 1] [and ``label``
            (N,) int32] to logits (N, h, w, C) for ``levels=2`` or (N, h, w, C * levels).
        image_shape, levels, num_classes: see ``AutoregressiveModel``.
    """

    def __init__(self, network, image_shape, levels=2, num_classes=None, **kwargs):
        super().__init__(network, image_shape, levels=levels, num_classes=num_classes, **kwargs)
        self.receptive_field = receptive_field(network)

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
            return i + 1, self.draw_into(canvas, logits, seed, i)

        canvas = tf.zeros(tf.stack([num, height, width, channels]), tf.float32)
        _, canvas = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), canvas))
        return canvas


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
    check_levels(levels)
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
