"""keras_gen: generative models for Keras 3 (TensorFlow backend).

Builders return Functional models; training runs through plain ``model.fit``.
"""

__version__ = "0.1.0"

from keras_gen import callbacks, datasets, export, gan, latent, losses, metrics, plotting
from keras_gen.autoencoders import (
    build_conv_autoencoder,
    build_dense_autoencoder,
    build_denoising_autoencoder,
    build_encoder_classifier,
    build_latent2d_autoencoder,
)
from keras_gen.callbacks import KLWarmUp, ModeCollapseMonitor, SampleGrid, StopOnNonFinite
from keras_gen.datasets import load
from keras_gen.export import export_generator
from keras_gen.gan import GAN, ConditionalGAN, build_conditional_gan, build_dcgan, build_gan, build_wgan_gp
from keras_gen.layers import ImageCorruption, Sampling, corrupt
from keras_gen.vae import VAE, ConditionalVAE, build_conditional_vae, build_vae, evaluate_likelihood

__all__ = [
    "ConditionalGAN",
    "ConditionalVAE",
    "GAN",
    "ImageCorruption",
    "KLWarmUp",
    "ModeCollapseMonitor",
    "SampleGrid",
    "Sampling",
    "StopOnNonFinite",
    "VAE",
    "build_conditional_gan",
    "build_conditional_vae",
    "build_conv_autoencoder",
    "build_dcgan",
    "build_dense_autoencoder",
    "build_denoising_autoencoder",
    "build_encoder_classifier",
    "build_gan",
    "build_latent2d_autoencoder",
    "build_vae",
    "build_wgan_gp",
    "callbacks",
    "corrupt",
    "datasets",
    "evaluate_likelihood",
    "export",
    "export_generator",
    "gan",
    "latent",
    "load",
    "losses",
    "metrics",
    "plotting",
]
