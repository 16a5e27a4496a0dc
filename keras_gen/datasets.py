"""Image datasets as ready-to-train ``tf.data`` pipelines.

``load(name, split=...)`` returns a cached, shuffled, batched and prefetched
``tf.data.Dataset`` of float32 images shaped ``(H, W, C)`` (and integer labels on
request). ``load_arrays`` returns the same data as numpy arrays, for plots and metrics.
``name`` is one of ``NAMED_DATASETS``, a TensorFlow Datasets image dataset name, a
folder of image files, or numpy arrays.

Where named datasets come from: ``SOURCES``, an ordered dict of source name -> source
function, asked in order until one has the data:

- ``"data_dir"``: the folder passed as ``data_dir=`` (IDX files, Keras' ``mnist.npz``
  or the ``cifar-10-batches-py`` folder). When given, the dataset must be there.
- ``"KERAS_GEN_DATA_DIR"``: the folders listed in the ``KERAS_GEN_DATA_DIR`` environment
  variable (separated by ``os.pathsep``), each with one subfolder per dataset named
  after it (``mnist/``, ``fashion_mnist/``, ``cifar10/``) holding the same files.
- ``"debian"``: Debian's ``dataset-fashion-mnist`` package (``DEBIAN_FASHION_MNIST_DIR``).
- ``"keras_cache"``: the Keras datasets cache (``$KERAS_HOME/datasets``, else
  ``~/.keras/datasets``), downloading when allowed.
- ``"tfds"``: TensorFlow Datasets (an already prepared copy, then a download when allowed).
- ``"bundled_mnist"``: for ``"mnist"`` only, the real MNIST test split bundled with
  keras_gen (10,000 images): images 0-7999 serve as ``train`` and 8000-9999 as ``test``,
  so the two never overlap. It says so in one line on stderr.

A source function takes ``(name, split, data_dir, download)`` and returns
``(images, labels, class_names, description)``, or None when it does not serve ``name``.
It raises ``NotInSource(reason)`` when it serves ``name`` but has no copy (the search goes
on) and ``DatasetError`` when its copy is broken (the search stops). Reorder, remove or
add entries to change the search; ``SOURCES.pop("bundled_mnist")``, for instance, turns
the bundled fallback off. Downloads happen unless ``download=False``,
``KERAS_GEN_OFFLINE=1`` or the machine has no network.

Folders of image files are read with ``keras.utils.image_dataset_from_directory``: one
subfolder per class gives labels, a folder without subfolders gives images alone. Every
image keeps its size unless ``image_size=(H, W)`` is given; a file that cannot be decoded
is named in the error.
"""

import dataclasses
import difflib
import gzip
import os
import pickle
import socket
import sys
import zlib
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gen.errors import DatasetError
from keras_gen.utils import check_image_array, check_value_range, is_int, to_unit_float

BUNDLED_MNIST_DIR = Path(__file__).parent / "data" / "mnist"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
BUNDLED_TRAIN_SIZE = 8000  # bundled MNIST test split: [0, 8000) train, [8000, 10000) test

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
}
NAMED_DATASETS = tuple(CLASS_NAMES)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what image_dataset_from_directory reads
_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}  # channels -> its color_mode
BINARIZE_MODES = (None, "threshold", "static", "dynamic")

# IDX type byte -> numpy dtype (big-endian), as in LeCun's format description.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclasses.dataclass
class DatasetInfo:
    """What ``load``/``load_arrays`` actually used.

    Attributes:
        name: the dataset name asked for (or ``"arrays"`` / the folder path).
        split: the split asked for.
        source: one line naming where the images came from.
        num_examples: number of images in the split.
        image_shape: ``(H, W, C)``.
        class_names: names of the label values, or ``None`` without labels.
    """

    name: str
    split: str
    source: str
    num_examples: int
    image_shape: tuple
    class_names: list = None


# ----------------------------------------------------------------------------- IDX files


