"""Exports are standard SavedModels: independent consumers (a TensorFlow-only process,
saved_model_cli) see the same signatures and outputs as the Keras model."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_gen import build_conditional_gan, build_conditional_vae, build_vae, export_generator

CONSUMER = r"""
import sys, json
import numpy as np
import tensorflow as tf
assert "keras_gen" not in sys.modules
served = tf.saved_model.load(sys.argv[1])
z = tf.constant(np.load(sys.argv[2]))
inputs = {"z": z}
if len(sys.argv) > 3:
    inputs["label"] = tf.constant(np.load(sys.argv[3]))
image = served.signatures["serving_default"](**inputs)["image"].numpy()
np.save(sys.argv[2] + ".out.npy", image)
sample = {"seed": tf.constant(7, tf.int64)}
sample.update({"label": inputs["label"]} if "label" in inputs else {"num": tf.constant(5)})
a = served.signatures["sample"](**sample)["image"].numpy()
b = served.signatures["sample"](**sample)["image"].numpy()
print(json.dumps({"keras_gen_loaded": "keras_gen" in sys.modules, "sample_shape": list(a.shape),
                  "same_seed_same_images": bool(np.array_equal(a, b)), "min": float(a.min()), "max": float(a.max())}))
"""


def consume(tmp_path, path, z, labels=None):
    np.save(tmp_path / "z.npy", z)
    args = [sys.executable, "-c", CONSUMER, str(path), str(tmp_path / "z.npy")]
    if labels is not None:
        np.save(tmp_path / "labels.npy", labels)
        args.append(str(tmp_path / "labels.npy"))
    run = subprocess.run(args, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), np.load(tmp_path / "z.npy.out.npy")


def test_vae_decoder_export_serves_without_keras_gen(tmp_path):
    vae = build_vae(latent_dim=3, seed=0)
    path = export_generator(vae.decoder, "vae", base_dir=tmp_path / "saved_models", dataset="mnist")
    assert path == tmp_path / "saved_models" / "vae" / "1" and (path / "saved_model.pb").exists()
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    report, served = consume(tmp_path, path, z)
    np.testing.assert_allclose(served, vae.decoder.predict(z, verbose=0), atol=1e-6)
    assert report == {"keras_gen_loaded": False, "sample_shape": [5, 28, 28, 1], "same_seed_same_images": True,
                      "min": report["min"], "max": report["max"]}
    assert 0.0 <= report["min"] <= report["max"] <= 1.0
    metadata = json.loads((path / "keras_gen.json").read_text())
    assert metadata["latent_dim"] == 3 and metadata["image_shape"] == [28, 28, 1] and metadata["dataset"] == "mnist"

    # The next export is version 2; an existing version is refused unless overwrite=True.
    assert export_generator(vae.decoder, "vae", base_dir=tmp_path / "saved_models").name == "2"
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        export_generator(vae.decoder, "vae", base_dir=tmp_path / "saved_models", version=1)
    assert (path / "saved_model.pb").exists(), "a refused export must leave the old one intact"
    export_generator(vae.decoder, "vae", base_dir=tmp_path / "saved_models", version=1, overwrite=True)
    with pytest.raises(ValueError, match="version must be an integer >= 1"):
        export_generator(vae.decoder, "vae", base_dir=tmp_path / "saved_models", version=0)


def test_conditional_decoder_export_and_saved_model_cli(tmp_path):
    cvae = build_conditional_vae(latent_dim=2, num_classes=10, seed=0)
    with pytest.raises(ValueError, match="needs num_classes"):
        export_generator(cvae.decoder, "cvae", base_dir=tmp_path)
    path = export_generator(cvae.decoder, "cvae", base_dir=tmp_path, num_classes=10)
    z = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
    labels = np.array([0, 4, 9], np.int32)
    report, served = consume(tmp_path, path, z, labels)
    np.testing.assert_allclose(served, cvae.generate(labels, z=z), atol=1e-6)
    assert report["sample_shape"] == [3, 28, 28, 1] and report["same_seed_same_images"]

    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or shutil.which("saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", str(path)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for expected in ("signature_def['serving_default']", "signature_def['sample']", "inputs['z']",
                     "inputs['label']", "inputs['seed']", "outputs['image']", "shape: (-1, 2)"):
        assert expected in shown.stdout, expected

    import tensorflow as tf

    served = tf.saved_model.load(str(path))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must lie in \[0, 9\]"):
        served.signatures["serving_default"](z=tf.constant(z), label=tf.constant([0, 1, 10], tf.int32))


def test_gan_generator_export_returns_unit_range_images(tmp_path):
    # Trained in [-1, 1] (tanh); the export serves [0, 1], like GAN.generate.
    gan = build_conditional_gan(num_classes=3, latent_dim=5, filters=4, seed=0, ema=0.5)
    gan.fit(np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32), np.arange(16) % 3,
            batch_size=8, epochs=1, verbose=0)
    path = export_generator(gan.ema_generator, "cgan", base_dir=tmp_path, value_range=gan.value_range,
                            num_classes=gan.num_classes, kind="ConditionalGAN generator")
    z = gan.latent_vectors(4, seed=3)
    labels = np.array([0, 2, 1, 2], np.int32)
    report, served = consume(tmp_path, path, z, labels)
    np.testing.assert_allclose(served, gan.generate(labels, z=z), atol=1e-6)
    raw = keras.ops.convert_to_numpy(gan.ema_generator([z, labels]))
    assert raw.min() < 0.0, "the network itself works in [-1, 1]"
    assert report["same_seed_same_images"] and 0.0 <= report["min"] <= report["max"] <= 1.0
    assert json.loads((path / "keras_gen.json").read_text())["trained_range"] == [-1.0, 1.0]
