"""Using an export from ``keras_gen.export``: find it, check inputs against its
``keras_gen.json`` before TensorFlow sees them, call its signatures, evaluate it.

The ``keras-gen sample`` and ``keras-gen evaluate`` commands are thin wrappers of
``load_export`` / ``Export.sample`` / ``evaluate_export``.

Example:
    >>> served = load_export("saved_models/dcgan")            # the newest version
    >>> images = served.sample(64, seed=0)                    # numpy, [0, 1]
    >>> evaluate_export(served, "mnist", num_samples=2000)["fid"]
"""


import keras
import numpy as np
import tensorflow as tf

from keras_gen import datasets, metrics
from keras_gen.autoregressive import quantize
from keras_gen.classifiers import extractor_for
from keras_gen.errors import ExportError, InvalidInputError, NotAnExportError, UnsupportedModelError  # noqa: F401 (NotAnExportError: public here since 0.1.0)
from keras_gen.layers import corrupt
from keras_gen.layout import find_export, list_exports, read_metadata  # noqa: F401 (list_exports: public here too)
from keras_gen.utils import is_int


def _batches(num, batch_size, progress):
    bar = keras.utils.Progbar(num, unit_name="image") if progress and num > batch_size else None
    for start in range(0, num, batch_size):
        stop = min(num, start + batch_size)
        yield start, stop
        if bar is not None:
            bar.update(stop)


def as_unit(images):
    """Images from an export as float32 in [0, 1] (a uint8 export's 0..255 are divided by 255)."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


class Export:
    """A loaded export: its signatures, with inputs checked against its metadata.

    Attributes:
        path: the version folder.
        metadata: the parsed ``keras_gen.json``.
        signatures: names of the export's signatures.
    """

    def __init__(self, path):
        self.path = find_export(path)
        self.metadata = read_metadata(self.path)
        self.signatures = list(self.metadata.get("signatures", {}))
        self._served = None

    @property
    def kind(self):
        return self.metadata.get("kind", "unknown")

    @property
    def num_classes(self):
        return self.metadata.get("num_classes") if self.metadata.get("conditional") else None

    def _signature(self, name):
        if name not in self.signatures:
            raise UnsupportedModelError(f"this export ({self.kind}, {self.path}) has no {name!r} signature; it has "
                                        f"{', '.join(self.signatures)}.")
        if self._served is None:
            try:
                self._served = tf.saved_model.load(str(self.path))
            except Exception as err:  # truncated or foreign files: name the export, not a traceback
                raise ExportError(f"cannot load the SavedModel in {self.path} ({type(err).__name__}: "
                                  f"{str(err)[:200]}); the export is damaged: export the model again.") from None
        return self._served.signatures[name]

    def check_labels(self, labels, num):
        """``labels`` as int32 ``(num,)``, checked against the model's classes: None gives
        0, 1, 2, ... cycling for a conditional model; a single int is repeated."""
        if self.num_classes is None:
            if labels is not None:
                raise InvalidInputError(f"this export ({self.kind}) is not conditional: it takes no label.")
            return None
        labels = np.arange(num) % self.num_classes if labels is None else np.broadcast_to(labels, (num,))
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= self.num_classes:
            bad = labels[(labels < 0) | (labels >= self.num_classes)] if labels.dtype.kind in "iu" else labels
            raise InvalidInputError(f"label {bad.reshape(-1)[0].item()!r} is out of range: this model has "
                                    f"{self.num_classes} classes, 0 to {self.num_classes - 1}.")
        return labels.astype(np.int32)

    def check_z(self, z):
        """``z`` as float32, checked against the export's latent shape."""
        shape = tuple(self.metadata.get("latent_shape") or ())
        z = np.asarray(z, np.float32)
        if not shape:
            raise InvalidInputError(f"this export ({self.kind}) takes no latent vectors z.")
        if z.ndim != len(shape) + 1 or z.shape[1:] != shape:
            raise InvalidInputError(f"z must have shape (N, {', '.join(map(str, shape))}) for this model, "
                                    f"got {z.shape}.")
        if not np.isfinite(z).all():
            raise InvalidInputError("z holds NaN or infinite values.")
        return z

    def sample(self, num, seed=0, labels=None, batch_size=None, progress=False):
        """``num`` images in [0, 1] from the ``sample`` signature. With ``batch_size``,
        images ``k * batch_size ...`` come from one call each, with seed ``seed + k``.

        Args:
            num: number of images (>= 1).
            seed: integer seed: the same seed gives the same images.
            labels: for a conditional model: one class id (repeated), ``num`` ids, or
                None for 0, 1, 2, ... cycling.
            batch_size: images per call (default: all in one call).
            progress: show a progress bar when there is more than one call.
        """
        if not is_int(num) or num < 1:
            raise ValueError(f"num must be an integer >= 1, got {num!r}.")
        signature = self._signature("sample")
        labels = self.check_labels(labels, num)
        parts = []
        for k, (start, stop) in enumerate(_batches(num, batch_size or num, progress)):
            inputs = {"seed": tf.constant(seed + k, tf.int64)}
            if labels is None:
                inputs["num"] = tf.constant(stop - start, tf.int32)
            else:
                inputs["label"] = tf.constant(labels[start:stop])
            parts.append(signature(**inputs)["image"].numpy())
        return as_unit(np.concatenate(parts))

    def decode(self, z, labels=None):
        """Images in [0, 1] for latent vectors ``z`` [and labels] (``serving_default``)."""
        z = self.check_z(z)
        inputs = {"z": tf.constant(z)}
        labels = self.check_labels(labels, len(z))
        if labels is not None:
            inputs["label"] = tf.constant(labels)
        return as_unit(self._signature("serving_default")(**inputs)["image"].numpy())

    def call(self, name, batch_size=256, progress=False, **inputs):
        """Calls signature ``name`` on numpy inputs in batches; returns a dict of numpy arrays."""
        signature = self._signature(name)
        num = len(next(iter(inputs.values())))
        outputs = {}
        for start, stop in _batches(num, batch_size, progress):
            result = signature(**{key: tf.constant(value[start:stop]) for key, value in inputs.items()})
            for key, value in result.items():
                outputs.setdefault(key, []).append(value.numpy())
        return {key: np.concatenate(values) for key, values in outputs.items()}


