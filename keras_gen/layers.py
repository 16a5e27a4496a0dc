"""Custom layers of keras_gen.

``ImageCorruption`` corrupts images while training, for denoising autoencoders; the
function ``corrupt`` does the same thing outside a model (to make noisy test inputs).
``Sampling`` draws z = mu + sigma * eps for variational autoencoders.
"""

import keras
from keras import ops

from keras_gen.losses import LOG_VAR_RANGE

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
        noise = keras.random.normal(ops.shape(images), stddev=amount, seed=seed, dtype=dtype)
        return ops.clip(images + noise, 0.0, 1.0)
    u = keras.random.uniform(ops.shape(images), seed=seed, dtype=dtype)
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
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
