"""WGAN-GP (Gulrajani et al. 2017): a critic scores images with an unbounded number; the
Wasserstein loss E[D(fake)] - E[D(real)] plus a gradient penalty 10 * (||grad D(x_hat)|| - 1)^2
at points x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per image. DCGAN networks
without batch norm in the critic, five critic updates per generator update, and
Adam(1e-4, beta_1=0, beta_2=0.9), as in the paper's Algorithm 1.

    python recipes/wgan_gp.py                                # bundled MNIST, no network
    python recipes/wgan_gp.py --dataset fashion_mnist --epochs 10
    python recipes/wgan_gp.py --d-steps 3

The critic's loss is the negative Wasserstein estimate plus the penalty: it falls
below 0 and its size, not its sign, tracks sample quality.

Writes to --out: samples_epoch_NNN.png, samples.png, interpolation.png,
training_curves.png, model.keras; and exports the generator (z -> image in [0, 1]) to
saved_models/wgan_gp/<next version>/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from keras_gen import build_wgan_gp
from keras_gen.recipe_tools import add_gan_flags, finish_gan, gan_callbacks, gan_compile_args, prepare, recipe_parser


def main(argv=None):
    parser = add_gan_flags(recipe_parser(__doc__, "wgan_gp", epochs=10, latent_dim=100, batch_size=64),
                           loss="wasserstein", d_steps=5)
    parser.add_argument("--filters", type=int, default=64, help="width of the critic's first layer (default: 64)")
    parser.add_argument("--gp-weight", type=float, default=10.0, help="gradient penalty weight (default: 10)")
    args = parser.parse_args(argv)
    compile_args = gan_compile_args(args)
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))

    gan = build_wgan_gp(data.image_shape, latent_dim=args.latent_dim, filters=args.filters, seed=args.seed,
                        gp_weight=args.gp_weight, **compile_args)
    gan.generator.summary()
    gan.discriminator.summary()
    callbacks, stop = gan_callbacks(args, gan, data)
    history = gan.fit(data.train, epochs=args.epochs, callbacks=callbacks)
    return finish_gan(gan, history, stop, data, args, "wgan_gp")


if __name__ == "__main__":
    main()
