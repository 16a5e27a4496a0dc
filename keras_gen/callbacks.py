"""Keras callbacks of keras_gen: KL warm-up for VAEs; sample grids from fixed noise,
non-finite loss detection and a mode-collapse warning for generative models.

Sampling callbacks need a model with ``sample(num, seed)`` returning images in [0, 1]
(``GAN``, ``ConditionalGAN``, ``VAE``). To resume an interrupted run with its optimizer
state, add Keras's own ``keras.callbacks.BackupAndRestore(backup_dir)``: keras_gen models
save both optimizers and the noise generator's state with their weights.
"""

import math
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gen import plotting


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


def _check_every(every):
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be an integer >= 1 (epochs), got {every!r}.")


def _check_sampler(model, callback):
    if not callable(getattr(model, "sample", None)):
        raise ValueError(f"{callback} needs a model with sample(num, seed) (GAN, ConditionalGAN, VAE), "
                         f"got {type(model).__name__}.")


def _due(epoch, every, total):
    """True at epochs every, 2 * every, ... (1-based) and at the last epoch."""
    return (epoch + 1) % every == 0 or (total is not None and epoch + 1 == total)


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
        _check_every(every)
        if directory is None and log_dir is None:
            raise ValueError("give a directory for PNGs, a TensorBoard log_dir, or both; got neither.")
        if not isinstance(num, int) or num < 1 or not isinstance(ncols, int) or ncols < 1:
            raise ValueError(f"num and ncols must be integers >= 1, got num={num!r}, ncols={ncols!r}.")
        self.directory = None if directory is None else Path(directory)
        self.log_dir, self.every, self.num, self.ncols, self.seed, self.prefix = log_dir, every, num, ncols, seed, prefix
        self.paths = []
        self._writer = None

    def on_train_begin(self, logs=None):
        _check_sampler(self.model, "SampleGrid")
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        if not _due(epoch, self.every, self.params.get("epochs")):
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


def mean_pairwise_distance(images):
    """Mean Euclidean distance between all pairs of distinct images (flattened)."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(flat) < 2:
        raise ValueError(f"need at least 2 images for a pairwise distance, got {len(flat)}.")
    squared = np.sum(flat**2, axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T, 0.0))
    return float(distances.sum() / (len(flat) * (len(flat) - 1)))


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
        _check_every(every)
        if not isinstance(num, int) or num < 2:
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
        if not _due(epoch, self.every, self.params.get("epochs")):
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
