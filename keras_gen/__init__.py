"""keras_gen: generative models for Keras 3 (TensorFlow backend).

Builders return Functional models; training runs through plain ``model.fit``.

``import keras_gen`` registers keras_gen's layers and models with Keras (so that
``keras.models.load_model`` reads ``.keras`` files holding them); every other name is
imported on first use (PEP 562). The ``keras-gen`` command imports the package without
that registration (``KERAS_GEN_LAZY_IMPORT=1``, set by its entry point
``keras_gen_cli``), so that ``--help`` and ``list`` answer without starting TensorFlow.
"""

import importlib
import os

from keras_gen.version import __version__  # noqa: F401 (public: keras_gen.__version__)

# public name -> the module that defines it
_EXPORTS = {
    "autoencoders": ["build_conv_autoencoder", "build_dense_autoencoder", "build_denoising_autoencoder",
                     "build_encoder_classifier", "build_latent2d_autoencoder"],
    "base": ["GenerativeModel"],
    "callbacks": ["ChiefBackupAndRestore", "KLWarmUp", "ModeCollapseMonitor", "SampleGrid", "SampleQuality",
                  "StopOnNonFinite"],
    "classifiers": ["build_domain_classifier", "domain_classifier"],
    "datasets": ["load"],
    "distribute": ["FunctionalModel", "make_strategy"],
    "export": ["export_generator", "export_model", "export_onnx", "export_pixelcnn"],
    "gan": ["GAN", "ConditionalGAN", "build_conditional_gan", "build_dcgan", "build_gan", "build_wgan_gp"],
    "layers": ["ClassConditioning", "ImageCorruption", "MaskedConv2D", "MinibatchStddev", "Sampling", "SpectralConv2D",
               "SpectralDense", "corrupt"],
    "metrics": ["evaluate_samples"],
    "autoregressive": ["exact_nll"],
    "pixelcnn": ["PixelCNN", "build_pixelcnn"],
    "pixelrnn": ["PixelRNN", "build_pixelrnn"],
    "serving": ["evaluate_export", "load_export"],
    "errors": ["KerasGenError"],
    "vae": ["VAE", "ConditionalVAE", "build_conditional_vae", "build_vae", "evaluate_likelihood"],
    "xicfg": ["XICFG", "build_xicfg"],
}
_MODULES = ["callbacks", "classifiers", "datasets", "distribute", "export", "gan", "latent", "losses", "metrics",
            "pixelcnn", "plotting", "serving", "xicfg"]
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE) + _MODULES


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"keras_gen.{_WHERE[name]}"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"keras_gen.{name}")
    else:
        raise AttributeError(f"module 'keras_gen' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def register_keras_objects():
    """Imports the modules whose layers and models are registered Keras serializables
    (``keras_gen.distribute``, ``layers``, ``vae``, ``gan``, ``xicfg``, ``pixelcnn``, ``pixelrnn``), so that
    ``keras.models.load_model`` can rebuild them from a ``.keras`` file."""
    for module in ("distribute", "layers", "vae", "gan", "xicfg", "pixelcnn", "pixelrnn"):
        importlib.import_module(f"keras_gen.{module}")


if os.environ.get("KERAS_GEN_LAZY_IMPORT") != "1":
    register_keras_objects()
