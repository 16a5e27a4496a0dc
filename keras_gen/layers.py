"""Custom layers of keras_gen.

``ImageCorruption`` corrupts images while training, for denoising autoencoders; the
function ``corrupt`` does the same thing outside a model (to make noisy test inputs).
``Sampling`` draws z = mu + sigma * eps for variational autoencoders.
``MaskedConv2D`` (causal convolutions, masks A and B) and ``ClassConditioning`` build
PixelCNNs. ``SpectralConv2D`` and ``SpectralDense`` are spectrally normalized layers for
GAN discriminators; ``MinibatchStddev`` lets a discriminator see a batch's variety.
"""

import keras
import numpy as np
from keras import ops

from keras_gen.distribute import replica_noise
from keras_gen.losses import LOG_VAR_RANGE
from keras_gen.utils import is_int

CORRUPTIONS = ("gaussian", "salt_and_pepper", "mask")


def _check_corruption(kind, amount):
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption kind must be one of {CORRUPTIONS}, got {kind!r}.")
    if kind == "gaussian" and not amount >= 0:
        raise ValueError(f"gaussian corruption needs a stddev amount >= 0, got {amount!r}.")
    if kind != "gaussian" and not 0 <= amount <= 1:
        raise ValueError(f"{kind} corruption needs a fraction amount in [0, 1], got {amount!r}.")


def corrupt(images, kind="gaussian", amount=0.5, seed=None):
    """Corrupts images in [0, 1]; the result stays in [0, 1].

    Args:
        images: a float tensor or array of images in [0, 1].
        kind: ``"gaussian"`` adds ``amount * N(0, 1)`` and clips to [0, 1];
            ``"salt_and_pepper"`` sets a fraction ``amount`` of the values to 0 or 1
            (half each); ``"mask"`` sets a fraction ``amount`` of the values to 0.
        amount: stddev for ``"gaussian"``, a fraction in [0, 1] otherwise.
        seed: an int, a ``keras.random.SeedGenerator`` or None.

    Returns:
        The corrupted images, same shape and dtype.
    """
    _check_corruption(kind, amount)
    images = ops.convert_to_tensor(images)
    dtype = images.dtype
    if kind == "gaussian":
        noise = replica_noise(keras.random.normal, ops.shape(images), seed, stddev=amount, dtype=dtype)
        return ops.clip(images + noise, 0.0, 1.0)
    u = replica_noise(keras.random.uniform, ops.shape(images), seed, dtype=dtype)
    if kind == "mask":
        return ops.where(u < amount, ops.zeros_like(images), images)
    salt_or_pepper = ops.cast(u < amount / 2, dtype)  # u < amount/2 -> pepper (0), else salt (1)
    return ops.where(u < amount, 1.0 - salt_or_pepper, images)


