"""Shared argument checks and small utilities: the bottom of keras_gen's import graph
(it imports only ``keras_gen.errors``), like Keras's ``argument_validation``.

Every check raises an error naming the argument, the bad value and what is allowed:
a ``ValueError``/``TypeError``, or one of ``keras_gen.errors``' types.
"""

import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from keras_gen.errors import DatasetError, InvalidInputError, NonFiniteModelError

# ------------------------------------------------------------------- argument checks


def is_int(value):
    """True for Python and numpy integers (``np.int64(32)``), False for bools and floats."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name, value):
    """``value`` as an int, or a ValueError unless it is an integer >= 1 (numpy integers
    count; bools do not)."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def check_bool(name, value):
    """``value``, or a TypeError unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_seed(seed):
    """An integer seed as a Python int; a TypeError otherwise."""
    if not is_int(seed):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    return int(seed)


def check_input_shape(input_shape):
    """``(height, width, channels)`` of positive ints as a tuple."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(is_int(d) and d >= 1 for d in shape):
        raise ValueError(f"input_shape must be (height, width, channels) of positive ints, got {input_shape!r}.")
    return tuple(int(d) for d in shape)


def check_num_classes(num_classes, allow_none=False):
    """An int >= 2 (or None with ``allow_none``: an unconditional model)."""
    if num_classes is None and allow_none:
        return None
    if not is_int(num_classes) or num_classes < 2:
        allowed = "None or an integer >= 2" if allow_none else "an integer >= 2"
        raise ValueError(f"num_classes must be {allowed}, got {num_classes!r}.")
    return int(num_classes)


def check_value_range(value_range):
    """``(low, high)`` floats with low < high."""
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}.") from None
    if not lo < hi:
        raise ValueError(f"value_range must have low < high, got {value_range!r}.")
    return lo, hi


def check_every(every):
    """A callback's period in epochs: an int >= 1."""
    if not is_int(every) or every < 1:
        raise ValueError(f"every must be an integer >= 1 (epochs), got {every!r}.")
    return int(every)


def due(epoch, every, total):
    """True at (0-based) epochs every - 1, 2 * every - 1, ... and at the last epoch."""
    return (epoch + 1) % every == 0 or (total is not None and epoch + 1 == total)


def check_finite_weights(model, what="use it"):
    """Raises ``NonFiniteModelError`` naming the first variable of ``model`` that holds NaN
    or inf: a diverged model, whose samples would be NaN."""
    for variable in model.weights:
        if not np.isfinite(keras.ops.convert_to_numpy(variable)).all():
            raise NonFiniteModelError(
                f"model {model.name!r} has NaN or inf weights, first in {variable.path!r}: its training diverged, "
                f"so keras_gen will not {what}. Go back to a checkpoint saved before the divergence.")


# ------------------------------------------------------------------------------ labels


def check_labels(labels, num_classes, what="labels"):
    """Integer class ids as an int32 array; an ``InvalidInputError`` naming the first
    label outside ``[0, num_classes)``, or saying that labels are missing."""
    if labels is None:
        raise InvalidInputError(f"{what} are missing: a conditional model needs (images, labels).")
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or np.all(np.mod(labels, 1) == 0)):
        raise InvalidInputError(f"{what} must be a 1-D array of integer class ids, got shape {labels.shape}, "
                                f"dtype {labels.dtype}.")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise InvalidInputError(f"{what} must lie in [0, {num_classes - 1}], got {labels[bad][0].item()!r} "
                                f"(num_classes={num_classes}).")
    return labels.astype(np.int32)


def assert_labels_in_range(labels, num_classes):
    """Graph-side ``check_labels``: ``labels`` (int32 tensor) with assertions that fail
    with a clear message, inside a ``tf.function`` or a SavedModel signature too."""
    message = f"label must lie in [0, {num_classes - 1}]"
    with tf.control_dependencies([
        tf.debugging.assert_non_negative(labels, message=message),
        tf.debugging.assert_less(labels, tf.constant(num_classes, tf.int32), message=message),
    ]):
        return tf.identity(labels)


# ------------------------------------------------------------------------------ images


