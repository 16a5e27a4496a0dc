"""``GenerativeModel``: the interface every trainable keras_gen family shares.

VAEs, GANs and autoregressive models differ in their networks and their ``train_step``;
what the rest of keras_gen (metrics, callbacks, export, the CLI, the recipes) needs from
them is the same, and lives here once:

- ``sample(num, seed)``: ``num`` images in [0, 1] as numpy; a conditional model cycles
  through the classes 0, 1, 2, ...; the same seed gives the same images.
- ``generate(labels=None, z=None, seed=0)``: images for given labels and/or latent
  vectors (``z`` only for families with a latent space).
- ``num_classes`` (None: unconditional) and ``conditional``; ``image_shape``;
  ``value_range`` of the networks' images and ``to_unit`` to [0, 1]; ``latent_dim``
  (None for families without a latent space).
- ``check_data``: the first batch of ``fit``/``evaluate`` data checked (shape, NaN/inf,
  value range, labels present and in range) before training starts.
- ``replica_scaled_loss``: a loss scaled for a ``tf.distribute`` replica and for mixed
  precision, as Keras's own ``train_step`` does.

A family implements ``_draw(num, labels, z, seed)`` (or ``decode_latent`` for a model
with a latent space) and, where its data differ, ``_check_images``.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_gen.distribute import FitMixin, check_fit_batch, worker_logs
from keras_gen.errors import InvalidInputError
from keras_gen.utils import check_labels, check_positive_int, check_seed, first_batch

RANGE_TOLERANCE = 1e-3  # share of the value range by which data may overshoot it (round-off)


class GenerativeModel(FitMixin, keras.Model):
    """Base class of keras_gen's trainable generative models (a ``keras.Model``).

    Subclasses set ``self.num_classes`` (None or an int >= 2) in ``__init__`` and define
    ``image_shape``; a family with a latent space defines ``latent_dim`` and
    ``decode_latent(z, labels)`` (network images in ``value_range``), others override
    ``_draw``. ``value_range`` defaults to (0, 1). A family that draws noise in its steps sets
    ``seed_generator``; its state is saved with the weights, so that a reloaded (or
    ``BackupAndRestore``-resumed) model continues the same noise stream.
    """

    num_classes = None
    value_range = (0.0, 1.0)
    latent_dim = None
    seed_generator = None  # a family whose steps draw noise sets a keras.random.SeedGenerator

    @property
    def conditional(self):
        """True when the model takes class labels (``num_classes`` is not None)."""
        return self.num_classes is not None

    # ------------------------------------------------------------------------ sampling

    def sample(self, num, seed=0):
        """``num`` images in [0, 1] (numpy) drawn with ``seed``: the same seed gives the
        same images, also after saving and reloading. A conditional model cycles
        through the classes 0, 1, 2, ..."""
        num = check_positive_int("num", num)
        seed = check_seed(seed)
        labels = np.arange(num, dtype=np.int32) % self.num_classes if self.conditional else None
        return self._draw(num, labels, None, seed)

    def generate(self, labels=None, z=None, seed=0):
        """Images in [0, 1] (numpy) for the given class labels and/or latent vectors.

        Args:
            labels: a conditional model's class ids, one per image (refused by an
                unconditional model).
            z: ``(N, latent_dim)`` latent vectors (families with a latent space);
                default: drawn from N(0, I) with ``seed``.
            seed: seed of whatever is drawn.

        An unconditional model needs ``z`` (use ``sample(num)`` to draw it); a
        conditional one needs ``labels``.
        """
        seed = check_seed(seed)
        if self.conditional:
            labels = check_labels(labels, self.num_classes)
            if len(labels) == 0:
                raise InvalidInputError("labels is empty: give at least one class id.")
            num = len(labels)
        else:
            alternative = "sample(num)" if self.latent_dim is None else "generate(z=...) or sample(num)"
            if labels is not None:
                raise InvalidInputError(f"{type(self).__name__} {self.name!r} is not class-conditional "
                                        f"(num_classes=None): it takes no labels; use {alternative}.")
            if z is None:
                raise InvalidInputError(f"{type(self).__name__} {self.name!r} is not class-conditional "
                                        f"(num_classes=None): generate needs z; use {alternative}.")
        if z is not None:
            if self.latent_dim is None:
                raise InvalidInputError(f"{type(self).__name__} {self.name!r} has no latent space: it takes no z.")
            z = self.check_z(z, len(labels) if labels is not None else len(np.asarray(z)))
            num = len(z)
        return self._draw(num, labels, z, seed)

    def latent_vectors(self, num, seed=0):
        """``num`` draws z ~ N(0, I) made with ``seed``: a float32 array ``(num, latent_dim)``."""
        num = check_positive_int("num", num)
        if self.latent_dim is None:
            raise InvalidInputError(f"{type(self).__name__} {self.name!r} has no latent space.")
        return keras.ops.convert_to_numpy(keras.random.normal((num, self.latent_dim), seed=check_seed(seed)))

    def check_z(self, z, num):
        """``z`` as a float32 ``(num, latent_dim)`` array, or an ``InvalidInputError``."""
        z = np.asarray(z, dtype=np.float32)
        if z.shape != (num, self.latent_dim):
            raise InvalidInputError(f"z must have shape {(num, self.latent_dim)}, got {z.shape}.")
        return z

    def _draw(self, num, labels, z, seed):
        """``num`` images in [0, 1]: ``z`` (drawn with ``seed`` when None) decoded."""
        if z is None:
            z = self.latent_vectors(num, seed)
        return self.to_unit(self.decode_latent(z, labels))

    def to_unit(self, images):
        """Network images in ``value_range`` -> numpy float32 in [0, 1] (NaN stays NaN)."""
        low, high = self.value_range
        images = keras.ops.convert_to_numpy(images).astype(np.float32)
        if (low, high) == (0.0, 1.0):
            return images
        return np.clip((images - low) / (high - low), 0.0, 1.0)

    # ---------------------------------------------------------------------- data checks

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` after ``check_data`` on the first batch of the training
        (and validation) data, and a global batch the strategy's replicas can share."""
        images, _ = self.check_data(x, y)
        if images is not None:
            check_fit_batch(x, len(images), kwargs.get("batch_size"), self.distribute_strategy)
        if kwargs.get("validation_data") is not None:
            self.check_data(kwargs["validation_data"])
        return super().fit(x, y, *args, **kwargs)

    def check_data(self, data, labels=None):
        """Raises a ValueError when the first batch of ``data`` (an array, a tensor,
        ``(x, y)`` or a ``tf.data.Dataset``) does not have the model's image shape,
        holds NaN/inf, leaves the model's data range or, for a conditional model, lacks
        labels in ``[0, num_classes)``, one per image. An unconditional model ignores
        the labels of the data. Other inputs pass unchecked.

        Returns:
            ``(images, labels)`` of the checked batch as numpy (labels None when unused).
        """
        images, labels = first_batch(data, labels)
        if images is None:
            return None, None
        name = type(self).__name__
        if images.ndim != len(self.image_shape) + 1 or tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"images have shape {images.shape[1:]} per example; this {name} expects "
                             f"{tuple(self.image_shape)}.")
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or inf values.")
        data_range = self.data_range()
        if data_range is not None:
            (low, high), (lo, hi) = data_range, (float(images.min()), float(images.max()))
            slack = RANGE_TOLERANCE * (high - low)
            if lo < low - slack or hi > high + slack:
                raise ValueError(f"images must lie in [{low:g}, {high:g}], got values in [{lo:g}, {hi:g}]; "
                                 f"load them with value_range=({low:g}, {high:g}) (this {name} trains on that range).")
            if low < 0.0 <= lo:
                warnings.warn(f"the first batch lies in [0, 1] but value_range is {tuple(self.value_range)}; "
                              f"load images with value_range={tuple(self.value_range)}.", stacklevel=3)
        self._check_images(images)
        if not self.conditional:
            return images, None
        labels = check_labels(labels, self.num_classes)
        if len(labels) != len(images):
            raise InvalidInputError(f"got {len(labels)} labels for {len(images)} images; give one label per image.")
        return images, labels

    def data_range(self):
        """``(low, high)`` the training images must lie in, or None for no check."""
        return tuple(self.value_range)

    def _check_images(self, images):
        """A family's own checks of a first batch (numpy images already of the right shape)."""

    # ------------------------------------------------------------------ serialization

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.seed_generator is not None:  # a reloaded model continues the noise stream
            store["noise_seed"] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        if self.seed_generator is not None and "noise_seed" in store.keys():
            self.seed_generator.state.assign(store["noise_seed"])
        super().load_own_variables({key: store[key] for key in store.keys() if key != "noise_seed"})

    # ------------------------------------------------------------------------ training

    def metric_logs(self):
        """What a ``train_step``/``test_step`` returns: every metric's result, shaped for
        Keras's reduction over workers (``distribute.worker_logs``)."""
        return worker_logs({m.name: m.result() for m in self.metrics})

    def replica_scaled_loss(self, loss, optimizer=None):
        """``loss`` as one replica's share for ``tape.gradient``: divided by the replicas in
        sync (the optimizer sums their gradients) and multiplied by the loss scale under
        mixed precision (``optimizer.scale_loss``)."""
        optimizer = self.optimizer if optimizer is None else optimizer
        return optimizer.scale_loss(loss / tf.distribute.get_strategy().num_replicas_in_sync)