@keras.saving.register_keras_serializable(package="keras_gen")
class ImageCorruption(keras.layers.Layer):
    """Corrupts its input while training and passes it through unchanged otherwise.

    A denoising autoencoder puts this layer in front of its encoder: ``fit`` sees
    corrupted inputs against clean targets, ``predict`` denoises what it is given.

    Args:
        kind: ``"gaussian"``, ``"salt_and_pepper"`` or ``"mask"`` (see ``corrupt``).
        amount: stddev for gaussian noise, a fraction of values otherwise.
        seed: seed of the layer's ``SeedGenerator``.

    Example:
        >>> layer = ImageCorruption("mask", 0.3, seed=1)
        >>> noisy = layer(images, training=True)
    """

    def __init__(self, kind="gaussian", amount=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_corruption(kind, amount)
        self.kind = kind
        self.amount = float(amount)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        return corrupt(inputs, self.kind, self.amount, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "amount": self.amount, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gen")
class Sampling(keras.layers.Layer):
    """The reparameterization trick: ``z = z_mean + exp(0.5 * z_log_var) * eps`` with
    ``eps ~ N(0, I)``, so gradients flow to ``z_mean`` and ``z_log_var``.

    The log-variance is clamped to ``keras_gen.losses.LOG_VAR_RANGE`` so ``exp`` cannot
    overflow. It samples in training and inference alike (a VAE's encoder is a
    distribution); use ``z_mean`` for a deterministic code.

    Args:
        seed: seed of the layer's ``SeedGenerator``: same seed, same draws.

    Example:
        >>> z = Sampling(seed=0)([z_mean, z_log_var])
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        z_log_var = ops.clip(z_log_var, *LOG_VAR_RANGE)
        eps = replica_noise(keras.random.normal, ops.shape(z_mean), self.seed_generator, dtype=z_mean.dtype)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


# ------------------------------------------------------------------ PixelCNN layers

MASK_TYPES = ("A", "B", "VA", "VB")


def causal_mask(kernel_size, in_channels, out_channels, mask_type, color_channels=1):
    """The 0/1 kernel mask of a PixelCNN convolution, shaped ``(kh, kw, in, out)``.

    Pixels are ordered row by row, left to right, and within a pixel channel by channel
    (R before G before B). Masks ``"A"`` and ``"B"`` see every position above the centre
    row and left of the centre in its row; at the centre, feature maps are split into
    ``color_channels`` contiguous groups (feature k of n belongs to group
    ``k * color_channels // n``) and an output of group g sees input groups < g (mask
    ``"A"``, the first layer: a pixel never sees itself) or <= g (mask ``"B"``, later
    layers, whose inputs already exclude the pixel). With one colour channel the centre
    is simply off (A) or on (B).

    The vertical stack of Gated PixelCNN (van den Oord et al. 2016b) uses the other two:
    ``"VA"`` sees the rows above the centre row only (its first layer, on the image: no
    pixel of the current row), ``"VB"`` the rows up to and including the centre row, in
    every column (its later layers, whose inputs already hold rows above only).
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel_size must be odd in both dimensions (a centre pixel), got {kernel_size!r}.")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}.")
    for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
        if n < color_channels:
            raise ValueError(f"{name}={n} is fewer than color_channels={color_channels}: every colour needs a group.")
    mask = np.zeros((kh, kw, in_channels, out_channels), np.float32)
    mask[: kh // 2] = 1.0  # rows above the centre
    if mask_type == "VB":
        mask[kh // 2] = 1.0  # the whole centre row
    if mask_type in ("A", "B"):
        mask[kh // 2, : kw // 2] = 1.0  # left of the centre in its row
        group_in = np.arange(in_channels) * color_channels // in_channels
        group_out = np.arange(out_channels) * color_channels // out_channels
        earlier = group_in[:, None] < group_out[None, :]
        allowed = earlier if mask_type == "A" else earlier | (group_in[:, None] == group_out[None, :])
        mask[kh // 2, kw // 2] = allowed.astype(np.float32)
    return mask


@keras.saving.register_keras_serializable(package="keras_gen")
class MaskedConv2D(keras.layers.Conv2D):
    """A causal ("masked") 2-D convolution, the building block of PixelCNN.

    The kernel is multiplied by ``causal_mask(...)`` in every call, so the output at a
    pixel depends only on pixels before it in raster order (and, with mask ``"B"``, on
    the pixel's own features from the layer below). Stride 1 and ``"same"`` padding,
    so feature maps keep the image's size.

    Args:
        filters: number of output feature maps.
        kernel_size: an odd int or an ``(odd, odd)`` pair.
        mask_type: ``"A"`` for the first layer (on the image), ``"B"`` after it;
            ``"VA"``, ``"VB"`` for the vertical stack of Gated PixelCNN (see ``causal_mask``).
        color_channels: the image's channels C, ordered inside a pixel (see
            ``causal_mask``); 1 for grey images.
        **kwargs: other ``keras.layers.Conv2D`` arguments (activation, initializers,
            ...); ``strides``, ``padding`` and ``dilation_rate`` are fixed.

    Example:
        >>> x = MaskedConv2D(64, 7, mask_type="A")(images)
        >>> x = MaskedConv2D(64, 3, mask_type="B", activation="relu")(x)
    """

    def __init__(self, filters, kernel_size, mask_type="B", color_channels=1, **kwargs):
        for fixed, allowed in (("strides", (1, (1, 1))), ("padding", ("same",)), ("dilation_rate", (1, (1, 1)))):
            if fixed in kwargs and kwargs.pop(fixed) not in allowed:
                raise ValueError(f"MaskedConv2D fixes {fixed} to {allowed[0]!r}.")
        if mask_type not in MASK_TYPES:
            raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}.")
        if not is_int(color_channels) or color_channels < 1:
            raise ValueError(f"color_channels must be an integer >= 1, got {color_channels!r}.")
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        if self.data_format != "channels_last":
            raise ValueError("MaskedConv2D supports data_format='channels_last' only.")
        causal_mask(self.kernel_size, color_channels, max(filters, color_channels), mask_type, color_channels)
        self.mask_type = mask_type
        self.color_channels = color_channels
        self.kernel_mask = None  # a numpy constant, set in build

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel_mask = causal_mask(
            self.kernel_size, int(input_shape[-1]), self.filters, self.mask_type, self.color_channels
        )

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.convert_to_tensor(self.kernel_mask, dtype=kernel.dtype))

    def get_config(self):
        config = super().get_config()
        for fixed in ("strides", "padding", "dilation_rate"):
            config.pop(fixed, None)
        return {**config, "mask_type": self.mask_type, "color_channels": self.color_channels}


@keras.saving.register_keras_serializable(package="keras_gen")
class ClassConditioning(keras.layers.Layer):
    """Adds a learned per-class vector to every position of a feature map: the class
    conditioning h -> V h of Gated PixelCNN (van den Oord et al. 2016b), with h one-hot.

    Called as ``layer([features, labels])`` with features ``(N, H, W, F)`` and integer
    labels ``(N,)`` in ``[0, num_classes)``; returns features + embedding[labels].

    Args:
        num_classes: number of classes (>= 2).
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        if not is_int(num_classes) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
        self.num_classes = num_classes

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.embedding = self.add_weight(
            shape=(self.num_classes, int(features_shape[-1])), initializer="zeros", name="embedding"
        )

    def call(self, inputs):
        features, labels = inputs
        vectors = ops.take(self.embedding, ops.cast(labels, "int32"), axis=0)
        return features + ops.cast(vectors, features.dtype)[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="keras_gen")
class MinibatchStddev(keras.layers.Layer):
    """Appends one feature map holding the batch's variety (Karras et al. 2018, section
    3): the standard deviation over the batch of every feature at every position,
    averaged into one number and repeated at every position of every image. A
    discriminator that sees it can tell a generator's batch of near-copies from a real
    batch, which pushes G towards variety.

    The batch is the one the layer is called on (under ``tf.distribute``, each replica's
    own part); a batch of one image has variety 0. The stddev is
    ``sqrt(mean((x - mean(x))**2) + epsilon)``, computed in float32.

    Args:
        epsilon: added to the variance before the square root (its gradient is finite at 0).

    Example:
        >>> y = MinibatchStddev()(features)  # (N, H, W, C) -> (N, H, W, C + 1)
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}.")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        variance = ops.mean(ops.square(x - ops.mean(x, axis=0, keepdims=True)), axis=0)
        variety = ops.mean(ops.sqrt(variance + self.epsilon))
        plane = ops.ones_like(x[..., :1]) * variety
        return ops.concatenate([inputs, ops.cast(plane, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels + 1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


# ----------------------------------------------------------------- spectral normalization


class _SpectralNormalized:
    """The kernel divided by its largest singular value sigma (Miyato et al. 2018), sigma
    estimated by one power iteration per training call from a stored vector ``u``.

    The normalized kernel W / sigma is computed in each call and the gradient flows
    through sigma (u and v held constant), as in the paper and in PyTorch's
    ``spectral_norm``; the trainable kernel itself is never overwritten. (Keras's
    ``SpectralNormalization`` wrapper instead assigns W / sigma to the kernel in every
    training call: no gradient through sigma, and under ``MirroredStrategy`` its step
    differed from the one-device step by about 1e-3 in keras_gen's check.)
    ``u`` is updated in training calls only; inference runs the same iteration from the
    stored ``u`` without storing the result.
    """

    def _build_u(self):
        self.spectral_u = self.add_weight(
            shape=(1, int(self.kernel.shape[-1])), initializer=keras.initializers.RandomNormal(seed=self.u_seed),
            trainable=False, name="spectral_u", aggregation="mean")  # every replica computes the same u

    def spectral_kernel(self, training=False):
        """``kernel / sigma`` (in the kernel's dtype); with ``training`` also stores the new ``u``."""
        kernel = self.kernel
        w = ops.reshape(ops.cast(kernel, "float32"), (-1, int(kernel.shape[-1])))  # (fan_in, out)
        u = ops.cast(self.spectral_u, "float32")
        v = _unit(ops.matmul(u, ops.transpose(w)))
        u = _unit(ops.matmul(v, w))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, w) * u)
        if training:
            self.spectral_u.assign(u)
        return kernel / ops.cast(sigma, kernel.dtype)

    # Dense and Conv2D save a fixed list of variables (for quantization); a Layer saves all,
    # ``spectral_u`` included, so a reloaded layer continues the same power iteration.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)


def _unit(x):
    return x / ops.sqrt(ops.sum(ops.square(x)) + 1e-12)


@keras.saving.register_keras_serializable(package="keras_gen")
class SpectralDense(_SpectralNormalized, keras.layers.Dense):
    """A ``keras.layers.Dense`` with a spectrally normalized kernel (see
    ``_SpectralNormalized``): its weight matrix has spectral norm 1, so the layer is
    1-Lipschitz. ``u_seed`` seeds the power iteration's starting vector; the other
    arguments are ``Dense``'s.

    Example:
        >>> logit = SpectralDense(1)(features)
    """

    def __init__(self, units, u_seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self.u_seed = u_seed

    def build(self, input_shape):
        super().build(input_shape)
        self._build_u()

    def call(self, inputs, training=False):
        x = ops.matmul(inputs, self.spectral_kernel(training))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return x if self.activation is None else self.activation(x)

    def get_config(self):
        return {**super().get_config(), "u_seed": self.u_seed}


@keras.saving.register_keras_serializable(package="keras_gen")
class SpectralConv2D(_SpectralNormalized, keras.layers.Conv2D):
    """A ``keras.layers.Conv2D`` with a spectrally normalized kernel (see
    ``_SpectralNormalized``; the kernel is read as a ``(kh * kw * in, out)`` matrix).
    ``u_seed`` seeds the power iteration's starting vector; the other arguments are
    ``Conv2D``'s (``data_format="channels_last"`` only).

    Example:
        >>> y = SpectralConv2D(64, 4, strides=2, padding="same")(images)
    """

    def __init__(self, filters, kernel_size, u_seed=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError("SpectralConv2D supports data_format='channels_last' only.")
        self.u_seed = u_seed

    def build(self, input_shape):
        super().build(input_shape)
        self._build_u()

    def call(self, inputs, training=False):
        x = self.convolution_op(inputs, self.spectral_kernel(training))
        if self.use_bias:
            x = ops.add(x, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return x if self.activation is None else self.activation(x)

    def get_config(self):
        return {**super().get_config(), "u_seed": self.u_seed}
