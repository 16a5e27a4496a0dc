"""The original GAN (Goodfellow et al. 2014) with multilayer perceptrons: the generator maps
z ~ N(0, I) through Dense layers to a tanh image; the discriminator mirrors it down to one
logit. The default loss is the non-saturating one (the "log D trick"); --loss minimax is
the paper's original log(1 - D(G(z))) objective, which gives the generator almost no
gradient early on.

    python recipes/gan.py                                    # bundled MNIST, no network
    python recipes/gan.py --dataset fashion_mnist --epochs 30
    python recipes/gan.py --loss least_squares --d-steps 2

Writes to --out: samples_epoch_NNN.png (fixed noise, every --sample-every epochs),
samples.png, interpolation.png, training_curves.png, model.keras; and exports the
generator (z -> image in [0, 1]) to saved_models/gan/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_gan
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
    parser = add_gan_flags(recipe_parser(__doc__, "gan", epochs=60, latent_dim=100, batch_size=None), "gan",
                           sample_every=10)
    args = parser.parse_args(argv)
    settings = gan_settings(args, "gan")
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))

    network, compile_args = settings_arguments(settings)
    gan = build_gan(data.image_shape, latent_dim=args.latent_dim, seed=args.seed, **network, **compile_args)
    history, stop = fit_gan(gan, data, args)
    return finish_gan(gan, history, stop, data, args, describe_settings(settings))


if __name__ == "__main__":
    main()
