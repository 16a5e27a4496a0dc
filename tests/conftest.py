import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from keras_gen import datasets


@pytest.fixture(scope="session")
def fashion_test():
    """The real Fashion-MNIST test split (Debian's dataset-fashion-mnist), uint8."""
    x, y = datasets.load_idx_split(datasets.DEBIAN_FASHION_MNIST_DIR, "test")
    return x, y


@pytest.fixture(scope="session")
def mnist_bundled():
    """The bundled real MNIST test split, uint8 (10000, 28, 28, 1) and labels."""
    return datasets.load_idx_split(datasets.BUNDLED_MNIST_DIR, "test")


@pytest.fixture(scope="session")
def fashion_small(fashion_test):
    """2,000 real Fashion-MNIST test images in [0, 1] with labels: a quick training set."""
    x, y = fashion_test
    return x[:2000].astype(np.float32) / 255.0, y[:2000]
