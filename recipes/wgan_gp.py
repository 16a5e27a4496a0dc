"""WGAN-GP (Gulrajani et al. 2017): a critic scores images with an unbounded number; the
Wasserstein loss E[D(fake)] - E[D(real)] plus a gradient penalty 10 * (||grad D(x_hat)|| - 1)^2
at points x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per image, on DCGAN networks
without batch norm in the critic.

    python recipes/wgan_gp.py                                # bundled MNIST, no network
    python recipes/wgan_gp.py --dataset fashion_mnist --epochs 10
    python recipes/wgan_gp.py --preset gulrajani            # the paper's Algorithm 1

Defaults (``--preset default``, chosen by benchmarks/gan_study.py for CPU training): 32
filters, one critic update per generator update, Adam(beta_1=0, beta_2=0.9) with 1.6e-3
for the critic and 4e-4 for the generator (two time scales), and samples from an EMA of the
generator's weights. The settings this recipe had before (``--d-steps 3
--d-learning-rate 2e-4 --g-learning-rate 2e-4 --beta-1 0.5 --ema 0``) scored held-out
Fashion-MNIST FID 72.7 after 600 s of CPU training where these score 28.5 (the README's
study). ``--preset gulrajani``: the paper's Algorithm 1 (5 critic updates, Adam(1e-4, 0,
0.9), 64 filters).

The critic's loss is the negative Wasserstein estimate plus the penalty: it falls
below 0 and its size, not its sign, tracks sample quality.

Writes to --out: samples_epoch_NNN.png, samples.png, interpolation.png,
training_curves.png, model.keras; and exports the generator (z -> image in [0, 1]) to
saved_models/wgan_gp/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_wgan_gp
from keras_gen.gan import describe_settings, settings_arguments
from keras_gen.recipes._common import (
    add_gan_flags,
    finish_gan,
    fit_gan,
    gan_settings,
    prepare,
    recipe_parser,
)


def main(argv=None):
    parser = add_gan_flags(recipe_parser(__doc__, "wgan_gp", epochs=30, latent_dim=100, batch_size=None), "wgan_gp")
    args = parser.parse_args(argv)
    settings = gan_settings(args, "wgan_gp")
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))

    network, compile_args = settings_arguments(settings)
    gan = build_wgan_gp(data.image_shape, latent_dim=args.latent_dim, seed=args.seed, **network, **compile_args)
    history, stop = fit_gan(gan, data, args)
    return finish_gan(gan, history, stop, data, args, describe_settings(settings))

if __name__ == "__main__":
    main()
