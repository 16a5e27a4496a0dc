"""Losses of keras_gen.

Reconstruction losses for autoencoders on images in [0, 1]: binary cross-entropy (the
default for MNIST-like data, a Bernoulli likelihood per pixel) or mean squared error.
VAE terms, per example in nats: Bernoulli and Gaussian negative log-likelihoods summed
over pixels, and the closed-form Gaussian KL to N(0, I).
"""

import math

import keras

RECONSTRUCTION_LOSSES = {
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "bce": keras.losses.BinaryCrossentropy,
    "mse": keras.losses.MeanSquaredError,
    "mean_squared_error": keras.losses.MeanSquaredError,
}


def reconstruction_loss(name="binary_crossentropy"):
    """Returns a Keras loss (mean per pixel) for a reconstruction loss name.

    Args:
        name: ``"binary_crossentropy"`` (alias ``"bce"``) or ``"mse"``
            (alias ``"mean_squared_error"``), or a ``keras.losses.Loss`` instance.
    """
    if isinstance(name, keras.losses.Loss):
        return name
    if name not in RECONSTRUCTION_LOSSES:
        raise ValueError(
            f"unknown reconstruction loss {name!r}; use one of {sorted(RECONSTRUCTION_LOSSES)} "
            "or a keras.losses.Loss instance."
        )
    return RECONSTRUCTION_LOSSES[name](name="reconstruction_loss")


LIKELIHOODS = ("bernoulli", "gaussian")
LOG_VAR_RANGE = (-30.0, 20.0)  # clamps log-variances so exp() can neither overflow nor vanish


def _sum_per_example(values):
    return keras.ops.sum(keras.ops.reshape(values, (keras.ops.shape(values)[0], -1)), axis=-1)


def gaussian_kl(z_mean, z_log_var):
    """Closed-form KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over latent
    dimensions: one value per example, in nats."""
    z_mean = keras.ops.cast(z_mean, "float32")
    z_log_var = keras.ops.clip(keras.ops.cast(z_log_var, "float32"), *LOG_VAR_RANGE)
    return -0.5 * keras.ops.sum(1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=-1)


def bernoulli_nll(x, probabilities):
    """-log p(x | z) of images in [0, 1] under independent Bernoulli pixels with the
    given probabilities (binary cross-entropy summed over pixels), per example, nats."""
    x = keras.ops.cast(x, "float32")
    p = keras.ops.clip(keras.ops.cast(probabilities, "float32"), 1e-7, 1.0 - 1e-7)
    return _sum_per_example(-(x * keras.ops.log(p) + (1.0 - x) * keras.ops.log(1.0 - p)))


def gaussian_nll(x, mean, log_var):
    """-log p(x | z) under independent Gaussian pixels N(mean, exp(log_var)), summed
    over pixels, per example, in nats. ``log_var`` broadcasts (a scalar is fine)."""
    x, mean = keras.ops.cast(x, "float32"), keras.ops.cast(mean, "float32")
    log_var = keras.ops.clip(keras.ops.cast(log_var, "float32"), *LOG_VAR_RANGE)
    per_pixel = 0.5 * (math.log(2.0 * math.pi) + log_var + keras.ops.square(x - mean) / keras.ops.exp(log_var))
    return _sum_per_example(per_pixel + keras.ops.zeros_like(x))
