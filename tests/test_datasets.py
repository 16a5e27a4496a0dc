import ast
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import datasets
from keras_gen.datasets import DatasetError

BUNDLED_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def test_bundled_mnist_is_the_published_test_split(mnist_bundled):
    for name, md5 in BUNDLED_MD5.items():
        assert hashlib.md5((datasets.BUNDLED_MNIST_DIR / name).read_bytes()).hexdigest() == md5
    assert "CC BY-SA 3.0" in (datasets.BUNDLED_MNIST_DIR / "README.md").read_text()
    x, y = mnist_bundled
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_debian_fashion_mnist_full_splits():
    x, y, info = datasets.load_arrays("fashion_mnist", split="train")
    assert x.shape == (60000, 28, 28, 1) and y.shape == (60000,)
    assert "Debian" in info.source
    assert np.bincount(y).tolist() == [6000] * 10
    assert info.class_names[9] == "Ankle boot"


def test_load_returns_batched_float_images_in_range():
    ds, info = datasets.load("fashion_mnist", split="test", batch_size=64, labels=True, with_info=True)
    images, labels = next(iter(ds))
    assert images.shape == (64, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int64
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    assert info.num_examples == 10000
    assert sum(int(b[0].shape[0]) for b in ds) == 10000


def test_value_range_and_binarization():
    ds = datasets.load("fashion_mnist", split="test", batch_size=512, value_range=(-1, 1), limit=512)
    batch = next(iter(ds)).numpy()
    assert batch.min() == -1.0 and batch.max() == 1.0
    th = next(iter(datasets.load("mnist", split="test", batch_size=256, binarize="threshold", limit=256))).numpy()
    assert set(np.unique(th)) == {0.0, 1.0}
    a = next(iter(datasets.load("mnist", split="test", batch_size=256, binarize="static", seed=3, limit=256))).numpy()
    b = next(iter(datasets.load("mnist", split="test", batch_size=256, binarize="static", seed=3, limit=256))).numpy()
    np.testing.assert_array_equal(a, b)
    dyn = datasets.load("mnist", split="test", batch_size=256, binarize="dynamic", seed=3, limit=256)
    first, second = next(iter(dyn)).numpy(), next(iter(dyn)).numpy()
    assert set(np.unique(first)) == {0.0, 1.0}
    assert not np.array_equal(first, second), "dynamic binarization must redraw every epoch"
    again = next(iter(datasets.load("mnist", split="test", batch_size=256, binarize="dynamic", seed=3, limit=256)))
    np.testing.assert_array_equal(first, again.numpy())


def test_shuffle_is_seeded_and_train_only_by_default():
    def first_labels(**kw):
        return next(iter(datasets.load("fashion_mnist", labels=True, batch_size=32, limit=1000, **kw)))[1].numpy()

    np.testing.assert_array_equal(first_labels(seed=1), first_labels(seed=1))
    assert not np.array_equal(first_labels(seed=1), first_labels(seed=2))
    test_labels = next(iter(datasets.load("fashion_mnist", split="test", labels=True, batch_size=32)))[1].numpy()
    np.testing.assert_array_equal(test_labels,
                                  datasets.load_idx_split(datasets.DEBIAN_FASHION_MNIST_DIR, "test")[1][:32])


def test_mnist_falls_back_to_bundled_split_and_says_so(capsys, mnist_bundled, monkeypatch):
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    x_train, y_train, info = datasets.load_arrays("mnist", split="train")
    x_test, _, test_info = datasets.load_arrays("mnist", split="test")
    err = capsys.readouterr().err
    assert "full MNIST is not available" in err and "images 0-7999" in err and "images 8000-9999" in err
    assert len(x_train) == 8000 and len(x_test) == 2000
    assert "bundled" in info.source and "bundled" in test_info.source
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), mnist_bundled[0])


def _write_gz(path, data):
    with gzip.open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def idx_dir(tmp_path, mnist_bundled):
    """A folder with the real bundled MNIST IDX files under the t10k names."""
    for name in BUNDLED_MD5:
        shutil.copy(datasets.BUNDLED_MNIST_DIR / name, tmp_path / name)
    return tmp_path


def test_explicit_local_dir_comes_first(idx_dir, mnist_bundled):
    x, y, info = datasets.load_arrays("fashion_mnist", split="test", data_dir=idx_dir)
    assert "local files" in info.source
    np.testing.assert_array_equal(x, mnist_bundled[0])  # the local folder wins over Debian's copy


