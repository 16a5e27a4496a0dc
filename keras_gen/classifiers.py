"""The domain classifier: a small CNN trained on a dataset's own train split, whose
penultimate features and logits ``keras_gen.metrics`` measures samples with.

Weights ship with keras_gen for ``fashion_mnist`` (trained on its 60,000 train images)
and ``mnist`` (trained on the 8,000-image train part of the bundled MNIST test split);
``domain_classifier(name)`` loads them, else a copy cached under
``$KERAS_HOME/keras_gen/classifiers/``, else trains one on the dataset's train split and
caches it. ``recipes/domain_classifier.py`` reproduces the shipped files.

Example:
    >>> extractor = extractor_for("fashion_mnist")
    >>> features, logits = extractor(images)          # images in [0, 1]: (N, 128), (N, 10)
"""

import hashlib
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen import datasets
from keras_gen.distribute import FunctionalModel
from keras_gen.utils import check_input_shape, check_num_classes, check_positive_int, unit_images
from keras_gen.version import __version__

SHIPPED_CLASSIFIER_DIR = Path(__file__).parent / "data" / "classifiers"
CLASSIFIER_RECIPE = {"epochs": 12, "batch_size": 128, "learning_rate": 1e-3, "seed": 0}
FEATURES_LAYER, LOGITS_LAYER = "features", "logits"


