"""Losses of keras_gen.

Reconstruction losses for images in [0, 1]: binary cross-entropy (the default for
MNIST-like data, a Bernoulli likelihood per pixel) or mean squared error.
"""

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
