"""WGAN-GP (Gulrajani et al. 2017): a critic scores images with an unbounded number; the
Wasserstein loss E[D(fake)] - E[D(real)] plus a gradient penalty 10 * (||grad D(x_hat)|| - 1)^2
at points x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per image, on DCGAN networks
without batch norm in the critic.

    python recipes/wgan_gp.py                                # bundled MNIST, no network
    python recipes/wgan_gp.py --dataset fashion_mnist --epochs 10
    python recipes/wgan_gp.py --d-steps 5 --learning-rate 1e-4 --beta-1 0 --filters 64   # the paper's Algorithm 1

The defaults are set for a few minutes on a CPU: 3 critic updates per generator update,
Adam(2e-4, beta_1=0.5, beta_2=0.9) (as keras.io's WGAN-GP example) and 32 filters. With
the paper's settings (5 updates, Adam(1e-4, 0, 0.9), which build_wgan_gp uses by
default) the samples were still unrecognisable blobs after 5 epochs on 8,000 images.

The critic's loss is the negative Wasserstein estimate plus the penalty: it falls
below 0 and its size, not its sign, tracks sample quality.

Writes to --out: samples_epoch_NNN.png, samples.png, interpolation.png,
training_curves.png, model.keras; and exports the generator (z -> image in [0, 1]) to
saved_models/wgan_gp/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import keras

from keras_gen import build_wgan_gp
from keras_gen.recipes._common import add_gan_flags, finish_gan, fit_gan, gan_compile_args, prepare, recipe_parser


def main(argv=None):
    parser = add_gan_flags(recipe_parser(__doc__, "wgan_gp", epochs=10, latent_dim=100, batch_size=64),
                           loss="wasserstein", d_steps=3)
    parser.add_argument("--filters", type=int, default=32, help="width of the critic's first layer (default: 32)")
    parser.add_argument("--gp-weight", type=float, default=10.0, help="gradient penalty weight (default: 10)")
    parser.add_argument("--learning-rate", type=float, default=2e-4, help="Adam's learning rate, both networks")
    parser.add_argument("--beta-1", type=float, default=0.5, help="Adam's beta_1 (beta_2 is 0.9), both networks")
    args = parser.parse_args(argv)
    compile_args = gan_compile_args(args)
    adam = lambda: keras.optimizers.Adam(args.learning_rate, beta_1=args.beta_1, beta_2=0.9)  # noqa: E731
    compile_args.update(d_optimizer=adam(), g_optimizer=adam())
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))

    gan = build_wgan_gp(data.image_shape, latent_dim=args.latent_dim, filters=args.filters, seed=args.seed,
                        gp_weight=args.gp_weight, **compile_args)
    history, stop = fit_gan(gan, data, args)
    return finish_gan(gan, history, stop, data, args)


if __name__ == "__main__":
    main()
