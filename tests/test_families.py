"""Every model family through every entry point that takes it: build -> fit a few steps on
real images -> sample -> sample-quality scores -> ``.keras`` round trip -> export ->
``keras-gen sample`` and ``keras-gen evaluate`` on the export. An entry point that does
not apply to a family (sampling an autoencoder) must say so clearly, never crash."""

import json

import keras
import numpy as np
import pytest
from test_cli import run_cli  # the keras-gen command run in this process

import keras_gen
from keras_gen import export_model
from keras_gen.base import GenerativeModel
from keras_gen.metrics import evaluate_samples

NUM = 20  # samples scored: the smallest count every score accepts (10 classifier-score splits of 2)


def _gan(builder, **kwargs):
    return lambda: builder(latent_dim=8, filters=8, seed=0, **kwargs)


FAMILIES = {
    # name: (builder, data kind)
    "vae": (lambda: keras_gen.build_vae(latent_dim=2, hidden_units=(32,), seed=0), "unit"),
    "conditional_vae": (lambda: keras_gen.build_conditional_vae(latent_dim=2, hidden_units=(32,), seed=0), "unit"),
    "gan": (lambda: keras_gen.build_gan(latent_dim=8, hidden_units=(32, 64), seed=0), "tanh"),
    "dcgan": (_gan(keras_gen.build_dcgan), "tanh"),
    "conditional_gan": (_gan(keras_gen.build_conditional_gan, embedding_dim=4), "tanh"),
    "wgan_gp": (_gan(keras_gen.build_wgan_gp, d_steps=1), "tanh"),
    "xicfg": (lambda: keras_gen.build_xicfg(latent_dim=8, filters=8, stages=2, seed=0), "tanh"),
    "pixelcnn": (lambda: keras_gen.build_pixelcnn(filters=8, num_layers=1, head_filters=8), "binary"),
    "conditional_pixelcnn": (lambda: keras_gen.build_pixelcnn(filters=8, num_layers=1, num_classes=10), "binary"),
    "pixelrnn": (lambda: keras_gen.build_pixelrnn(hidden=4, layers_count=1, first_kernel_size=3), "binary"),
}
AUTOENCODERS = {
    "dense_autoencoder": lambda: keras_gen.build_dense_autoencoder(latent_dim=8),
    "conv_autoencoder": lambda: keras_gen.build_conv_autoencoder(filters=(4, 4)),
    "denoising_autoencoder": lambda: keras_gen.build_denoising_autoencoder(filters=(4, 4), seed=0),
}


@pytest.fixture(scope="module")
def digits(mnist_bundled):
    """64 real MNIST images in [0, 1] with their labels."""
    x, y = mnist_bundled
    return x[:64].astype(np.float32) / 255.0, y[:64].astype(np.int32)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_generative_family_through_every_entry_point(family, digits, tmp_path, capsys):
    build, kind = FAMILIES[family]
    model = build()
    assert isinstance(model, GenerativeModel)
    x, y = digits
    x = {"unit": x, "tanh": x * 2.0 - 1.0, "binary": (x > 0.5).astype(np.float32)}[kind]
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())

    images = model.sample(4, seed=1)
    assert images.shape == (4, 28, 28, 1) and images.dtype == np.float32
    assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(4, seed=1))
    labels = np.array([3, 1, 4, 1], np.int32)
    if model.conditional:
        np.testing.assert_array_equal(model.generate(labels, seed=2), model.generate(labels, seed=2))
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], got 10"):
            model.generate([1, 10])
    else:
        with pytest.raises(ValueError, match="not class-conditional"):
            model.generate(labels)

    scores = evaluate_samples("test", model, dataset="mnist", num_samples=NUM, seed=0)
    assert np.isfinite(scores["fid"]) and scores["protocol"]["num_generated"] == NUM
    assert ("conditional_accuracy" in scores) == model.conditional

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model) and loaded.num_classes == model.num_classes
    np.testing.assert_array_equal(loaded.sample(4, seed=1), images)

    code, out, err = run_cli(["sample", tmp_path / "model.keras", "--n", 4, "--out", tmp_path / "k.npy"], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), model.sample(4, seed=0), atol=1e-6)

    path = export_model(model, family, base_dir=tmp_path / "exports", dataset="mnist")
    code, out, err = run_cli(["sample", path, "--n", 4, "--out", tmp_path / "e.npy"], capsys)
    assert code == 0, err
    exported = np.load(tmp_path / "e.npy")
    assert exported.shape == (4, 28, 28, 1) and np.isfinite(exported).all()
    code, out, err = run_cli(["evaluate", path, "--num-samples", NUM, "--json", tmp_path / "r.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "r.json").read_text())
    assert np.isfinite(results["sample_quality"]["fid"]) and 0 < results["sample_quality"]["diversity_score"] <= 1
    assert ("conditional_accuracy" in results["sample_quality"]) == model.conditional
    assert ("likelihood" in results) == family.endswith(("pixelcnn", "pixelrnn"))


@pytest.mark.parametrize("family", sorted(AUTOENCODERS))
def test_autoencoders_through_the_entry_points_that_apply(family, digits, tmp_path, capsys):
    autoencoder, encoder, decoder = AUTOENCODERS[family]()
    x, _ = digits
    autoencoder.fit(x, x, batch_size=32, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="a keras_gen generative model"):
        evaluate_samples("test", autoencoder, dataset="mnist", num_samples=NUM)
    autoencoder.save(tmp_path / "model.keras")
    code, _, err = run_cli(["sample", tmp_path / "model.keras", "--out", tmp_path / "s.png"], capsys)
    assert code == 1 and "no prior to sample from" in err

    path = export_model(autoencoder, family, base_dir=tmp_path / "exports", dataset="mnist")
    code, _, err = run_cli(["sample", path, "--out", tmp_path / "s.png"], capsys)
    assert code == 1 and "has no 'sample' signature" in err
    code, out, err = run_cli(["evaluate", path, "--num-samples", NUM, "--json", tmp_path / "r.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "r.json").read_text())
    name = "denoise" if family.startswith("denoising") else "reconstruct"
    assert list(results) == [name] and 0.0 < results[name]["mse"] < 1.0  # [0, 1] pixels: any finite error
