"""SavedModel export in the TF-Serving layout: ``saved_models/<name>/<version>/``.

A client needs only TensorFlow (or a TF-Serving server) to use an export: signatures
have named inputs, dict outputs and a dynamic batch. A ``keras_gen.json`` beside the
model says what it is.

Example:
    >>> path = export_generator(vae.decoder, "vae")       # saved_models/vae/1/
    >>> served = tf.saved_model.load(str(path))
    >>> served.signatures["sample"](seed=tf.constant(0, tf.int64), num=tf.constant(16))["image"]
"""

import json
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from keras_gen import __version__
from keras_gen.pixelcnn import PixelCNN

METADATA_FILE = "keras_gen.json"


def next_version(model_dir):
    """1 + the largest integer version folder in ``model_dir`` (1 when there is none)."""
    model_dir = Path(model_dir)
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] if model_dir.is_dir() else []
    return max(versions, default=0) + 1


def _version_dir(name, base_dir, version, overwrite):
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"name must be a non-empty folder name without '/', got {name!r}.")
    if version is None:
        version = next_version(Path(base_dir) / name)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be an integer >= 1 (TF-Serving's layout), got {version!r}.")
    path = Path(base_dir) / name / str(version)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True or another version to replace it.")
    return path


def _write(archive, path, metadata):
    """Writes into a temporary folder first, so a failed export leaves ``path`` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        archive.write_out(str(tmp / "model"), verbose=False)
        (tmp / "model" / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if path.exists():
            shutil.rmtree(path)
        (tmp / "model").rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def export_generator(
    generator,
    name,
    base_dir="saved_models",
    version=None,
    overwrite=False,
    value_range=(0.0, 1.0),
    num_classes=None,
    kind="generator",
    dataset=None,
):
    """Exports a generator (z -> image, or [z, label] -> image) as a SavedModel.

    Signatures, both returning ``{"image": float32 (N, H, W, C) in [0, 1]}``:
        ``serving_default``: ``z`` (N, latent_dim) float32 [and ``label`` (N,) int32].
        ``sample``: ``seed`` int64 scalar and ``num`` int32 scalar [or ``label`` (N,)
        int32 for a conditional generator]; z ~ N(0, I) is drawn with stateless random
        ops, so the same seed gives the same images.

    Args:
        generator: a Keras model whose first input is z (and second, if any, the label).
        name: the model's folder under ``base_dir``.
        version: integer version; default: the next free one.
        overwrite: replace an existing version folder instead of refusing.
        value_range: ``(low, high)`` range of the generator's output; rescaled to [0, 1].
        num_classes: for a conditional generator: labels outside ``[0, num_classes)``
            are refused by the signatures with a clear error.
        kind, dataset: recorded in ``keras_gen.json``.

    Returns:
        The version folder's ``Path``.
    """
    if not isinstance(generator, keras.Model) or not generator.built:
        raise ValueError(f"generator must be a built keras.Model, got {type(generator).__name__}.")
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range!r}.")
    path = _version_dir(name, base_dir, version, overwrite)
    latent_dim = int(generator.inputs[0].shape[-1])
    conditional = len(generator.inputs) > 1

    if conditional and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(f"a conditional generator needs num_classes, an integer >= 2, got {num_classes!r}.")

    def checked(label):
        message = f"label must lie in [0, {num_classes - 1}]"
        with tf.control_dependencies([
            tf.debugging.assert_non_negative(label, message=message),
            tf.debugging.assert_less(label, tf.constant(num_classes, tf.int32), message=message),
        ]):
            return tf.identity(label)

    def to_unit(images):
        return tf.clip_by_value((tf.cast(images, tf.float32) - low) / (high - low), 0.0, 1.0)

    z_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="z")
    label_spec = tf.TensorSpec((None,), tf.int32, name="label")
    seed_spec = tf.TensorSpec((), tf.int64, name="seed")
    archive = keras.export.ExportArchive()
    archive.track(generator)
    if conditional:
        archive.add_endpoint(
            "serving_default",
            lambda z, label: {"image": to_unit(generator([z, checked(label)], training=False))},
            input_signature=[z_spec, label_spec],
        )
        archive.add_endpoint(
            "sample",
            lambda seed, label: {"image": to_unit(generator(
                [tf.random.stateless_normal((tf.shape(label)[0], latent_dim), seed=tf.stack([seed, 0])), checked(label)],
                training=False,
            ))},
            input_signature=[seed_spec, label_spec],
        )
    else:
        archive.add_endpoint(
            "serving_default",
            lambda z: {"image": to_unit(generator(z, training=False))},
            input_signature=[z_spec],
        )
        archive.add_endpoint(
            "sample",
            lambda seed, num: {"image": to_unit(generator(
                tf.random.stateless_normal((num, latent_dim), seed=tf.stack([seed, 0])), training=False
            ))},
            input_signature=[seed_spec, tf.TensorSpec((), tf.int32, name="num")],
        )
    metadata = {
        "kind": kind,
        "keras_gen_version": __version__,
        "latent_dim": latent_dim,
        "conditional": conditional,
        "num_classes": num_classes if conditional else None,
        "image_shape": list(generator.outputs[0].shape[1:]),
        "output_range": [0.0, 1.0],
        "trained_range": [low, high],
        "dataset": dataset,
        "signatures": {
            "serving_default": ["z", "label"] if conditional else ["z"],
            "sample": ["seed", "label"] if conditional else ["seed", "num"],
        },
    }
    return _write(archive, path, metadata)


def export_pixelcnn(model, name, base_dir="saved_models", version=None, overwrite=False, dataset=None):
    """Exports a PixelCNN's compiled sampler and exact likelihood as a SavedModel.

    Signatures:
        ``sample`` (also ``serving_default``): ``seed`` int64 scalar and ``num`` int32
        scalar [or ``label`` (N,) int32 for a conditional model] -> ``{"image": float32
        (N, H, W, C) in [0, 1]}``. The same stateless draws as ``model.sample`` /
        ``model.generate``: the same seed gives the same images, here and in Keras.
        ``nll``: ``image`` (N, H, W, C) float32 on the level grid [and ``label``] ->
        ``{"nll": (N,) nats per image, "bits_per_dim": (N,)}``, exact.
        Labels outside ``[0, num_classes)`` and images off the level grid are refused.

    Args:
        model: a ``keras_gen.pixelcnn.PixelCNN``.
        name, base_dir, version, overwrite, dataset: see ``export_generator``.

    Returns:
        The version folder's ``Path``.
    """
    if not isinstance(model, PixelCNN):
        raise TypeError(f"model must be a keras_gen PixelCNN, got {type(model).__name__}.")
    path = _version_dir(name, base_dir, version, overwrite)
    shape = model.image_shape
    seed_spec = tf.TensorSpec((), tf.int64, name="seed")
    label_spec = tf.TensorSpec((None,), tf.int32, name="label")
    image_spec = tf.TensorSpec((None,) + tuple(shape), tf.float32, name="image")

    def scored(image, label=None):
        nll = model.image_nll(image, label, training=False)
        return {"nll": nll, "bits_per_dim": nll * model.bits_per_nat}

    archive = keras.export.ExportArchive()
    archive.track(model.network)
    if model.conditional:
        sample = tf.function(lambda seed, label: {"image": model.sample_graph(seed, labels=label)},
                             input_signature=[seed_spec, label_spec])
        archive.add_endpoint("nll", lambda image, label: scored(image, label), input_signature=[image_spec, label_spec])
    else:
        sample = tf.function(lambda seed, num: {"image": model.sample_graph(seed, num=num)},
                             input_signature=[seed_spec, tf.TensorSpec((), tf.int32, name="num")])
        archive.add_endpoint("nll", scored, input_signature=[image_spec])
    archive.add_endpoint("sample", sample)
    archive.add_endpoint("serving_default", sample)
    inputs = ["seed", "label"] if model.conditional else ["seed", "num"]
    metadata = {
        "kind": "PixelCNN",
        "keras_gen_version": __version__,
        "levels": model.levels,
        "conditional": model.conditional,
        "num_classes": model.num_classes,
        "image_shape": list(shape),
        "output_range": [0.0, 1.0],
        "dataset": dataset,
        "signatures": {"sample": inputs, "serving_default": inputs,
                       "nll": ["image", "label"] if model.conditional else ["image"]},
    }
    return _write(archive, path, metadata)
