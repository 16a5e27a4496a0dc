"""keras_gen: generative models for Keras 3 (TensorFlow backend).

Builders return Functional models; training runs through plain ``model.fit``.
"""

__version__ = "0.1.0"

from keras_gen import datasets, losses, plotting
from keras_gen.autoencoders import (
    build_conv_autoencoder,
    build_dense_autoencoder,
    build_denoising_autoencoder,
    build_encoder_classifier,
    build_latent2d_autoencoder,
)
from keras_gen.datasets import load
from keras_gen.layers import ImageCorruption, Sampling, corrupt
from keras_gen.vae import VAE, build_vae

__all__ = [
    "ImageCorruption",
    "Sampling",
    "VAE",
    "build_conv_autoencoder",
    "build_dense_autoencoder",
    "build_denoising_autoencoder",
    "build_encoder_classifier",
    "build_latent2d_autoencoder",
    "build_vae",
    "corrupt",
    "datasets",
    "load",
    "losses",
    "plotting",
]
