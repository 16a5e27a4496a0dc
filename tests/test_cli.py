"""The ``keras-gen`` command: the installed console script, each sub-command's work, its
messages and its exit codes (0 done, 1 the work failed, 2 a bad command line)."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gen import (
    build_conditional_gan,
    build_pixelcnn,
    classifiers,
    cli,
    corrupt,
    datasets,
    errors,
    export_model,
    metrics,
)
from keras_gen.autoregressive import exact_nll
from keras_gen.serving import evaluate_export, load_export

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1"}


def keras_gen_script():
    return shutil.which("keras-gen", path=os.path.dirname(sys.executable)) or shutil.which("keras-gen")


def run_cli(args, capsys):
    """``keras-gen args`` in this process: ``(exit code, stdout, stderr)``. A
    ``SystemExit`` with a message is what Python turns into that message on stderr and
    exit code 1."""
    message = ""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code
        if isinstance(code, str):
            code, message = 1, code + "\n"
    out, err = capsys.readouterr()
    return code, out, err + message


def test_console_script_trains_with_the_recipe_and_the_exports_are_usable(tmp_path, capsys):
    script = keras_gen_script()
    assert script, "pip install -e . installs the keras-gen console script"
    run = subprocess.run([script, "train", "denoising_autoencoder", "--epochs", "1", "--limit", "256",
                          "--noise", "mask", "--out", "out", "--export-dir", "exports"],
                         cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step - loss:" in run.stdout  # Keras' progress bar: the same code as recipes/denoising_autoencoder.py
    assert "exported for TF-Serving to exports/denoising_autoencoder/1/" in run.stdout
    code, out, _ = run_cli(["train", "vae", "--help"], capsys)
    assert code == 0 and out.startswith("usage: keras-gen train vae") and "--iw-samples" in out

    model, exports = tmp_path / "out" / "model.keras", tmp_path / "exports"
    code, out, _ = run_cli(["export", model, "--name", "dae", "--base-dir", exports, "--uint8", "--dataset", "mnist"],
                           capsys)
    assert code == 0 and "exported denoising autoencoder" in out and "denoise" in out
    code, _, err = run_cli(["export", model, "--name", "dae", "--base-dir", exports, "--version", "1"], capsys)
    assert code == 1 and "dae/1 already exists; add --overwrite or choose another --version" in err
    code, _, _ = run_cli(["export", model, "--name", "dae", "--base-dir", exports, "--version", "1", "--overwrite",
                          "--dataset", "mnist"], capsys)
    assert code == 0
    code, out, _ = run_cli(["list", "--base-dir", exports], capsys)
    assert code == 0 and "dae/1: denoising autoencoder, trained on mnist" in out and "  pixelcnn " in out

    # The denoising error of the export, scored by the CLI, is the Keras model's on the same noisy images.
    code, out, _ = run_cli(["evaluate", exports / "denoising_autoencoder", "--json", tmp_path / "r.json"], capsys)
    assert code == 0 and "denoise: mse" in out and "mask noise (amount 0.5, seed 0) in, clean target" in out
    result = json.loads((tmp_path / "r.json").read_text())["denoise"]
    x, _ = datasets.to_numpy(datasets.load("mnist", split="test", labels=True, shuffle=False))
    autoencoder = keras.models.load_model(model)
    noisy = keras.ops.convert_to_numpy(corrupt(x, "mask", 0.5, seed=0))
    mse = float(np.mean((autoencoder.predict(noisy, verbose=0) - x) ** 2))
    assert result["mse"] == pytest.approx(mse, rel=1e-5)
    code, _, err = run_cli(["sample", exports / "dae"], capsys)
    assert code == 1 and "has no 'sample' signature; it has serving_default, decode, encode, denoise" in err
    code, _, err = run_cli(["sample", model], capsys)
    assert code == 1 and "has no prior to sample from" in err


@pytest.fixture(scope="module")
def conditional_gan_files(tmp_path_factory):
    """A briefly trained conditional GAN, saved as .keras (no export yet)."""
    folder = tmp_path_factory.mktemp("cgan")
    x, y = datasets.load_arrays("mnist", split="train")[:2]
    gan = build_conditional_gan(num_classes=10, latent_dim=8, filters=8, seed=0)
    gan.fit(x[:256].astype(np.float32) / 127.5 - 1.0, y[:256], batch_size=64, epochs=1, verbose=0)
    gan.save(folder / "model.keras")
    return gan, folder


def test_export_sample_and_evaluate_a_conditional_gan(conditional_gan_files, capsys, monkeypatch):
    gan, folder = conditional_gan_files
    base = folder / "saved_models"
    code, out, _ = run_cli(["export", folder / "model.keras", "--name", "cgan", "--base-dir", base,
                            "--dataset", "mnist"], capsys)
    assert code == 0 and "signatures: serving_default, sample" in out

    # The same seed gives the same images from the export and from the .keras file.
    code, out, _ = run_cli(["sample", base / "cgan", "--n", "12", "--label", "7", "--seed", "3", "--out",
                            folder / "a.npy"], capsys)
    assert code == 0 and "wrote 12 images" in out
    np.testing.assert_allclose(np.load(folder / "a.npy"), gan.generate([7] * 12, seed=3), atol=1e-6)
    code, _, _ = run_cli(["sample", folder / "model.keras", "--n", "12", "--label", "7", "--seed", "3", "--out",
                          folder / "b.npy"], capsys)
    assert code == 0
    np.testing.assert_allclose(np.load(folder / "b.npy"), np.load(folder / "a.npy"), atol=1e-6)
    code, _, _ = run_cli(["sample", base / "cgan", "--n", "20", "--out", folder / "grid.png", "--ncols", "10"], capsys)
    assert code == 0 and (folder / "grid.png").stat().st_size > 5000

    # Bad input: clear messages before TensorFlow's own, exit code 2.
    code, _, err = run_cli(["sample", base / "cgan", "--label", "12"], capsys)
    assert code == 2 and "label 12 is out of range: this model has 10 classes, 0 to 9" in err
    np.save(folder / "z.npy", np.zeros((4, 7), np.float32))
    code, _, err = run_cli(["sample", base / "cgan", "--z", folder / "z.npy"], capsys)
    assert code == 2 and "z must have shape (N, 8) for this model, got (4, 7)" in err
    np.save(folder / "z.npy", np.ones((4, 8), np.float32))
    code, _, _ = run_cli(["sample", base / "cgan", "--z", folder / "z.npy", "--label", "2", "--out", folder / "z.png"],
                         capsys)
    assert code == 0
    code, _, err = run_cli(["sample", folder / "model.keras", "--label", "-1"], capsys)
    assert code == 2 and "--label must lie in [0, 9], got -1" in err
    code, _, err = run_cli(["sample", folder], capsys)
    assert code == 1 and "is not a keras_gen export: expected a folder saved_models/<name>/<version>/" in err
    code, _, err = run_cli(["frobnicate"], capsys)
    assert code == 2 and "invalid choice: 'frobnicate'" in err
    code, _, err = run_cli(["train", "vea"], capsys)
    assert code == 2 and "unknown model 'vea'; choose one of: conditional_gan" in err

    # evaluate prints the sample scores with their protocol; they are evaluate_export's.
    code, out, _ = run_cli(["evaluate", base / "cgan", "--num-samples", "300", "--json", folder / "r.json"], capsys)
    assert code == 0 and "sample_quality: fid " in out and "conditional_accuracy" in out
    assert "extractor: keras_gen domain classifier (mnist)" in out
    scores = json.loads((folder / "r.json").read_text())["sample_quality"]
    assert scores["protocol"]["num_generated"] == 300 and scores["num_classes"] == 10
    # ... and they are the Keras model's own scores, as the recipes print them: the export's
    # sample signature draws exactly gan.sample(300, seed=0).
    x_test, _ = datasets.to_numpy(datasets.load("mnist", split="test", labels=True, shuffle=False))
    in_keras = metrics.evaluate_samples(x_test, gan, dataset="mnist", num_samples=300, seed=0)
    in_keras["conditional_accuracy"] = metrics.conditional_accuracy(
        gan, "mnist", num_samples=300)["conditional_accuracy"]
    for key in ("fid", "kid", "classifier_score", "precision", "recall", "classes_covered", "conditional_accuracy"):
        assert scores[key] == pytest.approx(in_keras[key], rel=1e-5, abs=1e-9), key

    # InceptionV3 features need its ImageNet weights: refused before any sampling when absent.
    monkeypatch.setattr(datasets, "_keras_home", lambda: folder / "empty_keras_home")
    monkeypatch.delitem(classifiers._EXTRACTORS, "inception", raising=False)
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    code, _, err = run_cli(["evaluate", base / "cgan", "--extractor", "inception"], capsys)
    assert code == 1 and "InceptionV3 ImageNet weights not found at " in err


def test_evaluate_reports_the_exact_pixelcnn_likelihood(tmp_path):
    model = build_pixelcnn((28, 28, 1), filters=8, num_layers=1)
    train = datasets.load("mnist", split="train", limit=256, binarize="static", batch_size=64)
    model.fit(train, epochs=1, verbose=0)
    path = export_model(model, "pixelcnn", base_dir=tmp_path, dataset="mnist")
    served = load_export(tmp_path / "pixelcnn")
    assert served.path == path and served.signatures == ["nll", "sample", "serving_default"]
    result = evaluate_export(served, num_samples=20, seed=0)
    test = datasets.load("mnist", split="test", binarize="static", seed=0, shuffle=False)
    assert result["likelihood"]["nll"] == pytest.approx(exact_nll(model, test)["nll"], rel=1e-5)
    assert "binarized with fixed seed 0" in result["likelihood"]["protocol"]["pixels"]
    assert result["sample_quality"]["protocol"]["num_generated"] == 20
    images = served.sample(4, seed=5)
    np.testing.assert_array_equal(images, model.sample(4, seed=5))


@pytest.mark.parametrize("error, code", [
    (errors.InvalidInputError("bad label (no 'signature' word matters)"), 2),
    (errors.DatasetError("no such dataset"), 1),
    (errors.UnsupportedModelError("not for this model"), 1),
    (errors.ModelFileError("not a model"), 1),
    (errors.ExportExistsError("exists", "d/x/1"), 1),
    (errors.NotAnExportError("not an export"), 1),
    (errors.UntrainedModelError("untrained"), 1),
    (FileNotFoundError("missing"), 1),
    (ValueError("some value"), 1),
])
def test_exit_code_is_chosen_by_the_error_type(error, code, monkeypatch, capsys):
    def fail(args):
        raise error

    monkeypatch.setattr(cli, "list_command", fail)
    exit_code, _, err = run_cli(["list"], capsys)
    assert exit_code == code and err == f"keras-gen list: error: {error}\n"
