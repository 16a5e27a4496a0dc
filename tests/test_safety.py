"""Exports and files that never lose data, and odd input that gets a clear error instead of
a traceback: each test reproduces one case of a bad-input and fault tour first."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_cli import ENV, keras_gen_script, run_cli

import keras_gen
from keras_gen import datasets, export_model
from keras_gen.errors import DatasetError, ExportError, ExportExistsError, NonFiniteModelError, NotAnExportError
from keras_gen.export import _claim_version
from keras_gen.serving import list_exports, load_export

RELEASE = Path(__file__).parent / "fixtures" / "release_0_1_0"


def _complete_versions(model_dir):
    return sorted(int(p.name) for p in Path(model_dir).iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists()
                  and (p / "keras_gen.json").exists())


# ---------------------------------------------------------------------------------- data loss


def test_concurrent_exports_to_one_name_end_as_distinct_intact_versions(tmp_path):
    runs = [subprocess.Popen([keras_gen_script(), "export", RELEASE / f"{name}.keras", "--name", "x", "--base-dir",
                              tmp_path], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("dcgan", "vae")]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert _complete_versions(tmp_path / "x") == [1, 2]
    kinds = {json.loads((tmp_path / "x" / str(v) / "keras_gen.json").read_text())["kind"] for v in (1, 2)}
    assert kinds == {"GAN", "VAE"}  # both exports, none lost
    assert sorted(out.split(" to ")[1].split("/ with")[0] for out, _ in outputs) == [
        f"{tmp_path}/x/1", f"{tmp_path}/x/2"]


def test_a_version_is_claimed_atomically(tmp_path):
    assert _claim_version(tmp_path, None) == tmp_path / "1"
    assert _claim_version(tmp_path, None) == tmp_path / "2"  # the next free one, never the same
    assert _claim_version(tmp_path, 5) == tmp_path / "5"
    with pytest.raises(ExportExistsError, match="5 already exists"):
        _claim_version(tmp_path, 5)


@pytest.fixture(scope="module")
def gan():
    return keras.models.load_model(RELEASE / "dcgan.keras")


def test_a_failed_overwrite_leaves_the_old_version_intact(gan, tmp_path, monkeypatch):
    old = export_model(gan, "dc", base_dir=tmp_path, dataset="mnist")
    before = sorted(str(p.relative_to(old)) for p in old.rglob("*"))
    real_rename = os.rename

    def failing_rename(src, dst):
        if Path(dst) == old and Path(src).name == "model":  # the new version's move into place fails
            raise PermissionError(13, "Permission denied", str(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(PermissionError):
        export_model(gan, "dc", base_dir=tmp_path, version=1, overwrite=True, dataset="fashion_mnist")
    monkeypatch.undo()
    assert sorted(str(p.relative_to(old)) for p in old.rglob("*")) == before
    assert load_export(old).metadata["dataset"] == "mnist"
    assert [p.name for p in (tmp_path / "dc").iterdir()] == ["1"]  # no scratch folder left behind


def test_overwrite_swaps_complete_folders_even_when_an_old_file_cannot_be_deleted(gan, tmp_path):
    old = export_model(gan, "dc", base_dir=tmp_path, dataset="mnist")
    locked = next((old / "variables").iterdir())
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        with pytest.warns(UserWarning, match="could not all be deleted"):
            path = export_model(gan, "dc", base_dir=tmp_path, version=1, overwrite=True, dataset="fashion_mnist")
        assert path == old and load_export(path).metadata["dataset"] == "fashion_mnist"
        assert _complete_versions(tmp_path / "dc") == [1] and [e[1] for e in list_exports(tmp_path)] == [1]
    finally:
        for leftover in tmp_path.rglob(locked.name):
            subprocess.run(["chattr", "-i", str(leftover)], capture_output=True)


def test_an_export_killed_halfway_leaves_nothing_that_looks_complete(tmp_path):
    # The worst moment: the export is written and its version folder claimed, but not yet
    # moved in. The child process stops there (os.rename waits) until it is killed.
    marker = tmp_path / "about-to-rename"
    child = (f"import os, time, keras, keras_gen\n"
             f"from keras_gen import export_model\n"
             f"model = keras.models.load_model({str(RELEASE / 'dcgan.keras')!r})\n"
             f"def stuck(src, dst):\n"
             f"    open({str(marker)!r}, 'w').close()\n"
             f"    time.sleep(600)\n"
             f"os.rename = stuck\n"
             f"export_model(model, 'k', base_dir={str(tmp_path)!r})\n")
    run = subprocess.Popen([sys.executable, "-c", child], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not marker.exists():
        assert time.time() < deadline and run.poll() is None, run.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert (tmp_path / "k" / "1").is_dir() and not any((tmp_path / "k" / "1").iterdir())  # claimed, empty
    assert list_exports(tmp_path) == []
    with pytest.raises(NotAnExportError):
        load_export(tmp_path / "k")
    code = subprocess.run([keras_gen_script(), "export", RELEASE / "dcgan.keras", "--name", "k", "--base-dir",
                           tmp_path], env=ENV, capture_output=True, text=True, timeout=600)
    assert code.returncode == 0 and [e[:2] for e in list_exports(tmp_path)] == [("k", 2)]
    assert load_export(tmp_path / "k").path == tmp_path / "k" / "2"


@pytest.fixture(scope="module")
def diverged(mnist_bundled, tmp_path_factory):
    """A DCGAN trained with Adam(1e30): StopOnNonFinite stops it, its weights are NaN."""
    x = mnist_bundled[0][:64].astype(np.float32) / 127.5 - 1.0
    model = keras_gen.build_dcgan(latent_dim=8, filters=8, seed=0, d_optimizer=keras.optimizers.Adam(1e30),
                                  g_optimizer=keras.optimizers.Adam(1e30))
    stop = keras_gen.StopOnNonFinite()
    model.fit(x, batch_size=32, epochs=2, verbose=0, callbacks=[stop])
    assert stop.message is not None
    path = tmp_path_factory.mktemp("diverged") / "model.keras"
    model.save(path)
    return model, path


def test_diverged_models_are_neither_exported_nor_sampled(diverged, tmp_path, capsys):
    model, path = diverged
    with pytest.raises(NonFiniteModelError, match="NaN or inf weights, first in 'generator_project/kernel'"):
        export_model(model, "nan", base_dir=tmp_path)
    assert not (tmp_path / "nan").exists()
    code, _, err = run_cli(["export", path, "--name", "nan", "--base-dir", tmp_path], capsys)
    assert code == 1 and "generator_project/kernel" in err and "--allow-non-finite" in err
    code, _, err = run_cli(["sample", path, "--out", tmp_path / "s.png"], capsys)
    assert code == 1 and "NaN or inf weights" in err and not (tmp_path / "s.png").exists()
    # An export forced for debugging: sampling from it refuses to write NaN images.
    code, _, _ = run_cli(["export", path, "--name", "nan", "--base-dir", tmp_path, "--allow-non-finite"], capsys)
    assert code == 0
    code, _, err = run_cli(["sample", tmp_path / "nan", "--out", tmp_path / "s.png"], capsys)
    assert code == 1 and "NaN or inf" in err and not (tmp_path / "s.png").exists()


def test_export_signatures_refuse_bad_z_and_num_in_graph(tmp_path):
    vae = keras.models.load_model(RELEASE / "vae.keras")
    served = tf.saved_model.load(str(export_model(vae, "v", base_dir=tmp_path))).signatures
    good = served["serving_default"](z=tf.zeros((2, 2)))["image"]
    assert good.shape == (2, 28, 28, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="z must be finite"):
        served["serving_default"](z=tf.constant([[np.nan, 0.0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must have shape \(N, 2\)"):
        served["serving_default"](z=tf.zeros((2, 3)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num must be >= 1"):
        served["sample"](seed=tf.constant(0, tf.int64), num=tf.constant(-1))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image must have shape \(N, 28, 28, 1\)"):
        served["encode"](image=tf.zeros((1, 28, 27, 1)))


# ------------------------------------------------------------------- corrupt or odd input


def test_a_corrupt_gzip_idx_file_is_named(tmp_path):
    raw = bytearray((datasets.BUNDLED_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw[len(raw) // 2:len(raw) // 2 + 64] = bytes(255 - b for b in raw[len(raw) // 2:len(raw) // 2 + 64])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz' is not a readable gzip file.*corrupt"):
        datasets.read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    shutil.copy(datasets.BUNDLED_MNIST_DIR / "t10k-images-idx3-ubyte.gz", tmp_path)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz"):
        datasets.load("mnist", split="test", data_dir=tmp_path)


def test_damaged_exports_are_named_and_do_not_hide_the_others(gan, tmp_path, capsys):
    good = export_model(gan, "good", base_dir=tmp_path, dataset="mnist")
    truncated = export_model(gan, "truncated", base_dir=tmp_path, dataset="mnist")
    garbage = export_model(gan, "garbage", base_dir=tmp_path, dataset="mnist")
    for data in (truncated / "variables").glob("*.data-*"):
        data.write_bytes(data.read_bytes()[:100])
    (garbage / "keras_gen.json").write_text("{not json")
    with pytest.raises(ExportError, match=f"cannot load the SavedModel in {truncated}.*damaged"):
        load_export(truncated).sample(2)
    with pytest.raises(NotAnExportError, match=f"{garbage / 'keras_gen.json'} cannot be read"):
        load_export(garbage)
    code, out, _ = run_cli(["list", "--base-dir", tmp_path], capsys)
    assert code == 0 and "garbage/1: damaged" in out and "good/1: GAN" in out and "truncated/1: GAN" in out
    code, _, err = run_cli(["sample", truncated, "--out", tmp_path / "s.png"], capsys)
    assert code == 1 and "damaged" in err and "Traceback" not in err
    assert load_export(good).sample(2).shape == (2, 28, 28, 1)


def test_command_line_odd_input_gets_a_clear_error(gan, tmp_path, capsys):
    path = export_model(gan, "dc", base_dir=tmp_path)
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "z.txt").write_text("0.1 0.2\n")
    cases = [(["--ncols", 0], 2, "--ncols must be >= 1, got 0"),
             (["--batch-size", -1], 2, "--batch-size must be >= 1, got -1"),
             (["--z", tmp_path / "z.txt"], 2, "not a .npy array file"),
             (["--out", tmp_path / "file" / "s.png"], 1, f"cannot write {tmp_path / 'file' / 's.png'}: File exists")]
    for flags, expected, message in cases:
        code, _, err = run_cli(["sample", path, "--out", tmp_path / "s.png", *flags], capsys)
        assert code == expected and message in err and "Traceback" not in err, (flags, err)


def test_numpy_integers_and_lists_are_accepted(mnist_bundled):
    x, y = mnist_bundled
    batch = next(iter(datasets.load([x[:100], y[:100]], batch_size=np.int64(32), labels=True)))
    assert batch[0].shape == (32, 28, 28, 1) and batch[1].shape == (32,)
    vae = keras.models.load_model(RELEASE / "vae.keras")
    assert vae.sample(np.int64(2), seed=np.int32(1)).shape == (2, 28, 28, 1)


def test_recipes_do_not_export_a_diverged_model(diverged, tmp_path):
    from types import SimpleNamespace

    from keras_gen.recipes import _common

    model, _ = diverged
    args = SimpleNamespace(no_export=False, export_name="nan", export_dir=tmp_path)
    data = SimpleNamespace(info=SimpleNamespace(name="mnist"))
    with pytest.raises(SystemExit, match="not exported: model 'dcgan' has NaN or inf weights"):
        _common.export_for_serving(model, data, args)
    assert not (tmp_path / "nan").exists()
    stop = SimpleNamespace(message="training stopped: g_loss = nan")  # what StopOnNonFinite left
    with pytest.raises(SystemExit, match="training stopped: g_loss = nan"):
        _common.finish_gan(model, None, stop, data, args)


def test_the_lower_level_exporters_refuse_diverged_networks_too(diverged, tmp_path):
    model, _ = diverged
    with pytest.raises(NonFiniteModelError, match="'generator_project/kernel'"):
        keras_gen.export_generator(model.generator, "g", base_dir=tmp_path)
    assert keras_gen.export_generator(model.generator, "g", base_dir=tmp_path, allow_non_finite=True).is_dir()