def read_idx(path):
    """Reads an IDX file (optionally gzipped) into a numpy array.

    Raises:
        DatasetError: the file is missing, not gzip/IDX, has a bad magic number or
            holds a different number of bytes than its header announces.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"IDX file not found: '{path}'.")
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError; flipped bytes: zlib.error
        raise DatasetError(
            f"'{path}' is not a readable gzip file ({err}); the file is corrupt or "
            "truncated: download or reinstall it."
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(
            f"'{path}' is not an IDX file: magic bytes {raw[:4].hex(' ') or '(empty)'}, "
            "expected 00 00 <type> <ndim> (00 00 08 03 for images, 00 00 08 01 for "
            "labels). The file is corrupt: download or reinstall it."
        )
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"'{path}' is truncated inside its IDX header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"'{path}' has the wrong length: its header says shape {dims} "
            f"({expected} bytes of data) but it holds {len(raw) - header} bytes. The "
            "file is truncated or corrupt: download or reinstall it."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory, prefix, kind):
    for suffix in ("-idx3-ubyte", "-idx1-ubyte"):
        for ext in (".gz", ""):
            for stem in (f"{prefix}-{kind}{suffix}", f"{prefix}-{kind}.idx{suffix[4]}-ubyte"):
                candidate = Path(directory) / (stem + ext)
                if candidate.is_file():
                    return candidate
    return None


def load_idx_split(directory, split):
    """Reads ``train-*`` or ``t10k-*`` IDX image and label files from a folder.

    Returns:
        ``(images, labels)``: uint8 ``(N, H, W, 1)`` and int64 ``(N,)``.
    """
    if split not in ("train", "test"):
        raise DatasetError(f"split={split!r} is not available in IDX files; use 'train' or 'test'.")
    prefix = "train" if split == "train" else "t10k"
    images_path = _find_idx(directory, prefix, "images")
    labels_path = _find_idx(directory, prefix, "labels")
    if images_path is None or labels_path is None:
        raise DatasetError(
            f"no {prefix}-images-idx3-ubyte[.gz] / {prefix}-labels-idx1-ubyte[.gz] "
            f"files in '{directory}'."
        )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"'{images_path}' (shape {images.shape}) and '{labels_path}' (shape "
            f"{labels.shape}) do not form an image set: expected (N, H, W) and (N,)."
        )
    return images[..., None], labels.astype(np.int64)


# ---------------------------------------------------------------- Keras home and readers


def _keras_home():
    """The folder Keras keeps its files in: ``$KERAS_HOME`` when set, else ``~/.keras``,
    or ``/tmp/.keras`` when the home folder is not writable (as Keras chooses it)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    home = os.path.expanduser("~")
    return Path(home if os.access(home, os.W_OK) else "/tmp") / ".keras"


_NETWORK = {}


def _network_reachable(host="storage.googleapis.com", timeout=3.0):
    """One quick TCP connection, so offline machines skip downloads at once
    instead of spending minutes in the download libraries' retry loops."""
    if host not in _NETWORK:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            _NETWORK[host] = True
        except OSError:
            _NETWORK[host] = False
    return _NETWORK[host]


def _download_allowed(download):
    """Downloads happen unless turned off (download=False or KERAS_GEN_OFFLINE=1)
    or the machine has no network."""
    if download is None:
        download = os.environ.get("KERAS_GEN_OFFLINE", "") in ("", "0")
    return bool(download) and _network_reachable()


def _from_local_dir(name, split, data_dir):
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"data_dir='{data_dir}' is not a folder.")
    if name == "mnist" and (data_dir / "mnist.npz").is_file():
        return _split_from_npz(data_dir / "mnist.npz", split)
    if name == "cifar10":
        return _cifar10_from_pickles(data_dir, split)
    return load_idx_split(data_dir, split)


def _split_from_npz(path, split):
    with np.load(path) as data:
        key = "train" if split == "train" else "test"
        return data[f"x_{key}"][..., None], data[f"y_{key}"].astype(np.int64)


