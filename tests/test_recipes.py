"""Each recipe runs end to end in a fresh process, as a user would start it."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]

RECIPES = {
    "dense_autoencoder": ["reconstructions.png"],
    "conv_autoencoder": ["reconstructions.png"],
    "latent2d_autoencoder": ["latent_scatter.png", "manifold.png", "reconstructions.png"],
    "denoising_autoencoder": ["denoising.png"],
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end(tmp_path, name):
    extra = ["--probe-epochs", "1", "--latent-dim", "8"] if name == "conv_autoencoder" else []
    extra += ["--noise", "mask"] if name == "denoising_autoencoder" else []
    cmd = [sys.executable, str(ROOT / "recipes" / f"{name}.py"), "--epochs", "1", "--limit", "512",
           "--out", str(tmp_path), "--seed", "1", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1"}
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "full MNIST is not available" in run.stderr
    assert "step - loss:" in run.stdout  # Keras' progress bar
    line = next(printed for printed in run.stdout.splitlines() if printed.startswith("test reconstruction loss: "))
    loss = float(line.split()[3])
    assert 0.0 < loss < 0.7 and "mean over 2000 mnist test images" in line
    for figure in RECIPES[name] + ["training_curves.png"]:
        assert (tmp_path / figure).stat().st_size > 5000, figure
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.output.shape[1:] == (28, 28, 1)
    served = "denoise (image -> image)" if name == "denoising_autoencoder" else "reconstruct (image -> image)"
    assert f"exported for TF-Serving to saved_models/{name}/1/" in run.stdout and served in run.stdout
    if name == "conv_autoencoder":
        assert model.get_layer("encoder").output.shape[1:] == (7, 7, 8)
        assert "linear probe on frozen codes:" in run.stdout


def test_recipe_rejects_bad_flags(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "recipes" / "dense_autoencoder.py"), "--epochs", "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "expected an integer >= 1, got 0" in run.stderr
    run = subprocess.run([sys.executable, str(ROOT / "recipes" / "dense_autoencoder.py"), "--dataset", "mnsit",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 1 and "error: unknown dataset 'mnsit'. Did you mean 'mnist'" in run.stderr
    assert "Traceback" not in run.stderr


VAE_RECIPES = {
    "vae": ["latent_scatter.png", "manifold.png", "interpolation.png", "samples.png", "reconstructions.png",
            "ae_vs_vae.png"],
    "conditional_vae": ["class_rows.png", "style_space.png", "reconstructions.png"],
}


@pytest.mark.parametrize("name", sorted(VAE_RECIPES))
def test_vae_recipe_prints_likelihoods_and_exports(tmp_path, name):
    cmd = [sys.executable, str(ROOT / "recipes" / f"{name}.py"), "--epochs", "1", "--limit", "512",
           "--out", str(tmp_path / "out"), "--seed", "1", "--iw-samples", "5"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1"}
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step - kl_loss:" in run.stdout  # Keras' progress bar
    elbo = next(printed for printed in run.stdout.splitlines() if printed.startswith("test negative ELBO: "))
    nll = next(printed for printed in run.stdout.splitlines() if printed.startswith("test importance-weighted NLL: "))
    assert "mean over 2000 mnist test images (binarized: dynamic train / static test)" in elbo
    assert "K=5" in nll and "bits/dim" in nll
    elbo_nats, nll_nats = float(elbo.split()[3]), float(nll.split()[3])
    assert 60 < nll_nats <= elbo_nats + 1 < 600, (elbo, nll)
    for figure in VAE_RECIPES[name] + ["training_curves.png"]:
        assert (tmp_path / "out" / figure).stat().st_size > 5000, figure
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert model.latent_dim == 2
    export = tmp_path / "saved_models" / name / "1"
    assert (export / "saved_model.pb").exists() and "exported for TF-Serving to" in run.stdout
    assert "sample (seed, " in run.stdout and "encode (image" in run.stdout


GAN_RECIPES = {  # small networks so a run takes seconds; the defaults are measured in the README
    "gan": ["--hidden-units", "32", "64"],
    "dcgan": ["--filters", "8"],
    "conditional_gan": ["--filters", "8"],
    "wgan_gp": ["--filters", "8", "--d-steps", "2"],
    "xicfg": ["--filters", "8", "--stages", "2", "--approximator", "conv"],
}


@pytest.mark.parametrize("name", sorted(GAN_RECIPES))
def test_gan_recipe_draws_samples_during_training_and_exports(tmp_path, name):
    cmd = [sys.executable, str(ROOT / "recipes" / f"{name}.py"), "--epochs", "2", "--limit", "256",
           "--out", str(tmp_path / "out"), "--seed", "1", "--latent-dim", "16", "--sample-every", "1",
           "--tensorboard", str(tmp_path / "tb"), "--metric-samples", "300", *GAN_RECIPES[name]]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1"}
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert ("d_gen:" if name == "xicfg" else "step - d_fake:") in run.stdout  # Keras' progress bar
    line = next(printed for printed in run.stdout.splitlines() if printed.startswith("sample diversity: "))
    assert 0.0 < float(line.split()[2]) < 2.0 and "2 epochs on 256 train images" in line
    quality = run.stdout[run.stdout.index("sample quality: FID "):]
    assert (float(quality.split()[3].rstrip(",")) > 0.0
            and "300 samples (seed 1) against 300 mnist test images" in quality)
    assert ("conditional accuracy" in quality.splitlines()[0]) == (name == "conditional_gan")
    figures = ["samples_epoch_001.png", "samples_epoch_002.png", "samples.png", "interpolation.png",
               "training_curves.png"]
    figures += ["class_rows.png", "class_interpolation.png"] if name == "conditional_gan" else []
    for figure in figures:
        assert (tmp_path / "out" / figure).stat().st_size > 5000, figure
    assert list((tmp_path / "tb" / "samples").glob("events.out.tfevents.*")), "TensorBoard sample images"
    gan = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert gan.latent_dim == 16 and gan.sample(3).shape == (3, 28, 28, 1)
    export = tmp_path / "saved_models" / name / "1"
    assert (export / "saved_model.pb").exists() and "exported for TF-Serving to" in run.stdout
    if name == "wgan_gp":
        assert (gan.gan_loss, gan.d_steps) == ("wasserstein", 2)
    if name == "xicfg":
        assert gan.stages == 2 and int(gan.episode.numpy()) == 4  # 8 steps of 64 images: 4 episodes of 2 stages
        assert (tmp_path / "out" / "approximator_samples.png").stat().st_size > 5000


def test_gan_recipe_rejects_bad_flags(tmp_path):
    recipe = str(ROOT / "recipes" / "dcgan.py")
    run = subprocess.run([sys.executable, recipe, "--loss", "wgan"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "invalid choice: 'wgan'" in run.stderr
    run = subprocess.run([sys.executable, recipe, "--d-steps", "0"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "expected an integer >= 1, got 0" in run.stderr
    run = subprocess.run([sys.executable, recipe, "--ema", "1.5", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 1 and "error: --ema must be a decay in (0, 1)" in run.stderr
    run = subprocess.run([sys.executable, str(ROOT / "recipes" / "xicfg.py"), "--eta", "0", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 1 and "error: eta must be a number > 0" in run.stderr