def test_corrupt_idx_files_give_clear_errors(idx_dir):
    raw = gzip.open(idx_dir / "t10k-images-idx3-ubyte.gz").read()
    target = idx_dir / "t10k-images-idx3-ubyte.gz"

    _write_gz(target, raw[: len(raw) // 2])  # truncated data
    with pytest.raises(DatasetError, match="wrong length.*truncated or corrupt"):
        datasets.load_arrays("mnist", split="test", data_dir=idx_dir)

    _write_gz(target, b"\x12\x34" + raw[2:])  # bad magic
    with pytest.raises(DatasetError, match="not an IDX file: magic bytes 12 34 08 03"):
        datasets.load_arrays("mnist", split="test", data_dir=idx_dir)

    target.write_bytes(target.read_bytes()[:1000])  # truncated gzip stream
    with pytest.raises(DatasetError, match="not a readable gzip file"):
        datasets.load_arrays("mnist", split="test", data_dir=idx_dir)

    target.unlink()
    with pytest.raises(DatasetError, match="no t10k-images-idx3-ubyte"):
        datasets.load_arrays("mnist", split="test", data_dir=idx_dir)


def test_labels_and_images_of_different_lengths(idx_dir):
    raw = gzip.open(idx_dir / "t10k-labels-idx1-ubyte.gz").read()
    shorter = raw[:4] + np.array([9999], ">u4").tobytes() + raw[8:-1]
    _write_gz(idx_dir / "t10k-labels-idx1-ubyte.gz", shorter)
    with pytest.raises(DatasetError, match="do not form an image set"):
        datasets.load_arrays("mnist", split="test", data_dir=idx_dir)


def test_unknown_names_fail_fast_with_a_suggestion():
    with pytest.raises(DatasetError, match="unknown dataset 'mnsit'. Did you mean 'mnist'"):
        datasets.load("mnsit")
    with pytest.raises(DatasetError, match="unknown dataset 'fashion'.*fashion_mnist"):
        datasets.load("fashion")
    with pytest.raises(DatasetError, match="folder './nowhere' does not exist"):
        datasets.load("./nowhere")
    with pytest.raises(DatasetError, match="split='validation'"):
        datasets.load("fashion_mnist", split="validation")
    with pytest.raises(TypeError, match="got int"):
        datasets.load(7)


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        datasets.load("mnist", batch_size=0)
    with pytest.raises(ValueError, match="binarize must be one of"):
        datasets.load("mnist", binarize="yes")
    with pytest.raises(ValueError, match="low < high"):
        datasets.load("mnist", value_range=(1, 0))


def test_numpy_arrays(fashion_small):
    x, y = fashion_small
    ds = datasets.load((x, y), batch_size=100, labels=True, shuffle=False)
    images, labels = next(iter(ds))
    np.testing.assert_allclose(images.numpy(), x[:100])
    np.testing.assert_array_equal(labels.numpy(), y[:100])
    uint8 = datasets.load((x * 255).round().astype(np.uint8), batch_size=10, shuffle=False)
    np.testing.assert_allclose(next(iter(uint8)).numpy(), x[:10], atol=1 / 255)

    bad = x.copy()
    bad[5, 3, 3, 0] = np.nan
    with pytest.raises(DatasetError, match=r"1 NaN/inf values \(first at index \(5, 3, 3, 0\)\)"):
        datasets.load(bad)
    with pytest.raises(DatasetError, match=r"must be in \[0, 1\], got values in \[0, 255\]"):
        datasets.load(x * 255)
    with pytest.raises(DatasetError, match=r"labels have shape \(3,\); expected \(2000,\)"):
        datasets.load((x, y[:3]), labels=True)
    with pytest.raises(DatasetError, match="expected \\(N, H, W\\)"):
        datasets.load(x[0, :, :, 0])
    with pytest.raises(DatasetError, match="has no labels"):
        datasets.load(x, labels=True)


def test_folder_of_images(tmp_path, mnist_bundled):
    x, y = mnist_bundled
    for i in range(30):
        folder = tmp_path / f"digit_{y[i]}"
        folder.mkdir(exist_ok=True)
        tf.io.write_file(str(folder / f"{i:03d}.png"), tf.io.encode_png(x[i]))
    images, labels, info = datasets.load_arrays(str(tmp_path))
    names = sorted({f"digit_{v}" for v in y[:30]})
    assert info.class_names == names
    order = sorted(range(30), key=lambda i: (f"digit_{y[i]}", i))
    np.testing.assert_array_equal(images, x[order])
    np.testing.assert_array_equal([info.class_names[k] for k in labels], [f"digit_{y[i]}" for i in order])

    odd = tmp_path / "digit_odd"
    odd.mkdir()
    tf.io.write_file(str(odd / "big.png"), tf.io.encode_png(np.zeros((32, 32, 1), np.uint8)))
    with pytest.raises(DatasetError, match=r"inconsistent shapes.*\(28, 28, 1\).*\(32, 32, 1\).*image_size"):
        datasets.load_arrays(str(tmp_path))
    resized, _, _ = datasets.load_arrays(str(tmp_path), image_size=(28, 28))
    assert resized.shape == (31, 28, 28, 1)
    (odd / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot decode image file .*broken.png"):
        datasets.load_arrays(str(tmp_path), image_size=(28, 28))


def test_tfds_prepared_dataset_is_read(tmp_path, fashion_test):
    import tensorflow_datasets as tfds

    x, y = fashion_test[0][:200], fashion_test[1][:200]
    features = tfds.features.FeaturesDict(
        {"image": tfds.features.Image(shape=(28, 28, 1)),
         "label": tfds.features.ClassLabel(names=datasets.CLASS_NAMES["fashion_mnist"])}
    )
    split = tf.data.Dataset.from_tensor_slices({"image": x, "label": y})
    tfds.dataset_builders.store_as_tfds_dataset(
        "kg_fashion_subset", "1.0.0", features, {"test": split}, data_dir=str(tmp_path), disable_shuffling=True
    )
    images, labels, info = datasets.load_arrays("kg_fashion_subset", split="test", data_dir=tmp_path, download=False)
    assert "TensorFlow Datasets" in info.source
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    assert info.class_names == datasets.CLASS_NAMES["fashion_mnist"]
    with pytest.raises(DatasetError, match="neither a known dataset nor a TFDS dataset prepared"):
        datasets.load_arrays("kg_other", split="test", data_dir=tmp_path, download=False)


def test_keras_cache_source(tmp_path):
    """With Debian's copy hidden, fashion_mnist comes from Keras' own cache folder
    ($KERAS_HOME/datasets/fashion-mnist), read by keras.datasets itself."""
    cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for f in datasets.DEBIAN_FASHION_MNIST_DIR.glob("*.gz"):
        os.symlink(f, cache / f.name)
    script = textwrap.dedent(
        """
        import numpy as np
        from pathlib import Path
        from keras_gen import datasets
        datasets.DEBIAN_FASHION_MNIST_DIR = Path("/nonexistent")
        x, y, info = datasets.load_arrays("fashion_mnist", split="test", download=False)
        ref = datasets.load_idx_split("/usr/share/datasets/fashion-mnist", "test")
        assert np.array_equal(x, ref[0]) and np.array_equal(y, ref[1])
        print(info.source)
        """
    )
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Keras datasets cache" in out.stdout and str(tmp_path) in out.stdout


def test_source_order_is_one_documented_dict():
    order = ["data_dir", "KERAS_GEN_DATA_DIR", "debian", "keras_cache", "tfds", "bundled_mnist"]
    assert list(datasets.SOURCES) == order
    for name in datasets.SOURCES:
        assert f'``"{name}"``' in datasets.__doc__


@pytest.fixture
def offline_empty_keras_home(tmp_path, monkeypatch):
    """No downloads and an empty Keras home, so only local copies count."""
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))


def test_env_variable_points_at_a_copy_of_real_idx_files(tmp_path, monkeypatch, capsys, mnist_bundled, fashion_test,
                                                          offline_empty_keras_home):
    copies = tmp_path / "copies"
    for dataset in ("mnist", "fashion_mnist"):
        (copies / dataset).mkdir(parents=True)
        for name in BUNDLED_MD5:
            shutil.copy(datasets.BUNDLED_MNIST_DIR / name, copies / dataset / name)
    monkeypatch.setenv("KERAS_GEN_DATA_DIR", os.pathsep.join([str(tmp_path / "keras_home_like"), str(copies)]))
    (tmp_path / "keras_home_like").mkdir()  # listed first, holds nothing: the search goes on to the next folder

    x, y, info = datasets.load_arrays("mnist", split="test")
    np.testing.assert_array_equal(x, mnist_bundled[0])  # all 10,000 images, not the bundled fallback's 2,000
    np.testing.assert_array_equal(y, mnist_bundled[1])
    assert "KERAS_GEN_DATA_DIR" in info.source and str(copies / "mnist") in info.source
    assert "full MNIST is not available" not in capsys.readouterr().err

    x, _, info = datasets.load_arrays("fashion_mnist", split="test")  # searched before Debian's copy
    np.testing.assert_array_equal(x, mnist_bundled[0])
    assert "KERAS_GEN_DATA_DIR" in info.source
    x, _, info = datasets.load_arrays("fashion_mnist", split="test", data_dir=datasets.DEBIAN_FASHION_MNIST_DIR)
    np.testing.assert_array_equal(x, fashion_test[0])  # data_dir= still comes first
    assert "local files" in info.source and "KERAS_GEN_DATA_DIR" not in info.source

    with pytest.raises(DatasetError, match=r"cifar10 \(test\) not found. Tried: KERAS_GEN_DATA_DIR: no cifar10/"):
        datasets.load_arrays("cifar10", split="test")

    target = copies / "mnist" / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])  # a broken copy stops the search: no silent fallback
    with pytest.raises(DatasetError, match="not a readable gzip file"):
        datasets.load_arrays("mnist", split="test")

    monkeypatch.setenv("KERAS_GEN_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match=r"KERAS_GEN_DATA_DIR lists '.*nowhere', which is not a folder"):
        datasets.load_arrays("mnist", split="test")


def test_source_list_can_be_overridden(monkeypatch, capsys, mnist_bundled, fashion_test, offline_empty_keras_home):
    def my_mnist(name, split, data_dir, download):
        if name != "mnist":
            return None
        x, y = datasets.load_idx_split(datasets.BUNDLED_MNIST_DIR, "test")
        return x, y, datasets.CLASS_NAMES[name], "my MNIST copy"

    def my_missing(name, split, data_dir, download):
        raise datasets.NotInSource("my archive is offline")

    monkeypatch.setattr(datasets, "SOURCES", {"mine": my_mnist, **datasets.SOURCES})
    x, _, info = datasets.load_arrays("mnist", split="test")
    assert info.source == "my MNIST copy"
    np.testing.assert_array_equal(x, mnist_bundled[0])
    x, _, info = datasets.load_arrays("fashion_mnist", split="test")  # my_mnist does not serve it
    assert "Debian" in info.source
    np.testing.assert_array_equal(x, fashion_test[0])

    sources = datasets.SOURCES
    monkeypatch.setattr(datasets, "SOURCES", {"archive": my_missing, "keras_cache": sources["keras_cache"],
                                              "bundled_mnist": sources["bundled_mnist"]})
    expected = (r"fashion_mnist \(test\) not found. Tried: archive: my archive is offline; keras_cache: not in the "
                r"Keras cache .*\(sources, in order: \['archive', 'keras_cache', 'bundled_mnist'\]\)")
    with pytest.raises(DatasetError, match=expected):
        datasets.load_arrays("fashion_mnist", split="test")
    _, _, info = datasets.load_arrays("mnist", split="test")
    assert info.source.startswith("bundled MNIST test split, images 8000-9999")
    assert "archive: my archive is offline" in info.source
    assert "full MNIST is not available" in capsys.readouterr().err

    datasets.SOURCES.pop("bundled_mnist")
    with pytest.raises(DatasetError, match=r"mnist \(test\) not found"):
        datasets.load_arrays("mnist", split="test")


def test_no_private_keras_import():
    source = open(datasets.__file__).read()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert "keras" in imported
    assert not [m for m in imported if m.startswith("keras.src")]
    assert "keras.src" not in source
    assert not [m for m in imported if m.startswith("keras_gen") and m not in ("keras_gen.utils", "keras_gen.errors")]


def test_keras_home_is_where_keras_puts_its_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert datasets._keras_home() == tmp_path / "kh"

    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets._keras_home() == tmp_path / ".keras"
    out = subprocess.run([sys.executable, "-c", "import keras"], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / ".keras" / "keras.json").is_file()  # Keras itself chose the same folder

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a home folder that is not writable
    assert str(datasets._keras_home()) == "/tmp/.keras"


def test_flat_folder_of_rgb_images_has_no_labels(tmp_path, fashion_test):
    rgb = tf.image.grayscale_to_rgb(tf.constant(fashion_test[0][:12])).numpy()
    for i, image in enumerate(rgb):
        tf.io.write_file(str(tmp_path / f"{i:02d}.png"), tf.io.encode_png(image))
    images, labels, info = datasets.load_arrays(str(tmp_path), labels=False)
    np.testing.assert_array_equal(images, rgb)
    assert labels is None and info.class_names is None and info.image_shape == (28, 28, 3)
    with pytest.raises(DatasetError, match="has no labels"):
        datasets.load_arrays(str(tmp_path))

    tf.io.write_file(str(tmp_path / "gray.png"), tf.io.encode_png(fashion_test[0][12]))
    with pytest.raises(DatasetError, match=r"inconsistent shapes.*\(28, 28, 3\).*\(28, 28, 1\).*one channel count"):
        datasets.load_arrays(str(tmp_path), labels=False, image_size=(28, 28))
    with pytest.raises(ValueError, match=r"image_size must be None or \(height, width\) of positive ints, got 28"):
        datasets.load_arrays(str(tmp_path), labels=False, image_size=28)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no image files \(.png, .jpg, .jpeg, .bmp, .gif\) in '.*empty'"):
        datasets.load_arrays(str(empty), labels=False)
