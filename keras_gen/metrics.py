"""Evaluation numbers of keras_gen.

Likelihoods are reported in nats per image and in bits per dimension:
bits/dim = nats / (number of dimensions * ln 2).
"""

import math

import numpy as np


def bits_per_dim(nats, image_shape):
    """Converts a negative log-likelihood in nats per image to bits per dimension.

    Args:
        nats: NLL per image in nats (a number or an array).
        image_shape: ``(H, W, C)``: the number of dimensions is H * W * C.
    """
    dims = int(np.prod(image_shape))
    if dims < 1:
        raise ValueError(f"image_shape must have at least one dimension, got {image_shape!r}.")
    return np.asarray(nats, dtype=np.float64) / (dims * math.log(2.0))