def build_domain_classifier(input_shape=(28, 28, 1), num_classes=10, seed=0):
    """A small CNN classifier whose penultimate layer serves as feature extractor.

    Three 3x3 convolutions (32, 64, 128 filters, batch norm, ReLU, 2x2 max-pooling),
    dropout 0.3, a Dense(128) ReLU layer named ``features`` and a Dense layer of
    ``num_classes`` raw logits named ``logits``: 242,218 weights for 28x28x1 (< 1 MB).

    Args:
        input_shape: ``(H, W, C)`` of images in [0, 1], H and W >= 8.
        num_classes: number of classes (>= 2).
        seed: seed of the initial weights and of dropout.

    Returns:
        An uncompiled Functional ``keras.Model`` from images to logits.
    """
    shape = check_input_shape(input_shape)
    if shape[0] < 8 or shape[1] < 8:
        raise ValueError(f"input_shape must be at least 8x8 (three 2x2 poolings), got {shape}.")
    check_num_classes(num_classes)
    rng = np.random.default_rng(seed)

    def init():
        return keras.initializers.HeUniform(seed=int(rng.integers(2**31 - 1)))

    image = keras.Input(shape, name="image")
    x = image
    for i, filters in enumerate((32, 64, 128)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init(), name=f"conv_{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(name=f"bn_{i}")(x))
        x = layers.MaxPooling2D(name=f"pool_{i}")(x)
    x = layers.Dropout(0.3, seed=int(rng.integers(2**31 - 1)))(layers.Flatten()(x))
    x = layers.Dense(128, activation="relu", kernel_initializer=init(), name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3, seed=int(rng.integers(2**31 - 1)))(x)
    logits = layers.Dense(num_classes, kernel_initializer=init(), dtype="float32", name=LOGITS_LAYER)(x)
    return FunctionalModel(image, logits, name="domain_classifier")


def train_domain_classifier(name="mnist", epochs=None, batch_size=None, learning_rate=None, seed=None, limit=None,
                            data_dir=None, verbose=2):
    """Trains the domain classifier on a dataset's train split and scores its test split.

    The recipe (``CLASSIFIER_RECIPE`` by default): Adam with a cosine-decayed learning
    rate, sparse categorical cross-entropy on logits, images in [0, 1] shuffled with
    ``seed``. The seed fixes the initial weights, dropout and the shuffle order, so the
    same seed on the same machine and TensorFlow version gives the same weights.

    Args:
        name: a dataset name for ``keras_gen.datasets.load`` (with labels).
        epochs, batch_size, learning_rate, seed: the recipe's values when None.
        limit: train on the first ``limit`` train images only (quick runs).
        data_dir: see ``keras_gen.datasets.load``.
        verbose: ``fit``'s verbosity.

    Returns:
        ``(model, info)``: the trained model and a JSON-able dict of its protocol and
        results (``test_accuracy``, split sources and sizes, recipe, versions).
    """
    recipe = {key: value if given is None else given for (key, value), given in
              zip(CLASSIFIER_RECIPE.items(), (epochs, batch_size, learning_rate, seed))}
    for key in ("epochs", "batch_size"):
        check_positive_int(key, recipe[key])
    if not isinstance(recipe["learning_rate"], (int, float)) or recipe["learning_rate"] <= 0:
        raise ValueError(f"learning_rate must be a number > 0, got {recipe['learning_rate']!r}.")
    keras.utils.set_random_seed(recipe["seed"])
    train, train_info = datasets.load(name, split="train", labels=True, batch_size=recipe["batch_size"],
                                      seed=recipe["seed"], limit=limit, data_dir=data_dir, with_info=True)
    x_test, y_test, test_info = datasets.load_arrays(name, split="test", data_dir=data_dir)
    num_classes = len(train_info.class_names)
    model = build_domain_classifier(train_info.image_shape, num_classes, seed=recipe["seed"])
    steps = recipe["epochs"] * math.ceil(train_info.num_examples / recipe["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(float(recipe["learning_rate"]), steps)
    model.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train, epochs=recipe["epochs"], verbose=verbose)
    seconds = time.perf_counter() - start
    extractor = FeatureExtractor(model, name=f"domain classifier ({train_info.name})")
    _, logits = extractor(x_test)
    info = {
        "dataset": train_info.name,
        "train_split": f"{train_info.split}: {train_info.source.split(' (')[0]}",
        "train_images": train_info.num_examples,
        "test_split": f"{test_info.split}: {test_info.source.split(' (')[0]}",
        "test_images": test_info.num_examples,
        "test_accuracy": round(float(np.mean(logits.argmax(1) == y_test)), 4),
        "image_shape": list(train_info.image_shape),
        "num_classes": num_classes,
        "recipe": {**recipe, "limit": limit, "optimizer": "Adam, cosine decay to 0",
                   "architecture": "build_domain_classifier"},
        "train_seconds": round(seconds, 1),
        "versions": {"keras_gen": __version__, "tensorflow": tf.__version__, "keras": keras.__version__},
    }
    return model, info


def save_domain_classifier(model, info, directory, name):
    """Writes ``<directory>/<name>.weights.h5`` and ``<directory>/<name>.json``.

    Returns:
        The path of the weights file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    clean = build_domain_classifier(tuple(info["image_shape"]), info["num_classes"])  # no optimizer state
    clean.set_weights(model.get_weights())
    clean.save_weights(directory / f"{name}.weights.h5")
    (directory / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
    return directory / f"{name}.weights.h5"


def classifier_cache_dir():
    """``$KERAS_HOME/keras_gen/classifiers``: where classifiers trained on first use live."""
    return datasets._keras_home() / "keras_gen" / "classifiers"


def _load_saved(directory, key):
    weights, meta = directory / f"{key}.weights.h5", directory / f"{key}.json"
    if not (weights.is_file() and meta.is_file()):
        return None
    info = json.loads(meta.read_text())
    model = build_domain_classifier(tuple(info["image_shape"]), info["num_classes"])
    model.load_weights(weights)
    where = f"keras_gen/data/classifiers/{weights.name} (shipped)" if directory == SHIPPED_CLASSIFIER_DIR else weights
    return model, {**info, "weights": str(where)}


def domain_classifier(name="mnist", train=True, data_dir=None):
    """The domain classifier for a dataset: shipped weights, else the disk cache, else
    (with ``train=True``) trained on the dataset's train split now and cached.

    Args:
        name: dataset name, e.g. ``"mnist"`` or ``"fashion_mnist"``.
        train: train (several minutes on a CPU) when neither shipped nor cached weights exist.
        data_dir: see ``keras_gen.datasets.load``; used only for training.

    Returns:
        ``(model, info)``: the classifier (images in [0, 1] -> logits) and its protocol
        dict (``test_accuracy``, ``train_split``, ``train_images``, ...; ``weights``: the file).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a dataset name such as 'mnist' or 'fashion_mnist', got {name!r}.")
    key = name.lower().replace("-", "_")
    for directory in (SHIPPED_CLASSIFIER_DIR, classifier_cache_dir()):
        found = _load_saved(directory, key)
        if found is not None:
            return found
    if not train:
        raise FileNotFoundError(f"no domain classifier for {name!r} in {SHIPPED_CLASSIFIER_DIR} or "
                                f"{classifier_cache_dir()}; pass train=True or run recipes/domain_classifier.py.")
    print(f"keras_gen: no domain classifier for {name!r} yet; training one on its train split now "
          f"(recipe {CLASSIFIER_RECIPE}); it is cached in {classifier_cache_dir()}.")
    model, info = train_domain_classifier(key, data_dir=data_dir)
    path = save_domain_classifier(model, info, classifier_cache_dir(), key)
    print(f"keras_gen: domain classifier for {name!r}: test accuracy {info['test_accuracy']:.4f} on "
          f"{info['test_images']} test images, trained on {info['train_images']} images of {info['train_split']}.")
    return model, {**info, "weights": str(path)}


class FeatureExtractor:
    """Penultimate features and logits of a classifier, computed batch by batch in one
    compiled ``tf.function``.

    Args:
        classifier: a Keras model from images to logits with a layer named
            ``features_layer`` (``build_domain_classifier``'s layout by default).
        name: the extractor's name, recorded in every result's protocol.
        info: protocol details (test accuracy, train split, ...) recorded with results.
        batch_size: images per call of the compiled function.
        features_layer: name of the layer whose output are the features.

    Calling it on images in [0, 1] (float) or [0, 255] (uint8), shaped like the
    classifier's input, returns ``(features, logits)`` as float64 numpy arrays.

    Attributes:
        dataset_classes: True when the logits are over the dataset's own classes (needed
            by ``mode_coverage`` and ``conditional_accuracy``).
    """

    dataset_classes = True

    def __init__(self, classifier, name="domain classifier", info=None, batch_size=500, features_layer=FEATURES_LAYER):
        check_positive_int("batch_size", batch_size)
        try:
            features = classifier.get_layer(features_layer).output
        except ValueError:
            raise ValueError(f"classifier needs a layer named {features_layer!r} (see build_domain_classifier); "
                             f"{classifier.name} has none.") from None
        self.model = keras.Model(classifier.inputs, [features, classifier.outputs[0]])
        self.image_shape = tuple(classifier.inputs[0].shape[1:])
        self.num_classes = int(classifier.outputs[0].shape[-1])
        self.name, self.info, self.batch_size = name, dict(info or {}), batch_size
        self._forward = tf.function(self._logits_and_features, input_signature=[self._input_spec()], autograph=False)

    def _input_spec(self):
        return tf.TensorSpec((None, *self.image_shape), tf.float32)

    def _prepare(self, images):
        """Images in [0, 1] as the network takes them (inside the compiled function)."""
        return images

    def _logits_and_features(self, images):
        return self.model(self._prepare(images), training=False)

    def _check_shape(self, images, what):
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"{what} have shape {images.shape[1:]} per image; the extractor '{self.name}' takes "
                             f"{self.image_shape}.")

    def __call__(self, images, what="images"):
        images = unit_images(images, what)
        self._check_shape(images, what)
        parts = [self._forward(tf.constant(images[i:i + self.batch_size]))
                 for i in range(0, len(images), self.batch_size)]
        features, logits = (np.concatenate([p[j].numpy() for p in parts]).astype(np.float64) for j in (0, 1))
        if not (np.isfinite(features).all() and np.isfinite(logits).all()):
            raise ValueError(f"the extractor gave NaN/inf features for {what}.")
        return features, logits

    def protocol(self):
        """What results computed with this extractor record about it."""
        keys = ("test_accuracy", "test_images", "train_images", "train_split", "weights", "weights_md5", "input")
        return {"extractor": self.name, **{f"extractor_{k}": self.info[k] for k in keys if k in self.info}}


# keras.applications' InceptionV3 ImageNet weights (with the top): its file name, URL and MD5.
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                         + INCEPTION_WEIGHTS_FILE)
INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
INCEPTION_SIZE = 299


