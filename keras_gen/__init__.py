"""keras_gen: generative models for Keras 3 (TensorFlow backend).

Builders return Functional models; training runs through plain ``model.fit``.
"""

__version__ = "0.1.0"

import os
import sys

if os.path.basename(sys.argv[0]) == "keras-gen":  # the command line: no TensorFlow C++ info lines unless asked for
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_gen import (
    callbacks, classifiers, datasets, export, gan, latent, losses, metrics, pixelcnn, plotting, serving
)
from keras_gen.autoencoders import (
    build_conv_autoencoder,
    build_dense_autoencoder,
    build_denoising_autoencoder,
    build_encoder_classifier,
    build_latent2d_autoencoder,
)
from keras_gen.callbacks import KLWarmUp, ModeCollapseMonitor, SampleGrid, StopOnNonFinite
from keras_gen.classifiers import build_domain_classifier, domain_classifier
from keras_gen.datasets import load
from keras_gen.export import export_generator, export_model, export_onnx, export_pixelcnn
from keras_gen.gan import GAN, ConditionalGAN, build_conditional_gan, build_dcgan, build_gan, build_wgan_gp
from keras_gen.layers import ClassConditioning, ImageCorruption, MaskedConv2D, Sampling, corrupt
from keras_gen.metrics import SampleQuality, evaluate_samples
from keras_gen.pixelcnn import PixelCNN, build_pixelcnn, exact_nll
from keras_gen.serving import evaluate_export, load_export
from keras_gen.vae import VAE, ConditionalVAE, build_conditional_vae, build_vae, evaluate_likelihood

__all__ = [
    "ConditionalGAN",
    "ClassConditioning",
    "ConditionalVAE",
    "GAN",
    "ImageCorruption",
    "KLWarmUp",
    "MaskedConv2D",
    "ModeCollapseMonitor",
    "PixelCNN",
    "SampleGrid",
    "SampleQuality",
    "Sampling",
    "StopOnNonFinite",
    "VAE",
    "build_conditional_gan",
    "build_conditional_vae",
    "build_conv_autoencoder",
    "build_dcgan",
    "build_domain_classifier",
    "build_dense_autoencoder",
    "build_denoising_autoencoder",
    "build_encoder_classifier",
    "build_gan",
    "build_latent2d_autoencoder",
    "build_pixelcnn",
    "build_vae",
    "build_wgan_gp",
    "callbacks",
    "classifiers",
    "corrupt",
    "datasets",
    "domain_classifier",
    "evaluate_likelihood",
    "evaluate_samples",
    "exact_nll",
    "export",
    "export_generator",
    "export_model",
    "export_onnx",
    "export_pixelcnn",
    "gan",
    "latent",
    "load",
    "losses",
    "metrics",
    "pixelcnn",
    "plotting",
    "serving",
    "load_export",
    "evaluate_export",
]