def _cifar10_from_pickles(directory, split):
    directory = Path(directory)
    if (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for fname in files:
        if not (directory / fname).is_file():
            raise DatasetError(f"CIFAR-10 file '{directory / fname}' not found.")
        with open(directory / fname, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        xs.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[b"labels"], np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _from_keras(name, split, download):
    """Keras' own loaders: they read $KERAS_HOME/datasets and download when missing."""
    cached = {
        "mnist": _keras_home() / "datasets" / "mnist.npz",
        "fashion_mnist": _keras_home() / "datasets" / "fashion-mnist",
        "cifar10": _keras_home() / "datasets" / "cifar-10-batches-py",
    }[name]
    if not cached.exists() and not download:
        raise DatasetError(f"not in the Keras cache ({cached}) and downloads are off or there is no network")
    loader = {
        "mnist": keras.datasets.mnist,
        "fashion_mnist": keras.datasets.fashion_mnist,
        "cifar10": keras.datasets.cifar10,
    }[name]
    (x_train, y_train), (x_test, y_test) = loader.load_data()
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    x = x[..., None] if x.ndim == 3 else x
    return x, np.asarray(y, np.int64).reshape(-1)


def _tfds_builder(name, data_dir, download):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
    except Exception as err:  # DatasetNotFoundError and friends: keep their stack out
        raise DatasetError(f"TensorFlow Datasets has no dataset '{name}' ({type(err).__name__})") from None
    prepared = tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))
    if not prepared:
        if not download:
            raise DatasetError(f"not prepared in TFDS ({builder.data_dir}) and downloads are off "
                               "or there is no network")
        builder.download_and_prepare()
    return builder


def _from_tfds(name, split, data_dir, download):
    builder = _tfds_builder(name, data_dir, download)
    features = builder.info.features
    image_key = next((k for k in ("image", "img") if k in features), None)
    if image_key is None:
        raise DatasetError(f"TFDS dataset '{name}' has no 'image' feature (features: {list(features)}).")
    label_key = "label" if "label" in features else None
    try:
        data = builder.as_dataset(split=split, batch_size=-1)
    except Exception as err:
        raise DatasetError(f"TFDS dataset '{name}' has no split {split!r}: {err}") from None
    x = np.asarray(data[image_key])
    y = None if label_key is None else np.asarray(data[label_key], np.int64)
    names = features[label_key].names if label_key else None
    return x, y, names, f"TensorFlow Datasets ({builder.data_dir})"


# ----------------------------------------------------------------------------- folders


def _from_folder(folder, image_size):
    """Reads a folder of image files with ``keras.utils.image_dataset_from_directory``.

    Returns:
        ``(images, labels, class_names)``: uint8 ``(N, H, W, C)`` in file order, and int64
        labels with the subfolder names (both None without subfolders).
    """
    if image_size is not None and (
        not isinstance(image_size, (tuple, list)) or len(image_size) != 2
        or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in image_size)
    ):
        raise ValueError(f"image_size must be None or (height, width) of positive ints, got {image_size!r}.")
    folder = Path(folder)
    labels = "inferred" if any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir()) else None
    files = _read_folder(folder, labels, (1, 1), "rgb").file_paths  # lists the files; decodes nothing
    shape = _check_folder_images(files, image_size)
    ds = _read_folder(folder, labels, image_size or shape[:2], _COLOR_MODES[shape[2]])
    images, classes = [], []
    for batch in ds.as_numpy_iterator():  # float32 batches, turned back into uint8 one at a time
        batch_images, batch_labels = batch if labels else (batch, None)
        images.append(np.round(batch_images).clip(0, 255).astype(np.uint8))
        classes.append(batch_labels)
    y = np.concatenate(classes).astype(np.int64) if labels else None
    return np.concatenate(images), y, ds.class_names


def _read_folder(folder, labels, image_size, color_mode):
    """``keras.utils.image_dataset_from_directory`` over ``folder``, in file order."""
    try:
        return keras.utils.image_dataset_from_directory(
            str(folder), labels=labels, color_mode=color_mode, image_size=tuple(int(d) for d in image_size),
            batch_size=256, shuffle=False, verbose=False,
        )
    except ValueError as err:
        if "No images found" not in str(err):
            raise
        raise DatasetError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in '{folder}' or its subfolders."
        ) from None


def _check_folder_images(files, image_size):
    """Decodes every file: ``image_dataset_from_directory`` neither names a file it cannot
    decode nor refuses images of different sizes (it resizes them all).

    Returns:
        the ``(H, W, C)`` of the first image.

    Raises:
        DatasetError: a file cannot be decoded; two images differ in channels, or in size
            when ``image_size`` is None; the images have 2 channels (gray and alpha).
    """
    first = None
    for f in files:
        try:
            shape = tuple(tf.io.decode_image(tf.io.read_file(f), expand_animations=False).shape)
        except tf.errors.OpError:
            raise DatasetError(f"cannot decode image file '{f}': it is corrupt or not an image.") from None
        if first is None:
            first_file, first = f, shape
        elif shape[2] != first[2] or (image_size is None and shape != first):
            raise DatasetError(
                f"images have inconsistent shapes: '{first_file}' is {first} but '{f}' is {shape}. "
                "Pass image_size=(H, W) to resize them all (and keep one channel count per folder)."
            )
    if first[2] not in _COLOR_MODES:
        raise DatasetError(
            f"'{first_file}' has {first[2]} channels; image folders hold images with 1 (grayscale), "
            "3 (RGB) or 4 (RGBA) channels."
        )
    return first


