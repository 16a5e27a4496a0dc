"""PixelRNN (van den Oord et al. 2016a): autoregressive image models whose layers are
LSTMs over the image (``keras_gen.autoregressive``): the Row LSTM and the Diagonal BiLSTM.

A Row LSTM network: a 7x7 mask-A convolution on the image; then ``layers`` Row LSTM
layers, each computing its input-to-state part with masked 1 x k convolutions over the
whole feature map (one per gate, so that colour groups stay aligned) and its
state-to-state part with a k-wide convolution along the row above's hidden state,
processing the image row by row from the top; a residual connection around each layer
(a 1x1 convolution of the hidden state added to the layer's input); 1x1 output layers.
The output at a pixel (r, c) sees a triangle above it: in row r - d (d >= 1) every column
up to c + d + first_kernel_size // 2 - 1 (with k = 3 the state of the row above reaches one
column further per row), in its own row the pixels to its left (tested by gradients). It
misses the rest of the rows above on the right, which the Diagonal BiLSTM sees.

A Diagonal BiLSTM network: the same 7x7 mask-A convolution; then ``layers`` Diagonal
BiLSTM layers, each with two directions. The left-to-right one computes its
input-to-state part with masked 1x1 convolutions (one per gate) and its state-to-state
part with a 2x1 convolution over the image skewed so that diagonals become columns: the
state at (r, c) comes from (r, c - 1) and (r - 1, c), so it covers every pixel above and
to the left. The right-to-left one runs on the mirrored image and its output moves down
one row, so that at (r, c) it brings the rows above from column c rightwards. Since the
row above is entirely in the past, this direction reads the layer's input and the image
unmasked (a plain 1x1 convolution of both): without the image, the last pixels of the
row above would reach no output of the row below left of them. The sum of both
directions goes through a masked 1x1 convolution added to the layer's input (residual).
Every previous pixel is in the receptive field (tested by gradients).

Sampling carries the LSTM states instead of running the network on the whole image for
every pixel. Row LSTM: each layer's state from row to row, so a pixel's conditional needs
the network on its own row only. Diagonal BiLSTM: each layer's left-to-right state from
pixel to pixel and from the row above, so a pixel's conditional needs one LSTM step per
layer; the right-to-left direction runs once per finished row.

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

KINDS = ("row_lstm", "diagonal_bilstm")
DIRECTIONS = ("left_to_right", "right_to_left")
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


def skew(x):
    """(N, H, W, F) -> (N, H, W + H - 1, F), row r moved r columns right (zeros around):
    the diagonals of ``x`` become columns."""
    shape = tf.shape(x)
    n, height, width, features = shape[0], shape[1], shape[2], shape[3]
    padded = tf.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]])  # each row followed by H zeros
    flat = tf.reshape(padded, tf.stack([n, height * (width + height), features]))[:, :height * (width + height - 1)]
    return tf.reshape(flat, tf.stack([n, height, width + height - 1, features]))


def unskew(x, width):
    """The inverse of ``skew``: (N, H, W + H - 1, F) -> (N, H, W, F)."""
    shape = tf.shape(x)
    n, height, skewed, features = shape[0], shape[1], shape[2], shape[3]
    flat = tf.pad(tf.reshape(x, tf.stack([n, height * skewed, features])), [[0, 0], [0, height], [0, 0]])
    return tf.reshape(flat, tf.stack([n, height, skewed + 1, features]))[:, :, :width]


@keras.saving.register_keras_serializable(package="keras_gen")
class DiagonalLSTM(layers.Layer):
    """One direction of a Diagonal BiLSTM layer: an LSTM whose state at pixel (r, c) comes
    from (r, c - 1) and (r - 1, c), computed one diagonal at a time.

    Called on the input-to-state maps ``(N, H, W, 4 * units)`` (gates in the order input,
    forget, output, candidate):
    ``[i, f, o, g] = inputs(r, c) + K_left h(r, c - 1) + K_up h(r - 1, c)`` (the 2x1
    state-to-state convolution on the skewed map), ``c(r, c) = sigmoid(f) c(r, c - 1) +
    sigmoid(i) tanh(g)``, ``h = sigmoid(o) tanh(c)``; zeros outside the image. The map is
    skewed so that each column of the skewed map is one diagonal, whose pixels are
    computed at once. ``direction="right_to_left"`` runs on the mirrored image (state from
    (r, c + 1) and (r - 1, c)) and moves its output down one row: at (r, c) it returns the
    hidden state of (r - 1, c). Returns ``(N, H, W, units)``.

    Args:
        units: features of the hidden state.
        direction: ``"left_to_right"`` or ``"right_to_left"``.
    """

    def __init__(self, units, direction="left_to_right", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
        self.units, self.direction = units, direction

    def build(self, input_shape):
        if input_shape[-1] != 4 * self.units:
            raise ValueError(f"DiagonalLSTM({self.units}) takes 4 x {self.units} input-to-state features, got "
                             f"{input_shape[-1]}.")
        # [0]: from the previous pixel of the row, [1]: from the pixel above.
        self.state_kernel = self.add_weight(shape=(2, self.units, 4 * self.units), initializer="glorot_uniform",
                                            name="state_kernel")

    def step(self, gates, left, up):
        """One LSTM step at a set of pixels: ``gates`` (..., 4 * units) input-to-state,
        ``left`` the ``(h, c)`` of the previous pixel in the direction's row order, ``up``
        the hidden state of the pixel above. Returns the pixels' ``(h, c)``."""
        h, c = left
        kernel = ops.cast(self.state_kernel, h.dtype)
        z = gates + ops.matmul(h, kernel[0]) + ops.matmul(up, kernel[1])
        i, f, o, g = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        return ops.sigmoid(o) * ops.tanh(c), c

    def call(self, inputs):
        width = tf.shape(inputs)[2]
        x = inputs if self.direction == "left_to_right" else tf.reverse(inputs, [2])
        columns = tf.transpose(skew(x), (2, 0, 1, 3))  # (W + H - 1, N, H, 4 units): one diagonal each
        zeros = tf.zeros_like(columns[0][..., :self.units])

        def diagonal(state, gates):  # the pixel above on the skewed map: the previous column, one row up
            return self.step(gates, state, tf.pad(state[0], [[0, 0], [1, 0], [0, 0]])[:, :-1])

        hidden, _ = tf.scan(diagonal, columns, initializer=(zeros, zeros))
        hidden = unskew(tf.transpose(hidden, (1, 2, 0, 3)), width)
        if self.direction == "left_to_right":
            return hidden
        return tf.pad(tf.reverse(hidden, [2]), [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]  # down one row

    def scan_row(self, gates, up):
        """One row in the direction's order (the sampler's right-to-left pass): ``gates``
        (N, W, 4 * units), ``up`` the row above's hidden states (N, W, units), both in
        image column order. Returns the row's hidden states (N, W, units), not moved down."""
        flip = self.direction == "right_to_left"
        columns = tf.transpose(tf.reverse(gates, [1]) if flip else gates, (1, 0, 2))
        ups = tf.transpose(tf.reverse(up, [1]) if flip else up, (1, 0, 2))
        zeros = tf.zeros_like(ups[0])
        hidden, _ = tf.scan(lambda state, column: self.step(column[0], state, column[1]), (columns, ups),
                            initializer=(zeros, zeros))
        hidden = tf.transpose(hidden, (1, 0, 2))
        return tf.reverse(hidden, [1]) if flip else hidden

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "direction": self.direction}