def inception_weights_path():
    """Where ``keras.applications.InceptionV3(weights="imagenet")`` keeps its weights:
    ``$KERAS_HOME/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5``."""
    return datasets._keras_home() / "models" / INCEPTION_WEIGHTS_FILE


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InceptionExtractor(FeatureExtractor):
    """ImageNet InceptionV3 (``keras.applications``): its 2048 average-pool features and
    1000 ImageNet logits, the networks papers report FID and Inception Score with.

    Images of any size are resized to 299x299 (bilinear), gray images tiled to 3
    channels and scaled from [0, 1] to [-1, 1] (InceptionV3's ``preprocess_input``),
    all inside the compiled function. About 13 images/s on 2 CPU cores, so FID of
    2,000 + 2,000 images takes about 5 minutes there.

    The Keras weights are the Keras port of InceptionV3, not the 2015 TensorFlow graph
    of the reference FID code (TTUR): numbers are close to, not identical with, papers'
    values. ``mode_coverage`` and ``conditional_accuracy`` refuse this extractor: its
    classes are ImageNet's, not the dataset's.

    Args:
        weights: path of the weights file; default ``inception_weights_path()``. A file
            whose MD5 differs from keras.applications' ImageNet file is used, but the
            extractor's name and protocol say so.
        download: fetch the weights when they are missing (default: yes, unless
            ``KERAS_GEN_OFFLINE=1`` or the machine has no network).
        batch_size: images per call (memory grows with it: 299x299 activations).
    """

    dataset_classes = False

    def __init__(self, weights=None, download=None, batch_size=50):
        check_positive_int("batch_size", batch_size)
        path = Path(weights) if weights is not None else inception_weights_path()
        if not path.is_file():
            if weights is not None or not datasets._download_allowed(download):
                raise FileNotFoundError(
                    f"InceptionV3 ImageNet weights not found at {path}. On a machine with network, run "
                    f"python -c \"import keras; keras.applications.InceptionV3()\" once "
                    f"(it stores {INCEPTION_WEIGHTS_FILE} in $KERAS_HOME/models/), or copy that file from "
                    f"{INCEPTION_WEIGHTS_URL} and pass weights=<its path>. Without it, use the domain classifier "
                    f"(extractor='domain').")
            path = Path(keras.utils.get_file(INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, cache_subdir="models",
                                             file_hash=INCEPTION_WEIGHTS_MD5))
        network = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None)
        try:
            network.load_weights(path)
        except Exception as err:  # h5py/keras raise OSError, ValueError, KeyError ... for a bad file
            raise ValueError(f"{path} is not a usable InceptionV3 weights file (expected keras.applications' "
                             f"{INCEPTION_WEIGHTS_FILE}, with the top): {type(err).__name__}: {err}") from None
        md5 = _md5(path)
        imagenet = md5 == INCEPTION_WEIGHTS_MD5
        name = ("InceptionV3 (ImageNet, keras.applications)" if imagenet else
                f"InceptionV3 (weights of {path.name}, NOT keras.applications' ImageNet file)")
        info = {"weights": str(path), "weights_md5": md5,
                "input": f"bilinear resize to {INCEPTION_SIZE}x{INCEPTION_SIZE}, gray tiled to 3 channels, [-1, 1]"}
        super().__init__(network, name=name, info=info, batch_size=batch_size, features_layer="avg_pool")
        self.image_shape = None  # any size, 1 or 3 channels

    def _input_spec(self):
        return tf.TensorSpec((None, None, None, None), tf.float32)

    def _prepare(self, images):
        images = tf.tile(images, [1, 1, 1, 3 // tf.shape(images)[-1]])  # 1 -> 3 channels; 3 stay
        images = tf.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
        return tf.ensure_shape(images, (None, INCEPTION_SIZE, INCEPTION_SIZE, 3)) * 2.0 - 1.0

    def _check_shape(self, images, what):
        if images.shape[-1] not in (1, 3):
            raise ValueError(f"{what} have {images.shape[-1]} channels; the InceptionV3 extractor takes 1 "
                             f"(gray, tiled) or 3 (RGB).")


EXTRACTORS = ("domain", "inception")
_EXTRACTORS = {}  # (dataset name, extractor) -> FeatureExtractor: load the weights and trace once per process


def extractor_for(dataset="mnist", extractor="domain"):
    """The ``FeatureExtractor`` metrics use, loaded once per process.

    Args:
        dataset: a dataset name (its domain classifier, see ``domain_classifier``), or a
            ``FeatureExtractor`` (returned as it is).
        extractor: ``"domain"`` (the dataset's domain classifier), ``"inception"``
            (``InceptionExtractor()``, whatever the dataset), or a ``FeatureExtractor``
            (returned as it is).
    """
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if extractor not in EXTRACTORS:
        raise ValueError(f"extractor must be one of {EXTRACTORS} or a FeatureExtractor, got {extractor!r}.")
    if extractor == "inception":
        if "inception" not in _EXTRACTORS:
            _EXTRACTORS["inception"] = InceptionExtractor()
        return _EXTRACTORS["inception"]
    if isinstance(dataset, FeatureExtractor):
        return dataset
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name or a FeatureExtractor, got {type(dataset).__name__}.")
    if dataset not in _EXTRACTORS:
        model, info = domain_classifier(dataset)
        _EXTRACTORS[dataset] = FeatureExtractor(model, name=f"keras_gen domain classifier ({info['dataset']})",
                                                info=info)
    return _EXTRACTORS[dataset]
