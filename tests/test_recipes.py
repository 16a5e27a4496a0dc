"""Each recipe runs end to end as ``keras-gen train <model> <flags>`` would run it, in
this process (``tests/test_cli.py`` starts the console script itself in a fresh process),
from a temporary folder, offline."""

import keras
import pytest

from keras_gen.layers import MinibatchStddev, SpectralConv2D

RECIPES = {
    "dense_autoencoder": ["reconstructions.png"],
    "conv_autoencoder": ["reconstructions.png"],
    "latent2d_autoencoder": ["latent_scatter.png", "manifold.png", "reconstructions.png"],
    "denoising_autoencoder": ["denoising.png"],
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end(tmp_path, name, recipe):
    extra = ["--probe-epochs", "1", "--latent-dim", "8"] if name == "conv_autoencoder" else []
    extra += ["--noise", "mask"] if name == "denoising_autoencoder" else []
    code, out, err = recipe(name, "--epochs", "1", "--limit", "512", "--out", tmp_path, "--seed", "1", *extra)
    assert code == 0, err[-3000:]
    assert "full MNIST is not available" in out
    assert "step - loss:" in out  # Keras' progress bar
    line = next(printed for printed in out.splitlines() if printed.startswith("test reconstruction loss: "))
    loss = float(line.split()[3])
    assert 0.0 < loss < 0.7 and "mean over 2000 mnist test images" in line
    for figure in RECIPES[name] + ["training_curves.png"]:
        assert (tmp_path / figure).stat().st_size > 5000, figure
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.output.shape[1:] == (28, 28, 1)
    assert int(model.optimizer.iterations.numpy()) > 0, "model.keras holds the trained optimizer state"
    served = "denoise (image -> image)" if name == "denoising_autoencoder" else "reconstruct (image -> image)"
    assert f"exported for TF-Serving to saved_models/{name}/1/" in out and served in out
    if name == "conv_autoencoder":
        assert model.get_layer("encoder").output.shape[1:] == (7, 7, 8)
        assert "linear probe on frozen codes:" in out


def test_recipe_rejects_bad_flags(tmp_path, recipe):
    code, _, err = recipe("dense_autoencoder", "--epochs", "0")
    assert code == 2 and "expected an integer >= 1, got 0" in err
    code, _, err = recipe("dense_autoencoder", "--dataset", "mnsit", "--out", tmp_path)
    assert code == 1 and "error: unknown dataset 'mnsit'. Did you mean 'mnist'" in err


VAE_RECIPES = {
    "vae": ["latent_scatter.png", "manifold.png", "interpolation.png", "samples.png", "reconstructions.png",
            "ae_vs_vae.png"],
    "conditional_vae": ["class_rows.png", "style_space.png", "reconstructions.png"],
}


@pytest.mark.parametrize("name", sorted(VAE_RECIPES))
def test_vae_recipe_prints_likelihoods_and_exports(tmp_path, name, recipe):
    code, out, err = recipe(name, "--epochs", "1", "--limit", "512", "--out", tmp_path / "out", "--seed", "1",
                            "--iw-samples", "5")
    assert code == 0, err[-3000:]
    assert "step - kl_loss:" in out  # Keras' progress bar
    elbo = next(printed for printed in out.splitlines() if printed.startswith("test negative ELBO: "))
    nll = next(printed for printed in out.splitlines() if printed.startswith("test importance-weighted NLL: "))
    assert "mean over 2000 mnist test images (binarized: dynamic train / static test)" in elbo
    assert "K=5" in nll and "bits/dim" in nll
    elbo_nats, nll_nats = float(elbo.split()[3]), float(nll.split()[3])
    assert 60 < nll_nats <= elbo_nats + 1 < 600, (elbo, nll)
    for figure in VAE_RECIPES[name] + ["training_curves.png"]:
        assert (tmp_path / "out" / figure).stat().st_size > 5000, figure
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert model.latent_dim == 2
    export = tmp_path / "saved_models" / name / "1"
    assert (export / "saved_model.pb").exists() and "exported for TF-Serving to" in out
    assert "sample (seed, " in out and "encode (image" in out


GAN_RECIPES = {  # small networks so a run takes seconds; the defaults are measured in the README
    "gan": ["--hidden-units", "32", "64"],
    "dcgan": ["--filters", "8", "--preset", "radford", "--spectral-norm", "--loss", "hinge", "--r1-weight", "0.5",
              "--ema", "0.9", "--d-learning-rate", "3e-4", "--extra-layers", "1", "--minibatch-stddev",
              "--precision", "mixed_bfloat16"],
    "conditional_gan": ["--filters", "8", "--conditioning", "projection", "--auxiliary-classifier", "--class-weight",
                        "0.5"],
    "wgan_gp": ["--filters", "8", "--d-steps", "2"],
    "xicfg": ["--filters", "8", "--stages", "2", "--approximator", "conv"],
}


@pytest.mark.parametrize("name", sorted(GAN_RECIPES))
def test_gan_recipe_draws_samples_during_training_and_exports(tmp_path, name, recipe):
    code, out, err = recipe(name, "--epochs", "2", "--limit", "256", "--out", tmp_path / "out", "--seed", "1",
                            "--latent-dim", "16", "--sample-every", "1", "--tensorboard", tmp_path / "tb",
                            "--metric-samples", "300", *GAN_RECIPES[name])
    assert code == 0, err[-3000:]
    assert ("d_gen:" if name == "xicfg" else "step - d_fake:") in out  # Keras' progress bar
    line = next(printed for printed in out.splitlines() if printed.startswith("sample diversity: "))
    assert 0.0 < float(line.split()[2]) < 2.0 and "2 epochs on 256 train images" in line
    quality = out[out.index("sample quality: FID "):]
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
    assert (export / "saved_model.pb").exists() and "exported for TF-Serving to" in out
    if name == "wgan_gp":
        assert (gan.gan_loss, gan.d_steps) == ("wasserstein", 2)
    if name == "dcgan":  # --preset radford with flags over it
        assert (gan.gan_loss, gan.ema, gan.r1_weight) == ("hinge", 0.9, 0.5)
        assert float(gan.d_optimizer.learning_rate) == pytest.approx(3e-4)
        assert float(gan.g_optimizer.beta_1) == pytest.approx(0.5)  # the preset's
        assert isinstance(gan.discriminator.get_layer("discriminator_conv_0"), SpectralConv2D)
        assert isinstance(gan.discriminator.get_layer("discriminator_extra_conv_0"), SpectralConv2D)
        assert gan.generator.get_layer("generator_extra_conv_0").kernel_size == (3, 3)
        assert isinstance(gan.discriminator.get_layer("discriminator_minibatch_stddev"), MinibatchStddev)
        assert gan.generator.get_layer("generator_deconv_0").dtype_policy.name == "mixed_bfloat16"
        assert "precision mixed_bfloat16" in line
        assert "loss hinge, d_steps 1, r1_weight 0.5, ema 0.9, d_learning_rate 0.0003" in line
    if name == "conditional_gan":
        assert gan.auxiliary_classifier and gan.class_weight == 0.5
    if name == "xicfg":
        assert gan.stages == 2 and int(gan.episode.numpy()) == 4  # 8 steps of 64 images: 4 episodes of 2 stages
        assert (tmp_path / "out" / "approximator_samples.png").stat().st_size > 5000


def test_gan_recipe_rejects_bad_flags(tmp_path, recipe):
    code, _, err = recipe("dcgan", "--loss", "wgan")
    assert code == 2 and "invalid choice: 'wgan'" in err
    code, _, err = recipe("dcgan", "--d-steps", "0")
    assert code == 2 and "expected an integer >= 1, got 0" in err
    code, _, err = recipe("dcgan", "--extra-layers", "-1")
    assert code == 2 and "expected an integer >= 0, got -1" in err
    code, _, err = recipe("dcgan", "--precision", "bfloat16")
    assert code == 2 and "invalid choice: 'bfloat16'" in err
    code, _, err = recipe("dcgan", "--ema", "1.5", "--out", tmp_path)
    assert code == 1 and "error: --ema must be 0 (off) or a decay in (0, 1)" in err
    code, _, err = recipe("dcgan", "--preset", "goodfellow")
    assert code == 2 and "invalid choice: 'goodfellow' (choose from 'default', 'radford')" in err
    code, _, err = recipe("wgan_gp", "--beta-1", "1", "--out", tmp_path)
    assert code == 1 and "error: --beta-1 must be in [0, 1), got 1.0" in err
    code, _, err = recipe("dcgan", "--r1-weight", "-1")
    assert code == 2 and "expected a number >= 0, got -1" in err
    code, _, err = recipe("conditional_gan", "--auxiliary-classifier", "--r1-weight", "1", "--out", tmp_path)
    assert code == 1 and "error: r1_weight must be 0 with a discriminator with a class head" in err
    code, _, err = recipe("xicfg", "--eta", "0", "--out", tmp_path)
    assert code == 1 and "error: eta must be a number > 0" in err


@pytest.mark.parametrize("family", ["gan", "dcgan", "conditional_gan", "wgan_gp"])
def test_gan_recipes_train_at_their_presets_batch_unless_batch_size_is_given(family):
    from keras_gen.gan import PRESETS
    from keras_gen.recipes._common import add_gan_flags, gan_settings, recipe_parser

    parser = add_gan_flags(recipe_parser("doc", family, epochs=1, latent_dim=100, batch_size=None), family)
    for preset, settings in PRESETS[family].items():
        args = parser.parse_args(["--preset", preset])
        assert args.batch_size is None and gan_settings(args, family)["batch_size"] == settings["batch_size"]
        assert args.batch_size == settings["batch_size"], (family, preset)
        args = parser.parse_args(["--preset", preset, "--batch-size", "48"])
        assert gan_settings(args, family)["batch_size"] == args.batch_size == 48, (family, preset)


AUTOREGRESSIVE_RECIPES = {  # tiny networks; the defaults are measured in the README
    "pixelcnn": (["--filters", "8", "--layers", "1", "--conditional", "--architecture", "gated"], "v1_f"),
    "pixelrnn": (["--hidden", "4", "--layers", "1", "--kind", "diagonal_bilstm"], "diag0_r2l"),
}


@pytest.mark.parametrize("name", sorted(AUTOREGRESSIVE_RECIPES))
def test_autoregressive_recipe_prints_the_exact_nll_and_exports(tmp_path, name, recipe):
    flags, layer = AUTOREGRESSIVE_RECIPES[name]
    code, out, err = recipe(name, "--epochs", "1", "--limit", "256", "--samples", "10", "--out", tmp_path / "out",
                            "--seed", "1", *flags)
    assert code == 0, err[-3000:]
    line = next(printed for printed in out.splitlines() if printed.startswith("test NLL: "))
    assert "mean over 2000 mnist test images" in line and "binarized: static" in line and "bits/dim" in line
    assert 60 < float(line.split()[2]) < 600, line
    assert (tmp_path / "out" / "samples.png").stat().st_size > 5000
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert model.num_classes == (10 if "--conditional" in flags else None) and model.network.get_layer(layer)
    assert (tmp_path / "saved_models" / name / "1" / "saved_model.pb").exists()