# ----------------------------------------------------------------------------- sources


class NotInSource(DatasetError):
    """Raised by a source function that serves a dataset but has no copy of it; the
    message says why, and the search goes on with the next source."""


def _data_dir_source(name, split, data_dir, download):
    """The folder passed as ``data_dir=``: when given, the dataset must be there."""
    if data_dir is None or name not in NAMED_DATASETS:
        return None
    try:
        x, y = _from_local_dir(name, split, data_dir)
    except DatasetError as err:
        raise DatasetError(f"{name} from data_dir: {err}") from None
    return x, y, CLASS_NAMES[name], f"local files in {data_dir}"


def _env_source(name, split, data_dir, download):
    """``$KERAS_GEN_DATA_DIR``: folders (separated by ``os.pathsep``) holding one
    subfolder per dataset, named after it."""
    folders = [Path(f) for f in os.environ.get("KERAS_GEN_DATA_DIR", "").split(os.pathsep) if f]
    if not folders or name not in NAMED_DATASETS:
        return None
    for folder in folders:
        if not folder.is_dir():
            raise DatasetError(
                f"KERAS_GEN_DATA_DIR lists '{folder}', which is not a folder; list existing folders "
                f"separated by {os.pathsep!r}."
            )
        if (folder / name).is_dir():
            x, y = _from_local_dir(name, split, folder / name)
            return x, y, CLASS_NAMES[name], f"local files in {folder / name} (KERAS_GEN_DATA_DIR)"
    raise NotInSource(f"no {name}/ folder in {', '.join(str(f) for f in folders)}")


def _debian_source(name, split, data_dir, download):
    """Debian's ``dataset-fashion-mnist`` package."""
    if name != "fashion_mnist":
        return None
    if not DEBIAN_FASHION_MNIST_DIR.is_dir():
        raise NotInSource(f"{DEBIAN_FASHION_MNIST_DIR} missing (apt-get install dataset-fashion-mnist)")
    x, y = load_idx_split(DEBIAN_FASHION_MNIST_DIR, split)
    return x, y, CLASS_NAMES[name], f"Debian dataset-fashion-mnist ({DEBIAN_FASHION_MNIST_DIR})"


def _keras_cache_source(name, split, data_dir, download):
    """The Keras datasets cache, read by ``keras.datasets``; downloads when allowed."""
    if name not in NAMED_DATASETS:
        return None
    try:
        x, y = _from_keras(name, split, download)
    except Exception as err:  # a failed download can raise many things
        raise NotInSource(_first_line(err)) from None
    return x, y, CLASS_NAMES[name], f"Keras datasets cache ({_keras_home() / 'datasets'})"


def _tfds_source(name, split, data_dir, download):
    """TensorFlow Datasets: a prepared copy, else a download when allowed. For names other
    than ``NAMED_DATASETS``, ``data_dir`` is the TFDS data folder."""
    if name in NAMED_DATASETS:
        try:
            return _from_tfds(name, split, None, download)
        except Exception as err:
            raise NotInSource(_first_line(err)) from None
    try:
        return _from_tfds(name, split, data_dir, download)
    except Exception as err:
        if data_dir is not None and not _tfds_knows(name):
            raise DatasetError(
                f"{name!r} is neither a known dataset nor a TFDS dataset prepared in data_dir="
                f"'{data_dir}'. {_unknown_name_error(name)}"
            ) from None
        raise DatasetError(f"could not load TFDS dataset {name!r}: {_first_line(err)}") from None


def _bundled_mnist_source(name, split, data_dir, download):
    """The MNIST test split bundled with keras_gen: images 0-7999 as ``train``,
    8000-9999 as ``test``. Prints one line saying so."""
    if name != "mnist":
        return None
    x, y = load_idx_split(BUNDLED_MNIST_DIR, "test")
    first, last = (0, BUNDLED_TRAIN_SIZE - 1) if split == "train" else (BUNDLED_TRAIN_SIZE, len(x) - 1)
    print(f"keras_gen: full MNIST is not available; using the bundled MNIST test split "
          f"images {first}-{last} as '{split}' instead.", file=sys.stderr)
    source = f"bundled MNIST test split, images {first}-{last}, as full MNIST is not available"
    return x[first:last + 1], y[first:last + 1], CLASS_NAMES[name], source


