"""What the ``keras-gen`` command and the recipes print: their own output and Keras's
progress bar, not TensorFlow's C++ start-up log lines. Imports no TensorFlow."""

import os


def quiet_tensorflow(verbose=False):
    """Hides TensorFlow's C++ log lines (start-up notes about CUDA drivers, cuInit,
    oneDNN, absl) unless ``verbose`` or the user set ``TF_CPP_MIN_LOG_LEVEL``. It must run
    before TensorFlow is imported: the CLI and ``keras_gen.recipes`` call it first."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