def split_batch(data):
    """``(images, labels)`` of a batch given as ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(data, (tuple, list)):
        return data[0], (data[1] if len(data) > 1 else None)
    return data, None


def first_batch(data, labels=None):
    """``(images, labels)`` of ``data`` (an array, a tensor, ``(x, y)`` or the first batch
    of a tf.data.Dataset) for input checks: images as numpy (None when ``data`` holds no
    images); ``labels`` given explicitly win over those in ``data``."""
    if isinstance(data, tf.data.Dataset):
        data = next(iter(data))
    images, batch_labels = split_batch(data)
    labels = batch_labels if labels is None else labels
    if images is None or not hasattr(images, "shape"):
        return None, labels
    return np.asarray(images), labels


def check_image_array(x, y=None):
    """Validates user images (and labels): returns ``(N, H, W, C)`` images, uint8 or float
    in [0, 1], and int64 labels (or None). Raises ``DatasetError`` saying what is wrong."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DatasetError(f"image array has shape {x.shape}; expected (N, H, W) or (N, H, W, C).")
    if len(x) == 0:
        raise DatasetError("image array is empty.")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DatasetError(
                f"image array holds {int(bad.sum())} NaN/inf values (first at index {first}); "
                "clean or drop those images."
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise DatasetError(
                f"float images must be in [0, 1], got values in [{lo:g}, {hi:g}]; pass "
                "uint8 images in [0, 255] or divide by their maximum first."
            )
    elif x.dtype != np.uint8:
        raise DatasetError(f"image array dtype {x.dtype} not supported; use uint8 [0, 255] or float [0, 1].")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise DatasetError(f"labels have shape {y.shape}; expected ({len(x)},), one per image.")
        if y.dtype.kind not in "iu" or (y < 0).any():
            raise DatasetError("labels must be non-negative integers (class indices).")
        y = y.astype(np.int64)
    return x, y


def to_unit_float(x):
    """uint8 [0, 255] -> float32 [0, 1]; floats pass through as float32."""
    x = np.asarray(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def unit_images(images, what="images"):
    """Validated float32 images in [0, 1], shaped (N, H, W, C); uint8 is divided by 255."""
    if not hasattr(images, "shape") or not hasattr(images, "dtype"):
        raise TypeError(f"{what} must be an image array, got {type(images).__name__}.")
    try:
        images, _ = check_image_array(np.asarray(images), None)
    except DatasetError as err:
        raise ValueError(f"{what}: {err} (metrics take float images in [0, 1] or uint8 in [0, 255]).") from None
    return to_unit_float(images)


def bits_per_dim(nats, image_shape):
    """Converts a negative log-likelihood in nats per image to bits per dimension.

    Args:
        nats: NLL per image in nats (a number or an array).
        image_shape: ``(H, W, C)``: the number of dimensions is H * W * C.
    """
    dims = int(np.prod(image_shape))
    if dims < 1:
        raise ValueError(f"image_shape must have at least one dimension, got {image_shape!r}.")
    return np.asarray(nats, dtype=np.float64) / (dims * math.log(2.0))


# ----------------------------------------------------------------------- precision

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def native_bfloat16_cpu(cpuinfo="/proc/cpuinfo"):
    """True when the CPU has bfloat16 instructions (x86's AVX512_BF16 or AMX-BF16, read
    from Linux's ``/proc/cpuinfo`` flags); False where that file does not exist."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(precision):
    """The Keras dtype policy name of ``precision``, one of ``PRECISIONS``. ``"auto"``: the
    global policy when one was set (``keras.config.set_dtype_policy``); else
    ``"mixed_bfloat16"`` when TensorFlow sees no GPU and the CPU computes bfloat16 natively
    (about 1.2x the images/s of float32 for keras_gen's DCGAN on an AVX512_BF16 CPU);
    else ``"float32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision != "auto":
        return precision
    chosen = keras.config.dtype_policy().name
    if chosen != "float32":
        return chosen
    if tf.config.list_physical_devices("GPU") or not native_bfloat16_cpu():
        return "float32"
    return "mixed_bfloat16"


@contextlib.contextmanager
def dtype_policy(name):
    """``with dtype_policy("mixed_bfloat16"):`` builds layers under that Keras dtype policy
    and restores the previous global policy afterwards (the layers keep theirs)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
