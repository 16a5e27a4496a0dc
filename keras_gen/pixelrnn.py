"""PixelRNN (van den Oord et al. 2016a): autoregressive image models whose layers are
LSTMs over the image (``keras_gen.autoregressive``). Built: the Row LSTM.

A Row LSTM network: a 7x7 mask-A convolution on the image; then ``layers`` Row LSTM
layers, each computing its input-to-state part with masked 1 x k convolutions over the
whole feature map (one per gate, so that colour groups stay aligned) and its
state-to-state part with a k-wide convolution along the row above's hidden state,
processing the image row by row from the top; a residual connection around each layer
(a 1x1 convolution of the hidden state added to the layer's input); 1x1 output layers.
The output at a pixel (r, c) sees a triangle above it: in row r - d (d >= 1) every column
up to c + d + first_kernel_size // 2 - 1 (with k = 3 the state of the row above reaches one
column further per row), in its own row the pixels to its left (tested by gradients). It
misses the rest of the rows above on the right, which the Diagonal BiLSTM would see.

Sampling carries each layer's LSTM state from row to row: a pixel's conditional needs
the network on its own row only (and the first convolution's few rows above), not on
the whole image.

Example:
    >>> model = build_pixelrnn(levels=2)
    >>> model.fit(load("mnist", binarize="static"), epochs=5)
    >>> exact_nll(model, load("mnist", split="test", binarize="static"))
    >>> images = model.sample(16, seed=0)
"""

import keras
import tensorflow as tf
from keras import layers, ops

from keras_gen.autoregressive import AutoregressiveModel, check_levels
from keras_gen.layers import ClassConditioning, MaskedConv2D
from keras_gen.utils import assert_labels_in_range, check_input_shape, check_num_classes, check_positive_int

KINDS = ("row_lstm",)
GATES = ("i", "f", "o", "g")  # input, forget, output gates and the cell's candidate


