"""The optional InceptionV3 extractor (``extractor="inception"``).

keras.applications' ImageNet weights cannot be downloaded on the machines these tests run
on. So the tests use the real InceptionV3 architecture holding *random* weights (seeded),
saved under Keras's file name in a temporary Keras home. That checks everything except
the ImageNet numbers themselves: where the weights are looked up, that they are the ones
loaded, the preprocessing (resize, gray tiling, scaling) against a hand computation, the
protocol saying these are not the ImageNet file, and the errors.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import classifiers, datasets
from keras_gen.callbacks import SampleQuality
from keras_gen.classifiers import INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_MD5, InceptionExtractor
from keras_gen.metrics import conditional_accuracy, evaluate_samples, fid, mode_coverage


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A Keras home whose models/ holds a randomly initialised InceptionV3 under Keras's
    weights file name, and that network."""
    home = tmp_path_factory.mktemp("keras_home")
    keras.utils.set_random_seed(0)
    network = keras.applications.InceptionV3(weights=None, classifier_activation=None)
    (home / "models").mkdir()
    network.save(home / "models" / INCEPTION_WEIGHTS_FILE)  # HDF5, the format of Keras's own file
    return home, network


@pytest.fixture
def extractor(random_inception, monkeypatch):
    """``extractor="inception"`` resolving to the random-weight network (found in the Keras home)."""
    monkeypatch.setattr(datasets, "_keras_home", lambda: random_inception[0])
    found = InceptionExtractor(batch_size=4)
    monkeypatch.setitem(classifiers._EXTRACTORS, "inception", found)
    return found


def by_hand(network, images):
    """InceptionV3's pool features and logits of uint8 gray images, preprocessed as documented."""
    rgb = np.repeat(images.astype(np.float32) / 255.0, 3, axis=-1)
    resized = tf.image.resize(rgb, (299, 299), method="bilinear") * 2.0 - 1.0
    pool = keras.Model(network.inputs, [network.get_layer("avg_pool").output, network.outputs[0]])
    return [t.numpy() for t in pool(resized, training=False)]


def test_weights_are_found_in_the_keras_home_and_preprocessing_matches_by_hand(extractor, random_inception,
                                                                                mnist_bundled):
    home, network = random_inception
    for loaded, saved in zip(extractor.model.get_weights(), network.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    protocol = extractor.protocol()
    assert protocol["extractor_weights"] == str(home / "models" / INCEPTION_WEIGHTS_FILE)
    assert protocol["extractor_weights_md5"] != INCEPTION_WEIGHTS_MD5
    assert "NOT keras.applications' ImageNet file" in protocol["extractor"]  # random weights are not ImageNet's
    assert "299x299" in protocol["extractor_input"]

    gray = mnist_bundled[0][:6]  # 6 images in batches of 4: two calls
    features, logits = extractor(gray)
    assert features.shape == (6, 2048) and logits.shape == (6, 1000)
    want_features, want_logits = by_hand(network, gray)
    np.testing.assert_allclose(features, want_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-4)
    # Any size, RGB as well: a 3-channel copy of the gray images gives the same features.
    rgb_features, _ = extractor(np.repeat(gray, 3, axis=-1))
    np.testing.assert_allclose(rgb_features, features, rtol=1e-5, atol=1e-6)
    assert extractor(np.zeros((2, 40, 33, 3), np.uint8))[0].shape == (2, 2048)
    with pytest.raises(ValueError, match="images have 2 channels; the InceptionV3 extractor takes 1"):
        extractor(np.zeros((2, 28, 28, 2), np.uint8))


def test_metrics_with_the_inception_extractor(extractor, mnist_bundled):
    real, other = mnist_bundled[0][:24], mnist_bundled[0][24:48]
    scores = evaluate_samples(real, other, dataset="mnist", extractor="inception", num_subsets=2, num_splits=2, k=2)
    assert {"fid", "kid", "classifier_score", "precision", "recall"} <= set(scores)
    assert "classes_covered" not in scores and "mode coverage" in scores["protocol"]["not_computed"]
    assert scores["protocol"]["extractor"] == extractor.name and scores["fid"] > 0
    assert fid(real, real, extractor="inception")["fid"] < 1e-3 * scores["fid"]
    with pytest.raises(ValueError, match="mode_coverage needs logits over the dataset's classes"):
        mode_coverage(real, other, extractor="inception")
    with pytest.raises(ValueError, match="conditional_accuracy needs logits over the dataset's classes"):
        conditional_accuracy((real, np.zeros(24, np.int64)), extractor="inception")


def test_missing_corrupt_or_unknown_weights_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_keras_home", lambda: tmp_path)
    monkeypatch.delitem(classifiers._EXTRACTORS, "inception", raising=False)
    where = str(tmp_path / "models" / INCEPTION_WEIGHTS_FILE)
    with pytest.raises(FileNotFoundError, match=f"weights not found at {where}.*keras.applications.InceptionV3()"):
        InceptionExtractor(download=False)
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="extractor='domain'"):
        fid(np.zeros((4, 28, 28, 1), np.uint8), np.zeros((4, 28, 28, 1), np.uint8), extractor="inception")
    with pytest.raises(FileNotFoundError, match="weights not found at /no/such.h5"):
        InceptionExtractor(weights="/no/such.h5")
    corrupt = tmp_path / "broken.h5"
    corrupt.write_bytes(b"not an HDF5 file" * 64)
    with pytest.raises(ValueError, match="broken.h5 is not a usable InceptionV3 weights file"):
        InceptionExtractor(weights=corrupt)
    with pytest.raises(ValueError, match=r"extractor must be one of \('domain', 'inception'\).*got 'vgg'"):
        fid(np.zeros((4, 28, 28, 1), np.uint8), np.zeros((4, 28, 28, 1), np.uint8), extractor="vgg")
    with pytest.raises(ValueError, match="extractor must be one of"):
        SampleQuality("test", extractor="vgg")
