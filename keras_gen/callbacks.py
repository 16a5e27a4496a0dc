"""Keras callbacks of keras_gen: KL warm-up for VAEs; sample grids from fixed noise,
sample-quality scores with best-model checkpoints, non-finite loss detection and a
mode-collapse warning for generative models.

Sampling callbacks take any ``keras_gen.base.GenerativeModel`` (VAEs, GANs, PixelCNN):
they call its ``sample(num, seed)``, which returns images in [0, 1]. To resume an interrupted run with its optimizer
state, add ``ChiefBackupAndRestore(backup_dir)`` (Keras's ``BackupAndRestore``, safe with
several workers): keras_gen models save both optimizers and the noise generator's state
with their weights.
"""

import json
import math
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gen import plotting
from keras_gen.base import GenerativeModel
from keras_gen.classifiers import EXTRACTORS, extractor_for
from keras_gen.distribute import is_chief
from keras_gen.metrics import (
    collect_images,
    fid_from_features,
    inception_score,
    kid_from_features,
    mean_pairwise_distance,
    precision_recall_from_features,
)
from keras_gen.utils import check_every, check_positive_int, due, is_int, unit_images


class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` for one process or several workers: every
    worker restores from ``backup_dir`` when ``fit`` starts, and only the chief writes (and
    at the end deletes) the backup, at the end of each epoch. Keras's own callback has
    every worker write the same files at once. With several machines, ``backup_dir`` must
    be a folder they all see (a shared file system or a bucket).

    A job killed mid-epoch and started again with the same command resumes at the start
    of that epoch from the weights, optimizer state and noise state of the last finished
    one: the finished epochs are kept, the unfinished one runs again.

    Args:
        backup_dir: the backup folder (used by this run only).
        data: the training ``tf.data.Dataset`` when it reshuffles every epoch (as
            ``keras_gen.datasets.load`` does for the train split, and its dynamic
            binarization): a dataset draws a new order each time an iterator is opened
            on it, so a restarted process would begin again with the first epoch's
            order. On resume at epoch k the callback opens the iterators the k finished
            epochs opened, so the resumed epochs see the batches of an uninterrupted run.
            This holds for ``fit`` without ``steps_per_epoch``: Keras 3's epoch iterator
            then opens one iterator at the start of each epoch and, when the dataset's
            length is known, one more at its end (tested in tests/test_distribute.py).
        double_checkpoint: keep the previous backup too, used when the last one cannot
            be read (a process killed while writing it).
    """

    def __init__(self, backup_dir, data=None, double_checkpoint=True):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=double_checkpoint)
        self.data = data

    def _writes(self):
        return is_chief(self.model.distribute_strategy)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        metadata = Path(self.backup_dir) / "training_metadata.json"
        if self.data is not None and metadata.is_file():
            per_epoch = 2 if int(self.data.cardinality()) > 0 else 1
            for _ in range(per_epoch * json.loads(metadata.read_text())["epoch"]):
                iter(self.data)  # each new iterator takes the next order (nothing is read)

    def on_epoch_end(self, epoch, logs=None):
        if self._writes():
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self._writes():
            super().on_train_end(logs)


class KLWarmUp(keras.callbacks.Callback):
    """Raises a VAE's KL weight ``beta`` linearly from ``start`` to ``target`` over the
    first ``epochs`` epochs, updated every batch (Bowman et al. 2016; Sønderby et al.
    2016): the decoder learns to use z before the KL term pulls q(z|x) to the prior.

    Args:
        epochs: length of the warm-up in epochs (> 0).
        start: beta at the first step (>= 0).
        target: beta at the end of the warm-up; default: the model's ``beta`` when
            training begins.

    ``beta`` is logged at each epoch's end, so ``History`` shows the schedule.

    Example:
        >>> vae.fit(train, epochs=30, callbacks=[KLWarmUp(epochs=10)])
    """

    def __init__(self, epochs=10, start=0.0, target=None):
        super().__init__()
        if not isinstance(epochs, (int, float)) or epochs <= 0:
            raise ValueError(f"epochs must be a number > 0, got {epochs!r}.")
        if not isinstance(start, (int, float)) or start < 0:
            raise ValueError(f"start must be a number >= 0, got {start!r}.")
        if target is not None and (not isinstance(target, (int, float)) or target < 0):
            raise ValueError(f"target must be None or a number >= 0, got {target!r}.")
        self.epochs = epochs
        self.start = float(start)
        self.target = target
        self._target = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "beta"):
            raise ValueError(f"KLWarmUp needs a model with a `beta` weight (a VAE), got {type(self.model).__name__}.")
        self._target = float(self.model.beta.numpy()) if self.target is None else float(self.target)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params.get("steps") or 1  # unknown length: one update per epoch
        progress = min(1.0, (self._epoch + min(batch, steps) / steps) / self.epochs)
        self.model.beta.assign(self.start + (self._target - self.start) * progress)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(self.model.beta.numpy())

    def get_config(self):
        return {"epochs": self.epochs, "start": self.start, "target": self.target}


def _check_sampler(model, callback):
    if not isinstance(model, GenerativeModel):
        raise ValueError(f"{callback} needs a keras_gen generative model (VAE, GAN, PixelCNN, ...), whose "
                         f"sample(num, seed) it calls; got {type(model).__name__}.")


class SampleGrid(keras.callbacks.Callback):
    """Draws the model's samples from the same fixed noise every ``every`` epochs, so the
    grids show one set of latent vectors changing as training goes on.

    Writes ``<directory>/<prefix>_epoch_<NNN>.png`` and, with ``log_dir``, a TensorBoard
    image summary ``<prefix>`` (one tiled image per epoch, step = epoch number). A
    ``ConditionalGAN``'s samples cycle through the classes, so with ``ncols`` equal to
    the number of classes each column is one class.

    Args:
        directory: folder for the PNGs (created), or None for TensorBoard only.
        every: draw after every ``every``-th epoch (and after the last one).
        num: number of samples; ncols: grid columns.
        seed: seed of the fixed noise.
        log_dir: TensorBoard log folder (use the TensorBoard callback's ``log_dir`` to
            see both in one run), or None.
        prefix: file and summary name.

    Attributes:
        paths: the PNGs written so far.
    """

    def __init__(self, directory=None, every=1, num=64, ncols=8, seed=0, log_dir=None, prefix="samples"):
        super().__init__()
        check_every(every)
        if directory is None and log_dir is None:
            raise ValueError("give a directory for PNGs, a TensorBoard log_dir, or both; got neither.")
        if not is_int(num) or num < 1 or not is_int(ncols) or ncols < 1:
            raise ValueError(f"num and ncols must be integers >= 1, got num={num!r}, ncols={ncols!r}.")
        self.directory = None if directory is None else Path(directory)
        self.log_dir, self.every, self.num, self.ncols, self.seed, self.prefix = (
            log_dir, every, num, ncols, seed, prefix)
        self.paths = []
        self._writer = None

    def on_train_begin(self, logs=None):
        _check_sampler(self.model, "SampleGrid")
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        if not due(epoch, self.every, self.params.get("epochs")):
            return
        images = self.model.sample(self.num, seed=self.seed)
        if self.directory is not None:
            path = self.directory / f"{self.prefix}_epoch_{epoch + 1:03d}.png"
            plotting.plot_image_grid(images, ncols=self.ncols, path=path,
                                     title=f"{self.model.name}: epoch {epoch + 1}, fixed noise (seed {self.seed})")
            self.paths.append(path)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.prefix, plotting.tile_images(images, self.ncols)[None], step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        return {"directory": None if self.directory is None else str(self.directory), "every": self.every,
                "num": self.num, "ncols": self.ncols, "seed": self.seed, "log_dir": self.log_dir,
                "prefix": self.prefix}


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first batch whose logged losses or metrics include NaN or
    inf, and says which value went bad and where: Keras's ``TerminateOnNaN`` watches
    ``loss`` only, which a GAN does not log.

    Args:
        monitor: names of the logged values to watch; default: all of them.

    Attributes:
        message: None, or the message printed when training was stopped.
    """

    def __init__(self, monitor=None):
        super().__init__()
        self.monitor = None if monitor is None else [monitor] if isinstance(monitor, str) else list(monitor)
        self.message = None
        self._epoch = 0
        self._step = 0

    def on_train_begin(self, logs=None):
        self.message, self._step = None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        bad = {name: value for name, value in (logs or {}).items()
               if (self.monitor is None or name in self.monitor) and np.ndim(value) == 0
               and not math.isfinite(float(value))}
        if bad:
            values = ", ".join(f"{name} = {value}" for name, value in bad.items())
            self.message = (f"training stopped: {values} at epoch {self._epoch + 1}, batch {batch + 1} "
                            f"(step {self._step} of this fit). Try a lower learning rate, another loss, or "
                            "check the data.")
            print(self.message, file=sys.stderr)
            self.model.stop_training = True

    def get_config(self):
        return {"monitor": self.monitor}


class ModeCollapseMonitor(keras.callbacks.Callback):
    """Warns when generated samples are much less varied than real images: a sign of
    mode collapse (the generator covering few modes of the data).

    Every ``every`` epochs it draws ``num`` samples with a fixed seed and logs
    ``diversity``: their mean pairwise distance divided by that of ``num`` real images
    (about 1 for a healthy generator, near 0 when all samples look alike). Below
    ``threshold`` it warns (``UserWarning``), and stops training when ``stop=True``.

    Args:
        real_images: real images in [0, 1] (what ``sample`` returns), at least ``num``.
        every: check after every ``every``-th epoch.
        num: images per set (>= 2).
        threshold: warn below this diversity ratio, in (0, 1].
        stop: also stop training.
        seed: seed of the samples.

    Attributes:
        history: ``(epoch, diversity)`` pairs.
    """

    def __init__(self, real_images, every=1, num=256, threshold=0.3, stop=False, seed=0):
        super().__init__()
        check_every(every)
        if not is_int(num) or num < 2:
            raise ValueError(f"num must be an integer >= 2, got {num!r}.")
        if not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}.")
        real = np.asarray(real_images, np.float32)
        if len(real) < num:
            raise ValueError(f"real_images has {len(real)} images; num={num} needs at least that many.")
        if not np.isfinite(real).all() or real.min() < 0.0 or real.max() > 1.0:
            raise ValueError("real_images must be finite and in [0, 1] (the range sample() returns), got values in "
                             f"[{np.nanmin(real):g}, {np.nanmax(real):g}].")
        self.real_distance = mean_pairwise_distance(real[np.random.default_rng(seed).permutation(len(real))[:num]])
        self.every, self.num, self.threshold, self.stop, self.seed = every, num, float(threshold), stop, seed
        self.history = []

    def on_train_begin(self, logs=None):
        _check_sampler(self.model, "ModeCollapseMonitor")

    def on_epoch_end(self, epoch, logs=None):
        if not due(epoch, self.every, self.params.get("epochs")):
            return
        images = self.model.sample(self.num, seed=self.seed)
        diversity = mean_pairwise_distance(images) / self.real_distance if np.isfinite(images).all() else 0.0
        self.history.append((epoch + 1, diversity))
        if logs is not None:
            logs["diversity"] = diversity
        if diversity < self.threshold:
            warnings.warn(f"possible mode collapse at epoch {epoch + 1}: the samples' mean pairwise distance is "
                          f"{diversity:.2f} times that of real images (threshold {self.threshold}).", stacklevel=2)
            if self.stop:
                self.model.stop_training = True

    def get_config(self):
        return {"every": self.every, "num": self.num, "threshold": self.threshold, "stop": self.stop,
                "seed": self.seed}


CALLBACK_METRICS = {"fid": "min", "kid": "min", "classifier_score": "max", "precision": "max", "recall": "max"}


@keras.saving.register_keras_serializable(package="keras_gen")
class SampleQuality(keras.callbacks.Callback):
    """Measures a generator's samples every ``every`` epochs (and after the last one),
    logs the score and keeps the best model (GAN quality often peaks, then degrades).

    At the end of each measured epoch, ``num_samples`` images from
    ``model.sample(num_samples, seed=seed)`` (the same z every time) are scored against
    a fixed set of ``num_samples`` real images. The score goes into ``logs[metric]``, so
    ``History`` and a ``keras.callbacks.TensorBoard`` listed *after* this callback
    record it (only measured epochs carry it); with ``log_dir`` it is also written as a
    ``tf.summary`` scalar ``sample_quality/<metric>`` (step: the 0-based epoch, as Keras's
    own epoch scalars). With ``checkpoint_path`` the model is saved there whenever the
    score improves (lower FID/KID, higher others).

    Args:
        real: real images in [0, 1] (or uint8): an array, ``(images, labels)``, a batched
            ``tf.data`` dataset or a split name of ``dataset``.
        metric: one of ``CALLBACK_METRICS``: ``"fid"``, ``"kid"``, ``"classifier_score"``,
            ``"precision"``, ``"recall"``.
        dataset: name of the dataset whose domain classifier extracts features.
        every: measure after every ``every``-th epoch (>= 1) and after the last one.
        num_samples: images per set (a seeded subset of ``real``).
        seed: seed of the real subset and of the generated draws.
        checkpoint_path: a ``.keras`` path for the best model, or None.
        log_dir: a TensorBoard folder for the scalar, or None.
        verbose: print one line per measurement.
        extractor: ``"domain"`` or ``"inception"`` (see ``fid``; InceptionV3 costs about
            1 s per 13 images on 2 CPU cores).

    Attributes:
        best, best_epoch: best score so far and its (0-based) epoch; ``history``: a list
        of ``(epoch, score)``.

    Example:
        >>> quality = SampleQuality("test", metric="fid", dataset="fashion_mnist", every=5,
        ...                         checkpoint_path="best.keras")
        >>> gan.fit(train, epochs=50, callbacks=[quality, keras.callbacks.TensorBoard("logs")])
    """

    def __init__(self, real, metric="fid", dataset="mnist", every=1, num_samples=1000, seed=0,
                 checkpoint_path=None, log_dir=None, verbose=1, extractor="domain"):
        super().__init__()
        if metric not in CALLBACK_METRICS:
            raise ValueError(f"metric must be one of {sorted(CALLBACK_METRICS)}, got {metric!r}.")
        check_every(every)
        check_positive_int("num_samples", num_samples)
        if checkpoint_path is not None and not str(checkpoint_path).endswith(".keras"):
            raise ValueError(f"checkpoint_path must end in '.keras' (model.save's format), got {checkpoint_path!r}.")
        self.real, self.metric, self.dataset, self.every = real, metric, dataset, every
        self.num_samples, self.seed, self.checkpoint_path = num_samples, seed, checkpoint_path
        if extractor not in EXTRACTORS:
            raise ValueError(f"extractor must be one of {EXTRACTORS}, got {extractor!r}.")
        self.log_dir, self.verbose, self.extractor = log_dir, verbose, extractor
        self.sign = 1.0 if CALLBACK_METRICS[metric] == "min" else -1.0
        self.best, self.best_epoch, self.history = None, None, []
        self._extractor = self._real = self._writer = None

    def on_train_begin(self, logs=None):
        _check_sampler(self.model, "SampleQuality")
        if self._real is None:  # the real features are computed once, also over several fits
            self._extractor = extractor_for(self.dataset, self.extractor)
            name = self.dataset if isinstance(self.dataset, str) else None
            self._real = self._extractor(
                collect_images(self.real, self.num_samples, self.seed, "real", name)[0], "real")
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def score(self):
        """The metric of ``num_samples`` images the model samples now with ``seed``."""
        images = unit_images(self.model.sample(self.num_samples, seed=self.seed), "generated")
        features, logits = self._extractor(images, "generated")
        real_features, _ = self._real
        if self.metric == "fid":
            return fid_from_features(real_features, features)
        if self.metric == "kid":
            return kid_from_features(real_features, features, 100, None, self.seed)[0]
        if self.metric == "classifier_score":
            return inception_score(logits, 10, self.seed)[0]
        precision, recall = precision_recall_from_features(real_features, features, 3)
        return precision if self.metric == "precision" else recall

    def on_epoch_end(self, epoch, logs=None):
        if not due(epoch, self.every, self.params.get("epochs")):
            return
        value = self.score()
        self.history.append((epoch, value))
        if logs is not None:
            logs[self.metric] = value
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.scalar(f"sample_quality/{self.metric}", value, step=epoch)
            self._writer.flush()
        improved = self.best is None or self.sign * value < self.sign * self.best
        if improved:
            self.best, self.best_epoch = value, epoch
            if self.checkpoint_path is not None:
                self.model.save(self.checkpoint_path)
        if self.verbose:
            saved = f"; saved to {self.checkpoint_path}" if improved and self.checkpoint_path else ""
            print(f"epoch {epoch + 1}: {self.metric} {value:.4f} ({self.num_samples} samples, seed {self.seed}, "
                  f"{self._extractor.name}){' best so far' if improved else ''}{saved}")

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        """The arguments; ``real`` only when it is a split name (arrays are not serialised)."""
        real = self.real if isinstance(self.real, str) else None
        return {"real": real, "metric": self.metric, "dataset": self.dataset if isinstance(self.dataset, str) else None,
                "every": self.every, "num_samples": self.num_samples, "seed": self.seed,
                "checkpoint_path": None if self.checkpoint_path is None else str(self.checkpoint_path),
                "log_dir": None if self.log_dir is None else str(self.log_dir), "verbose": self.verbose,
                "extractor": self.extractor}