@keras.saving.register_keras_serializable(package="keras_gen")
class RowLSTM(layers.Layer):
    """The recurrent part of a Row LSTM layer: the rows of a feature map from the top,
    each row's state computed at once from the row above's.

    Called on the input-to-state maps ``(N, H, W, 4 * units)`` (gates in the order
    input, forget, output, candidate); for row r:
    ``[i, f, o, g] = inputs_r + K_ss * h_{r-1}`` (a ``kernel_size``-wide convolution
    along the row), ``c_r = sigmoid(f) c_{r-1} + sigmoid(i) tanh(g)``,
    ``h_r = sigmoid(o) tanh(c_r)``; h and c start at zero above the image.
    Returns the hidden states ``(N, H, W, units)``.

    Args:
        units: features of the hidden state.
        kernel_size: width of the state-to-state convolution (odd; the paper's k = 3).
    """

    def __init__(self, units, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (centred on the pixel), got {kernel_size}.")
        self.units, self.kernel_size = units, kernel_size

    def build(self, input_shape):
        if input_shape[-1] != 4 * self.units:
            raise ValueError(f"RowLSTM({self.units}) takes 4 x {self.units} input-to-state features, got "
                             f"{input_shape[-1]}.")
        self.state_kernel = self.add_weight(shape=(self.kernel_size, self.units, 4 * self.units),
                                            initializer="glorot_uniform", name="state_kernel")

    def step(self, gates, state):
        """One row: ``gates`` (N, W, 4 * units) input-to-state, ``state`` the row above's
        ``(h, c)``, (N, W, units) each. Returns the row's ``(h, c)``."""
        h, c = state
        z = gates + ops.conv(h, ops.cast(self.state_kernel, h.dtype), padding="same")
        i, f, o, g = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        return ops.sigmoid(o) * ops.tanh(c), c

    def zero_state(self, gates):
        """The state above the first row for row maps like ``gates`` (N, W, 4 * units)."""
        zeros = ops.zeros_like(gates[..., :self.units])
        return zeros, zeros

    def call(self, inputs):
        rows = tf.transpose(inputs, (1, 0, 2, 3))  # (H, N, W, 4 units): scan over the rows
        hidden, _ = tf.scan(lambda state, gates: self.step(gates, state), rows, initializer=self.zero_state(rows[0]))
        return tf.transpose(hidden, (1, 0, 2, 3))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelRNN(AutoregressiveModel):
    """PixelRNN: an ``AutoregressiveModel`` whose network ``build_pixelrnn`` makes, with a
    sampler that carries the LSTM states from row to row.

    Args:
        network: the Functional model of ``build_pixelrnn`` (its layer names are what the
            sampler runs: ``conv_a``, ``row<l>_<gate>``, ``row<l>_lstm``, ``row<l>_1x1``,
            ``head``, ``logits``, and ``<name>_class`` for class conditioning).
        image_shape, levels, num_classes: see ``AutoregressiveModel``.
        kind: ``"row_lstm"``.
    """

    def __init__(self, network, image_shape, levels=2, num_classes=None, kind="row_lstm", **kwargs):
        super().__init__(network, image_shape, levels=levels, num_classes=num_classes, **kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
        self.kind = kind
        self.lstm_layers = [layer for layer in network.layers if isinstance(layer, RowLSTM)]
        self.first_reach = network.get_layer("conv_a").kernel_size[0] // 2  # rows the first convolution sees

    def _conv(self, name, x, labels):
        y = self.network.get_layer(name)(x)
        return y if labels is None else self.network.get_layer(f"{name}_class")([y, labels])

    def row_logits(self, window, labels, states):
        """The network on one row, given the rows above through ``states``.

        Args:
            window: (N, rows, W, C) canvas rows ending with the row (enough rows above
                for the first convolution).
            labels: (N,) int32 or None.
            states: each Row LSTM layer's ``(h, c)`` of the row above.

        Returns:
            ``(logits, states)``: the row's logits (N, W, C [* levels]) and the row's states.
        """
        x = self._conv("conv_a", window, labels)[:, -1:]  # (N, 1, W, hidden)
        new_states = []
        for index, (lstm, state) in enumerate(zip(self.lstm_layers, states)):
            gates = ops.concatenate([self._conv(f"row{index}_{gate}", x, labels) for gate in GATES], axis=-1)
            state = lstm.step(gates[:, 0], state)
            new_states.append(state)
            x = x + self.network.get_layer(f"row{index}_1x1")(state[0][:, None])
        logits = self.network.get_layer("logits")(self.network.get_layer("head")(x))[:, 0]
        return logits, new_states

    def sample_graph(self, seed, num=None, labels=None):
        """TensorFlow ops drawing images pixel by pixel, row by row (use inside a
        ``tf.function``). Each pixel runs the network on its own row only, from the LSTM
        states of the row above; a finished row's states are carried to the next. Step i
        of the raster order draws with the stateless seed ``(seed, i)``: the same images
        as running the whole network for every pixel.

        Args:
            seed: int64 scalar tensor; num: int32 scalar (unconditional); labels: (N,)
                int32 (conditional).

        Returns:
            (N, H, W, C) float32 images in [0, 1].
        """
        height, width, channels = self.image_shape
        if self.conditional:
            labels = assert_labels_in_range(labels, self.num_classes)
            num = tf.shape(labels)[0]
        states = [(tf.zeros(tf.stack([num, width, lstm.units])), tf.zeros(tf.stack([num, width, lstm.units])))
                  for lstm in self.lstm_layers]
        per_row = width * channels

        def row_loop(row, canvas, states):
            top = tf.maximum(0, row - self.first_reach)

            def pixel(j, canvas):
                column, channel = j // channels, j % channels
                logits, _ = self.row_logits(canvas[:, top:row + 1], labels, states)
                if self.levels > 2:
                    logits = tf.reshape(logits, (-1, width, channels, self.levels))
                value = self.draw_level(tf.cast(logits[:, column, channel], tf.float32), seed, row * per_row + j)
                where = tf.reshape(tf.one_hot(row * per_row + j, height * per_row, dtype=tf.float32),
                                   (1, height, width, channels))
                return j + 1, canvas + value[:, None, None, None] * where

            canvas = tf.while_loop(lambda j, _: j < per_row, pixel, (tf.constant(0), canvas))[1]
            _, states = self.row_logits(canvas[:, top:row + 1], labels, states)  # the finished row's states
            return row + 1, canvas, states

        canvas = tf.zeros(tf.stack([num, height, width, channels]), tf.float32)
        return tf.while_loop(lambda row, *_: row < height, row_loop, (tf.constant(0), canvas, states))[1]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def build_pixelrnn(input_shape=(28, 28, 1), kind="row_lstm", layers_count=7, hidden=16, levels=2, num_classes=None,
                   kernel_size=3, first_kernel_size=7, optimizer="adam", name="pixelrnn"):
    """Builds and compiles a PixelRNN (van den Oord et al. 2016a); see the module's
    docstring for the network.

    Args:
        input_shape: ``(H, W, C)`` of the images; C > 1 orders channels in a pixel.
        kind: ``"row_lstm"``.
        layers_count: Row LSTM layers (the paper's MNIST models: 7).
        hidden: features of every layer and LSTM state (>= C).
        levels: values per pixel: 2 (binarized, Bernoulli output) up to 256 (softmax).
        num_classes: None, or the number of classes: a learned per-class bias in every
            masked convolution (``ClassConditioning``).
        kernel_size: k of the input-to-state (1 x k) and state-to-state convolutions (odd).
        first_kernel_size: the first mask-A convolution's size (odd).
        optimizer: optimizer for ``compile``.

    Returns:
        A compiled ``PixelRNN`` with ``.network`` (image [, label] -> logits).
    """
    height, width, channels = check_input_shape(input_shape)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    check_levels(levels)
    for arg, value in (("layers_count", layers_count), ("hidden", hidden), ("kernel_size", kernel_size),
                       ("first_kernel_size", first_kernel_size)):
        check_positive_int(arg, value)
    if kernel_size % 2 == 0 or first_kernel_size % 2 == 0:
        raise ValueError(f"kernel sizes must be odd, got kernel_size={kernel_size}, "
                         f"first_kernel_size={first_kernel_size}.")
    if hidden < channels:
        raise ValueError(f"hidden must be >= the image's {channels} channels, got {hidden}.")
    check_num_classes(num_classes, allow_none=True)

    image = keras.Input((None, None, channels), name="image")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None

    def conv(x, size, mask_type, layer_name):
        y = MaskedConv2D(hidden, size, mask_type=mask_type, color_channels=channels, name=layer_name)(x)
        return y if label is None else ClassConditioning(num_classes, name=f"{layer_name}_class")([y, label])

    x = conv(image, first_kernel_size, "A", "conv_a")
    for index in range(layers_count):
        gates = layers.Concatenate(name=f"row{index}_gates")(
            [conv(x, (1, kernel_size), "B", f"row{index}_{gate}") for gate in GATES])
        h = RowLSTM(hidden, kernel_size, name=f"row{index}_lstm")(gates)
        out = MaskedConv2D(hidden, 1, mask_type="B", color_channels=channels, name=f"row{index}_1x1")(h)
        x = layers.Add(name=f"row{index}_residual")([x, out])
    x = MaskedConv2D(hidden, 1, mask_type="B", color_channels=channels, activation="relu", name="head")(x)
    logits = MaskedConv2D(channels if levels == 2 else channels * levels, 1, mask_type="B", color_channels=channels,
                          dtype="float32", name="logits")(x)
    network = keras.Model([image] if label is None else [image, label], logits, name=f"{name}_network")
    model = PixelRNN(network, (height, width, channels), levels=levels, num_classes=num_classes, kind=kind, name=name)
    model.compile(optimizer=optimizer)
    return model
