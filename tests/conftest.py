import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from keras_gen import datasets


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same global seeds (Python, NumPy, TensorFlow), so what it
    sees does not depend on which tests ran before it in its process (``-n 2`` shares them
    out differently from run to run)."""
    keras.utils.set_random_seed(0)


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


@pytest.fixture
def recipe(tmp_path, monkeypatch, capsys):
    """``recipe(name, *flags)`` runs ``keras-gen train name flags`` in this process, from
    ``tmp_path``, with ``KERAS_GEN_OFFLINE=1``: ``(exit code, stdout, stderr)``."""
    from test_cli import run_cli  # the keras-gen command run in this process

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    yield lambda name, *flags: run_cli(["train", name, *flags], capsys)
    keras.backend.clear_session()