def load_export(path):
    """An ``Export`` of ``path`` (a version folder, or a model folder: its newest version)."""
    return Export(path)


def evaluate_export(export, dataset=None, num_samples=2000, seed=0, batch_size=256, progress=False,
                    extractor="domain"):
    """Scores an export on a dataset's test split, each result with its protocol.

    - ``sample`` signature (GANs, VAEs, PixelCNN): FID, KID, classifier score,
      precision/recall and mode coverage of ``num_samples`` samples against as many test
      images (``metrics.evaluate_samples``, the dataset's domain classifier), plus the
      conditional accuracy of a conditional model (labels cycling over the classes).
    - ``nll`` (PixelCNN): exact test NLL in nats/image and bits/dim, on test images
      binarized with a fixed seed (2 levels) or quantized to the model's levels.
    - ``reconstruct`` / ``denoise`` (autoencoders, VAEs): mean squared error per pixel on
      the test split; ``denoise`` gets test images corrupted with the training noise.

    Args:
        export: an ``Export`` or a path for ``load_export``.
        dataset: the test split's dataset; default: the one in ``keras_gen.json``.
        num_samples: samples (and test images) for the sample-quality scores (>= 2).
        seed: seed of sampling, binarization and corruption.
        batch_size: images per call of the nll, reconstruct and denoise signatures.
        progress: show progress bars.
        extractor: features of the sample scores: ``"domain"`` (the dataset's domain
            classifier) or ``"inception"`` (ImageNet InceptionV3, when its weights are
            present; then no mode coverage or conditional accuracy).

    Returns:
        A dict of results (only those the export supports), each with a ``protocol``.
    """
    export = export if isinstance(export, Export) else load_export(export)
    dataset = dataset or export.metadata.get("dataset")
    if not dataset:
        raise ValueError(f"{export.path} does not record its training dataset; name one (e.g. dataset='mnist').")
    if not is_int(num_samples) or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}.")
    test, info = datasets.load(dataset, split="test", labels=True, shuffle=False, with_info=True)
    x_test, y_test = datasets.to_numpy(test)
    if list(x_test.shape[1:]) != list(export.metadata["image_shape"]):
        raise ValueError(f"{dataset} test images have shape {x_test.shape[1:]}, but the export makes "
                         f"{tuple(export.metadata['image_shape'])} images.")
    split = f"{info.num_examples} {info.name} test images ({info.source})"
    results = {}
    if "sample" in export.signatures:
        extractor_for(info.name, extractor)  # load (or refuse) the extractor before sampling
        num = min(num_samples, len(x_test))
        labels = export.check_labels(None, num)
        # One call gives exactly model.sample(num, seed); a sequential sampler (PixelCNN)
        # declares a batch size in its metadata and samples in batches, with progress.
        batch = export.metadata.get("sample_batch") or num
        generated = export.sample(num, seed=seed, labels=labels, batch_size=batch, progress=progress)
        scores = metrics.evaluate_samples(x_test, generated, dataset=info.name, num_samples=num, seed=seed,
                                          extractor=extractor)
        scores["protocol"]["sampling"] = (f"export signature 'sample', seed {seed}" if batch >= num else
                                          f"export signature 'sample', {batch} images per call with seeds "
                                          f"{seed}, {seed + 1}, ...")
        if labels is not None and "not_computed" not in scores["protocol"]:
            accuracy = metrics.conditional_accuracy((generated, labels), dataset=info.name)
            scores["conditional_accuracy"] = accuracy["conditional_accuracy"]
        results["sample_quality"] = scores
    if "nll" in export.signatures:
        levels = export.metadata["levels"]
        if levels == 2:
            x, _ = datasets.to_numpy(datasets.load(dataset, split="test", labels=True, shuffle=False,
                                                   binarize="static", seed=seed))
            pixels = f"binarized with fixed seed {seed} (static)"
        else:
            x, pixels = quantize(x_test, levels), f"quantized to {levels} levels"
        inputs = {"image": x} if export.num_classes is None else {"image": x, "label": y_test.astype(np.int32)}
        scored = export.call("nll", batch_size=batch_size, progress=progress, **inputs)
        results["likelihood"] = {
            "nll": float(scored["nll"].mean()),
            "nll_std_error": float(scored["nll"].std(ddof=1) / np.sqrt(len(x))),
            "bits_per_dim": float(scored["bits_per_dim"].mean()),
            "protocol": {"split": split, "pixels": pixels, "estimate": "exact (autoregressive)",
                         "conditional": "given the label, -log p(x|y)" if export.num_classes else None},
        }
    for name in ("reconstruct", "denoise"):
        if name in export.signatures:
            x_in, note = x_test, "clean test images in, clean out"
            if name == "denoise":
                noise = export.metadata["noise"]
                x_in = keras.ops.convert_to_numpy(corrupt(x_test, noise["kind"], noise["amount"], seed=seed))
                note = (f"test images with {noise['kind']} noise (amount {noise['amount']:g}, seed {seed}) in, "
                        "clean target")
            inputs = ({"image": x_in} if export.num_classes is None else
                      {"image": x_in, "label": y_test.astype(np.int32)})
            out = as_unit(export.call(name, batch_size=batch_size, progress=progress, **inputs)["image"])
            results[name] = {"mse": float(np.mean((out - x_test) ** 2)),
                             "protocol": {"split": split, "input": note,
                                          "error": "mean squared error per pixel, [0, 1] scale"}}
    return results