@keras.saving.register_keras_serializable(package="keras_gen")
class PixelRNN(AutoregressiveModel):
    """PixelRNN: an ``AutoregressiveModel`` whose network ``build_pixelrnn`` makes, with a
    sampler that carries the LSTM states from row to row.

    Args:
        network: the Functional model of ``build_pixelrnn`` (its layer names are what the
            samplers run: ``conv_a``, ``row<l>_<gate>``, ``row<l>_lstm``, ``row<l>_1x1``
            (Row LSTM) or ``diag<l>_<gate>``, ``diag<l>_l2r``, ``diag<l>_r2l_gates``,
            ``diag<l>_r2l``, ``diag<l>_1x1`` (Diagonal BiLSTM), ``head``, ``logits``, and
            ``<name>_class`` for class conditioning).
        image_shape, levels, num_classes: see ``AutoregressiveModel``.
        kind: ``"row_lstm"`` or ``"diagonal_bilstm"``.
    """

    def __init__(self, network, image_shape, levels=2, num_classes=None, kind="row_lstm", **kwargs):
        super().__init__(network, image_shape, levels=levels, num_classes=num_classes, **kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
        self.kind = kind
        recurrent = [layer for layer in network.layers if isinstance(layer, (RowLSTM, DiagonalLSTM))]
        self.lstm_layers = [layer for layer in recurrent if getattr(layer, "direction", "") != "right_to_left"]
        self.r2l_layers = [layer for layer in recurrent if getattr(layer, "direction", "") == "right_to_left"]
        self.first_reach = network.get_layer("conv_a").kernel_size[0] // 2  # rows the first convolution sees

    @property
    def state_dtype(self):
        """The LSTM states' dtype: the network's compute dtype (float16 under mixed precision)."""
        return self.network.get_layer("conv_a").compute_dtype

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
        """TensorFlow ops drawing images pixel by pixel (use inside a ``tf.function``),
        carrying the LSTM states (see the module's docstring). Step i of the raster order
        draws with the stateless seed ``(seed, i)``: the same images as running the whole
        network for every pixel.

        Args:
            seed: int64 scalar tensor; num: int32 scalar (unconditional); labels: (N,)
                int32 (conditional).

        Returns:
            (N, H, W, C) float32 images in [0, 1].
        """
        if self.conditional:
            labels = assert_labels_in_range(labels, self.num_classes)
            num = tf.shape(labels)[0]
        if self.kind == "diagonal_bilstm":
            return self._diagonal_sample_graph(seed, num, labels)
        return self._row_sample_graph(seed, num, labels)

    def _pixel_logits(self, logits, channel):
        """The logits of one channel from a pixel's (N, C [* levels]) logits."""
        if self.levels == 2:
            return logits[:, channel]
        return tf.reshape(logits, (-1, self.image_shape[-1], self.levels))[:, channel]

    def _row_sample_graph(self, seed, num, labels):
        """Row LSTM: each pixel runs the network on its own row from the states of the row
        above; a finished row's states are carried to the next."""
        height, width, channels = self.image_shape
        zeros = [tf.zeros(tf.stack([num, width, lstm.units]), self.state_dtype) for lstm in self.lstm_layers]
        states = [(state, state) for state in zeros]
        per_row = width * channels

        def row_loop(row, canvas, states):
            top = tf.maximum(0, row - self.first_reach)

            def pixel(j, canvas):
                logits, _ = self.row_logits(canvas[:, top:row + 1], labels, states)
                logits = self._pixel_logits(logits[:, j // channels], j % channels)
                return j + 1, self.draw_into(canvas, logits, seed, row * per_row + j)

            canvas = tf.while_loop(lambda j, _: j < per_row, pixel, (tf.constant(0), canvas))[1]
            _, states = self.row_logits(canvas[:, top:row + 1], labels, states)  # the finished row's states
            return row + 1, canvas, states

        canvas = tf.zeros(tf.stack([num, height, width, channels]), tf.float32)
        return tf.while_loop(lambda row, *_: row < height, row_loop, (tf.constant(0), canvas, states))[1]

    def _diagonal_sample_graph(self, seed, num, labels):
        """Diagonal BiLSTM: each pixel runs one left-to-right LSTM step per layer, from the
        states of the pixel to its left and of the pixel above; when a row is finished,
        each layer's right-to-left direction runs along it once, for the row below."""
        height, width, channels = self.image_shape
        per_row = width * channels
        dtype = self.state_dtype
        zeros = lambda features: tf.zeros(tf.stack([num, width, features]), dtype)  # noqa: E731
        units = [lstm.units for lstm in self.lstm_layers]
        features = self.network.get_layer("conv_a").filters

        def at(x):  # (N, F) -> (N, 1, 1, F): one pixel through a per-position layer
            return x[:, None, None]

        def row_loop(row, canvas, up, from_right):
            top = tf.maximum(0, row - self.first_reach)

            def pixel(j, canvas, row_h, row_c, inputs):
                column, channel = j // channels, j % channels
                has_left = tf.cast(column > 0, dtype)
                left = tf.maximum(column - 1, 0)
                x = self._conv("conv_a", canvas[:, top:row + 1], labels)[:, -1, column]
                row_h, row_c, inputs = list(row_h), list(row_c), list(inputs)
                here = tf.reshape(tf.one_hot(column, width), (1, width, 1)) > 0
                for index, lstm in enumerate(self.lstm_layers):
                    inputs[index] = tf.where(here, x[:, None], inputs[index])
                    gates = tf.concat([self._conv(f"diag{index}_{gate}", at(x), labels)[:, 0, 0] for gate in GATES], -1)
                    h, c = lstm.step(gates, (row_h[index][:, left] * has_left, row_c[index][:, left] * has_left),
                                     up[index][:, column])
                    row_h[index] = tf.where(here, h[:, None], row_h[index])
                    row_c[index] = tf.where(here, c[:, None], row_c[index])
                    x = x + self.network.get_layer(f"diag{index}_1x1")(at(h + from_right[index][:, column]))[:, 0, 0]
                logits = self.network.get_layer("logits")(self.network.get_layer("head")(at(x)))[:, 0, 0]
                canvas = self.draw_into(canvas, self._pixel_logits(logits, channel), seed, row * per_row + j)
                return j + 1, canvas, row_h, row_c, inputs

            start = (tf.constant(0), canvas, [zeros(u) for u in units], [zeros(u) for u in units],
                     [zeros(features) for _ in units])
            _, canvas, row_h, _, inputs = tf.while_loop(lambda j, *_: j < per_row, pixel, start)
            # The finished row, right to left, for the row below: its input and the image row.
            from_right = [
                lstm.scan_row(self._conv(f"diag{index}_r2l_gates",
                                         tf.concat([inputs[index], tf.cast(canvas[:, row], dtype)], -1)[:, None],
                                         labels)[:, 0],
                              from_right[index])
                for index, lstm in enumerate(self.r2l_layers)
            ]
            return row + 1, canvas, row_h, from_right

        canvas = tf.zeros(tf.stack([num, height, width, channels]), tf.float32)
        start = (tf.constant(0), canvas, [zeros(u) for u in units], [zeros(u) for u in units])
        return tf.while_loop(lambda row, *_: row < height, row_loop, start)[1]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def build_pixelrnn(input_shape=(28, 28, 1), kind="row_lstm", layers_count=7, hidden=16, levels=2, num_classes=None,
                   kernel_size=3, first_kernel_size=7, optimizer="adam", name="pixelrnn"):
    """Builds and compiles a PixelRNN (van den Oord et al. 2016a); see the module's
    docstring for the network.

    Args:
        input_shape: ``(H, W, C)`` of the images; C > 1 orders channels in a pixel.
        kind: ``"row_lstm"`` or ``"diagonal_bilstm"``.
        layers_count: LSTM layers (the paper's MNIST models: 7).
        hidden: features of every layer and LSTM state (>= C).
        levels: values per pixel: 2 (binarized, Bernoulli output) up to 256 (softmax).
        num_classes: None, or the number of classes: a learned per-class bias in every
            masked convolution (``ClassConditioning``).
        kernel_size: Row LSTM's k, of the input-to-state (1 x k) and state-to-state
            convolutions (odd); the Diagonal BiLSTM's are 1x1 and 2x1.
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

    def with_class(y, layer_name):
        return y if label is None else ClassConditioning(num_classes, name=f"{layer_name}_class")([y, label])

    def conv(x, size, mask_type, layer_name):
        return with_class(MaskedConv2D(hidden, size, mask_type=mask_type, color_channels=channels,
                                       name=layer_name)(x), layer_name)

    x = conv(image, first_kernel_size, "A", "conv_a")
    for index in range(layers_count):
        if kind == "row_lstm":
            gates = layers.Concatenate(name=f"row{index}_gates")(
                [conv(x, (1, kernel_size), "B", f"row{index}_{gate}") for gate in GATES])
            h = RowLSTM(hidden, kernel_size, name=f"row{index}_lstm")(gates)
            prefix = "row"
        else:
            gates = layers.Concatenate(name=f"diag{index}_gates")(
                [conv(x, 1, "B", f"diag{index}_{gate}") for gate in GATES])
            from_left = DiagonalLSTM(hidden, name=f"diag{index}_l2r")(gates)
            # The row above is all past: the right-to-left direction reads it unmasked, image included.
            seen = layers.Concatenate(name=f"diag{index}_r2l_input")([x, image])
            r2l_gates = with_class(layers.Conv2D(4 * hidden, 1, name=f"diag{index}_r2l_gates")(seen),
                                   f"diag{index}_r2l_gates")
            from_right = DiagonalLSTM(hidden, direction="right_to_left", name=f"diag{index}_r2l")(r2l_gates)
            h = layers.Add(name=f"diag{index}_both")([from_left, from_right])
            prefix = "diag"
        out = MaskedConv2D(hidden, 1, mask_type="B", color_channels=channels, name=f"{prefix}{index}_1x1")(h)
        x = layers.Add(name=f"{prefix}{index}_residual")([x, out])
    x = MaskedConv2D(hidden, 1, mask_type="B", color_channels=channels, activation="relu", name="head")(x)
    logits = MaskedConv2D(channels if levels == 2 else channels * levels, 1, mask_type="B", color_channels=channels,
                          dtype="float32", name="logits")(x)
    network = keras.Model([image] if label is None else [image, label], logits, name=f"{name}_network")
    model = PixelRNN(network, (height, width, channels), levels=levels, num_classes=num_classes, kind=kind, name=name)
    model.compile(optimizer=optimizer)
    return model