# Where named datasets are looked for, in order (see the module docstring).
SOURCES = {
    "data_dir": _data_dir_source,
    "KERAS_GEN_DATA_DIR": _env_source,
    "debian": _debian_source,
    "keras_cache": _keras_cache_source,
    "tfds": _tfds_source,
    "bundled_mnist": _bundled_mnist_source,
}


# ------------------------------------------------------------------------- resolution


def _first_line(err):
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _unknown_name_error(name):
    suggestions = difflib.get_close_matches(name, NAMED_DATASETS, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    return DatasetError(
        f"unknown dataset {name!r}.{hint} Use one of {list(NAMED_DATASETS)}, a TensorFlow "
        "Datasets image dataset name (see tfds.list_builders()), a folder of image files, "
        "or numpy arrays."
    )


def _resolve_named(name, split, data_dir, download):
    """Asks each of ``SOURCES`` in order; returns ``(x, y, class_names, source)`` of the first with the data."""
    if name in NAMED_DATASETS and split not in ("train", "test"):
        raise DatasetError(f"split={split!r} for {name}; expected 'train' or 'test'.")
    if name not in NAMED_DATASETS and data_dir is None and not _tfds_knows(name):
        raise _unknown_name_error(name)
    missing = []
    for source_name, source in SOURCES.items():
        try:
            found = source(name, split, data_dir, download)
        except NotInSource as err:
            missing.append(f"{source_name}: {err}")
            continue
        if found is not None:
            x, y, class_names, description = found
            return x, y, class_names, description + (f" (not found in: {'; '.join(missing)})" if missing else "")
    raise DatasetError(
        f"{name} ({split}) not found. Tried: {'; '.join(missing) or 'no source serves it'} (sources, in order: "
        f"{list(SOURCES)}). Install it (for fashion_mnist: apt-get install dataset-fashion-mnist), pass "
        "data_dir= or set KERAS_GEN_DATA_DIR, or allow downloads on a machine with network."
    )


def _tfds_knows(name):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return False
    base = name.split(":")[0].split("/")[0]
    return base in tfds.list_builders(with_community_datasets=False)


def load_arrays(name="mnist", split="train", labels=True, data_dir=None, image_size=None, download=None):
    """Loads a whole split into memory as numpy arrays, resolving sources like ``load``.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``, a TFDS image dataset
            name, a path to a folder of images (one subfolder per class gives labels),
            or numpy data: an image array or an ``(images, labels)`` tuple.
        split: ``"train"`` or ``"test"`` (any TFDS split string for TFDS names).
            Ignored for arrays and folders.
        labels: when True, labels are returned (an error if the source has none).
        data_dir: local folder holding the dataset's files, searched first (see
            ``SOURCES``); for a TFDS name, the TFDS data folder.
        image_size: ``(H, W)`` to resize folder images to; needed when they differ.
        download: allow downloads (default: yes, unless ``KERAS_GEN_OFFLINE=1``).

    Returns:
        ``(images, labels_or_None, info)``; images are uint8 ``(N, H, W, C)`` in
        [0, 255] or float in [0, 1] exactly as stored, ``info`` a ``DatasetInfo``.
    """
    download = _download_allowed(download)
    if isinstance(name, (np.ndarray, tuple, list)):
        # (images, labels); a list [images, labels] too (not a list of two images)
        pair = len(name) == 2 and (isinstance(name, tuple) or isinstance(name, list) and np.ndim(name[1]) == 1
                                   and np.ndim(name[0]) >= 3)
        x, y = (name[0], name[1]) if pair else (name, None)
        x, y = check_image_array(x, y)
        class_names = None if y is None else [str(i) for i in range(int(y.max()) + 1)]
        key, source = "arrays", "numpy arrays"
    elif not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name must be a dataset name, a folder path or numpy arrays, got {type(name).__name__}.")
    elif os.path.isdir(name):
        x, y, class_names = _from_folder(name, image_size)
        key, source = str(name), f"image folder {name}"
    else:
        key = str(name).lower().replace("-", "_")
        if os.sep in key or key.startswith("."):
            raise DatasetError(f"folder '{name}' does not exist.")
        x, y, class_names, source = _resolve_named(key, split, data_dir, download)
        x, y = check_image_array(x, y)
    if labels and y is None:
        raise DatasetError(f"labels=True but {source} has no labels.")
    info = DatasetInfo(key, split, source, len(x), tuple(x.shape[1:]), class_names if y is not None else None)
    return x, (y if labels else None), info


# --------------------------------------------------------------------------- pipeline


def load(
    name="mnist",
    split="train",
    batch_size=128,
    labels=False,
    value_range=(0.0, 1.0),
    binarize=None,
    shuffle=None,
    seed=0,
    data_dir=None,
    image_size=None,
    limit=None,
    cache=True,
    drop_remainder=False,
    download=None,
    with_info=False,
):
    """Returns a ``tf.data.Dataset`` of float32 images ready for ``model.fit``.

    Args:
        name, split, data_dir, image_size, download: see ``load_arrays``.
        batch_size: images per batch (>= 1).
        labels: yield ``(images, labels)`` instead of images alone.
        value_range: ``(low, high)`` the images are scaled to; ``(-1, 1)`` for tanh GANs.
        binarize: ``None``; ``"threshold"`` (pixel > 0.5); ``"static"`` (one Bernoulli
            draw per pixel, fixed by ``seed``); ``"dynamic"`` (a fresh draw every epoch).
            Applied on the [0, 1] scale before ``value_range``.
        shuffle: shuffle every epoch (default: True for ``split="train"``).
        seed: seed of the shuffle and of binarization.
        limit: keep only the first ``limit`` images (after resolution, before shuffling).
        cache: cache the decoded images in memory.
        drop_remainder: drop the last incomplete batch.
        with_info: also return the ``DatasetInfo``.

    Returns:
        The dataset, or ``(dataset, info)`` with ``with_info=True``.

    Example:
        >>> ds = load("fashion_mnist", split="test", batch_size=64)
        >>> next(iter(ds)).shape
        TensorShape([64, 28, 28, 1])
    """
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    if binarize not in BINARIZE_MODES:
        raise ValueError(f"binarize must be one of {BINARIZE_MODES}, got {binarize!r}.")
    if limit is not None and (not is_int(limit) or limit < 1):
        raise ValueError(f"limit must be None or an integer >= 1, got {limit!r}.")
    lo, hi = check_value_range(value_range)
    x, y, info = load_arrays(name, split, labels, data_dir, image_size, download)
    if limit is not None:
        x = x[:limit]
        y = None if y is None else y[:limit]
        info.num_examples = len(x)
    x = to_unit_float(x)
    if binarize == "threshold":
        x = (x > 0.5).astype(np.float32)
    elif binarize == "static":
        x = (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)
    if shuffle is None:
        shuffle = split == "train"

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if binarize == "dynamic":
        noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, noise_seeds)).map(_dynamic_binarize, num_parallel_calls=tf.data.AUTOTUNE)
    if (lo, hi) != (0.0, 1.0):
        ds = ds.map(_rescaler(lo, hi), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return (ds, info) if with_info else ds


def _dynamic_binarize(batch, noise_seed):
    images = batch[0] if isinstance(batch, tuple) else batch
    u = tf.random.stateless_uniform(tf.shape(images), seed=tf.stack([noise_seed, 0]))
    images = tf.cast(u < images, tf.float32)
    return (images, batch[1]) if isinstance(batch, tuple) else images


def _rescaler(lo, hi):
    def rescale(*batch):
        images = batch[0] * (hi - lo) + lo
        return (images,) + batch[1:] if len(batch) > 1 else images

    return rescale


def as_autoencoder_pairs(ds):
    """Maps a dataset of images (or ``(images, labels)``) to ``(images, images)``.

    An autoencoder is fit on inputs that are also its targets.
    """
    return ds.map(lambda *batch: (batch[0], batch[0]), num_parallel_calls=tf.data.AUTOTUNE)


def to_numpy(ds):
    """Concatenates a batched dataset into numpy arrays: ``x`` or ``(x, y)``."""
    batches = list(ds.as_numpy_iterator())
    if not batches:
        raise DatasetError("the dataset is empty.")
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*batches))
    return np.concatenate(batches)
